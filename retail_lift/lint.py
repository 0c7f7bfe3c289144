"""The project's own layer checks over a dbt manifest (``make lint`` runs them after ``dbt parse``).

    python -m retail_lift.lint target/manifest.json

Rules (a model's layer is its folder):

* ``staging`` (``models/staging``) reads only sources, seeds and other staging models;
* ``intermediate`` (``models/intermediate``) never reads marts, ML or evaluation models;
* ``fct_`` and ``dim_`` models never read a Python model, nor any ML or evaluation model: facts and
  dimensions come from the data, scores come after them;
* only ``evaluation`` models (``python_models/evaluation``, ``models/marts/evaluation``) read the simulated
  world's truth (the ``simulation`` source and the ``stg_simulation__*`` models that type it);
* names follow the layer: ``stg_``/``base_`` in staging, ``int_`` in intermediate, ``fct_``/``dim_``/``rpt_``
  in marts, ``ml_`` in ``python_models``.

``KNOWN_VIOLATIONS`` lists the edges that break a rule today, each with the reason and the change that
removes it; a violation not in it fails the check, and so does an entry that no longer occurs (so the
list only shrinks).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = ["KNOWN_VIOLATIONS", "layer_of", "layer_violations", "main"]

LAYERS = (
    ("models/staging/", "staging"),
    ("models/intermediate/", "intermediate"),
    ("models/marts/evaluation/", "evaluation"),
    ("models/marts/", "marts"),
    ("python_models/ml/", "ml"),
    ("python_models/evaluation/", "evaluation"),
)
PREFIXES = {"staging": ("stg_", "base_"), "intermediate": ("int_",), "marts": ("fct_", "dim_", "rpt_"),
            "ml": ("ml_",), "evaluation": ("ml_", "rpt_")}
TRUTH_SOURCE = "simulation"
TRUTH_MODEL_PREFIX = "stg_simulation__"

#: (model, what it reads) -> why it is allowed today and what removes it. Empty since issue 22 (one
#: point-in-time feature model, bandit report tables renamed rpt_): keep it so.
KNOWN_VIOLATIONS: dict[tuple[str, str], str] = {}


def layer_of(node: Mapping) -> str | None:
    path = node.get("original_file_path", "")
    return next((layer for prefix, layer in LAYERS if path.startswith(prefix)), None)


def _edge_problem(node: Mapping, layer: str | None, dep: Mapping, dep_layer: str | None) -> str | None:
    name = node["name"]
    if dep["resource_type"] == "source":
        if dep["source_name"] == TRUTH_SOURCE and layer != "evaluation" and not name.startswith(TRUTH_MODEL_PREFIX):
            return "reads the simulated truth outside the evaluation layer"
        return None
    if dep["resource_type"] != "model":
        return None
    if dep["name"].startswith(TRUTH_MODEL_PREFIX) and layer != "evaluation":
        return "reads the simulated truth outside the evaluation layer"
    if layer == "staging" and dep_layer != "staging":
        return f"staging reads a {dep_layer} model"
    if layer == "intermediate" and dep_layer in ("marts", "ml", "evaluation"):
        return f"intermediate reads a {dep_layer} model"
    if name.startswith(("fct_", "dim_")) and (dep.get("language") == "python" or dep_layer in ("ml", "evaluation")):
        return "a fact or dimension reads " + ("a Python model" if dep.get("language") == "python"
                                               else f"a {dep_layer} model")
    return None


def layer_violations(manifest: Mapping) -> tuple[list[str], list[str]]:
    """``(violations, stale_allowances)``: rule breaks not in ``KNOWN_VIOLATIONS``, and allowances that no
    longer occur. Both empty: the manifest is clean."""
    nodes, sources = manifest["nodes"], manifest.get("sources", {})
    found: set[tuple[str, str]] = set()
    problems = []
    for node in nodes.values():
        if node["resource_type"] != "model" or node.get("package_name") not in (None, manifest["metadata"].get(
                "project_name"), "retail_lift"):
            continue
        layer = layer_of(node)
        name = node["name"]
        if layer and not name.startswith(PREFIXES[layer]):
            problems.append(f"{name}: a {layer} model must be named {' or '.join(p + '*' for p in PREFIXES[layer])}")
        for uid in node["depends_on"]["nodes"]:
            dep = nodes.get(uid) or sources.get(uid)
            if dep is None:
                continue
            why = _edge_problem(node, layer, dep, layer_of(dep) if dep["resource_type"] == "model" else None)
            if why is None:
                continue
            dep_name = dep["name"]
            if (name, dep_name) in KNOWN_VIOLATIONS:
                found.add((name, dep_name))
                continue
            problems.append(f"{name} <- {dep_name}: {why} ({node['original_file_path']})")
    stale = [f"{a} <- {b}: listed in KNOWN_VIOLATIONS but no longer occurs; remove it"
             for a, b in sorted(set(KNOWN_VIOLATIONS) - found)]
    return sorted(problems), stale


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0] if args else "target/manifest.json")
    if not path.exists():
        print(f"retail_lift.lint: {path} not found: run `dbt parse` first", file=sys.stderr)
        return 2
    problems, stale = layer_violations(json.loads(path.read_text()))
    for line in problems + stale:
        print(line)
    print(f"dbt layer checks: {len(problems)} violation(s), {len(stale)} stale allowance(s), "
          f"{len(KNOWN_VIOLATIONS) - len(stale)} known violation(s) listed in retail_lift/lint.py")
    return 1 if problems or stale else 0


if __name__ == "__main__":
    sys.exit(main())

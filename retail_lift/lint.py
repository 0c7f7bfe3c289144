"""The project's own layer checks over a dbt manifest (``make lint`` runs them after ``dbt parse``).

    python -m retail_lift.lint target/manifest.json [project folder, default: the current one]

Rules (a model's layer is its folder):

* ``staging`` (``models/staging``) reads only sources, seeds and other staging models;
* ``intermediate`` (``models/intermediate``) never reads marts, ML or evaluation models;
* ``fct_`` and ``dim_`` models never read a Python model, nor any ML or evaluation model: facts and
  dimensions come from the data, scores come after them;
* only ``evaluation`` models (``python_models/evaluation``, ``models/marts/evaluation``) read the simulated
  world's truth (the ``simulation`` source and the ``stg_simulation__*`` models that type it);
* names follow the layer: ``stg_``/``base_`` in staging, ``int_`` in intermediate, ``fct_``/``dim_``/``rpt_``
  in marts, ``ml_`` in ``python_models``;
* a column description is written once: a literal description (one without a ``{{ doc() }}`` reference) found on
  two or more columns of the project's yml files (model and source columns; a YAML alias is one place, not a
  copy) is reported with its files and columns. Make it one ``{% docs col__<column> %}`` block (in
  ``models/_shared_columns__docs.md``, or the area's ``_<area>__docs.md`` when all its columns are in one area;
  a contract column passed through unchanged uses its ``contract__<table>__<column>`` block) and reference it
  with ``{{ doc("col__<column>") }}``. The manifest holds the descriptions rendered, so this rule reads the yml
  files the manifest names (``patch_path`` of the models, the sources' files), relative to the project folder.

``KNOWN_VIOLATIONS`` lists the edges that break a rule today, each with the reason and the change that
removes it; a violation not in it fails the check, and so does an entry that no longer occurs (so the
list only shrinks).
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import yaml

__all__ = ["KNOWN_VIOLATIONS", "copied_descriptions", "layer_of", "layer_violations", "main",
           "manifest_yml_files"]

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


def _get(mapping: yaml.Node, key: str) -> yaml.Node | None:
    if not isinstance(mapping, yaml.MappingNode):
        return None
    return next((v for k, v in mapping.value if isinstance(k, yaml.ScalarNode) and k.value == key), None)


def _items(node: yaml.Node | None) -> list[yaml.Node]:
    return node.value if isinstance(node, yaml.SequenceNode) else []


def _column_descriptions(root: yaml.Node | None) -> Iterator[tuple[str, str, yaml.ScalarNode]]:
    """``(owner, column, description node)`` of every model and source column of a composed yml file."""
    def columns(owner: str, node: yaml.Node) -> Iterator[tuple[str, str, yaml.ScalarNode]]:
        for col in _items(_get(node, "columns")):
            name, desc = _get(col, "name"), _get(col, "description")
            if isinstance(name, yaml.ScalarNode) and isinstance(desc, yaml.ScalarNode):
                yield owner, name.value, desc

    for model in _items(_get(root, "models")):
        name = _get(model, "name")
        yield from columns(name.value if isinstance(name, yaml.ScalarNode) else "?", model)
    for source in _items(_get(root, "sources")):
        source_name = _get(source, "name")
        for table in _items(_get(source, "tables")):
            table_name = _get(table, "name")
            owner = f"{getattr(source_name, 'value', '?')}.{getattr(table_name, 'value', '?')}"
            yield from columns(owner, table)


def copied_descriptions(yml_files: Mapping[str, str]) -> list[str]:
    """One line per literal column description (no ``{{ doc() }}`` in it) written on two or more columns of
    ``yml_files`` (path -> text): the text, and each ``file: model.column`` it is on. Empty: every shared text
    is a doc block. A description reached through a YAML alias is counted once, where it is written."""
    places: dict[str, dict[tuple[str, int], list[str]]] = defaultdict(dict)
    for path, text in sorted(yml_files.items()):
        for owner, column, node in _column_descriptions(yaml.compose(text)):
            description = " ".join(node.value.split())
            if not description or "doc(" in description:
                continue
            places[description].setdefault((path, node.start_mark.line), []).append(f"{owner}.{column}")
    problems = []
    for description, where in sorted(places.items()):
        if len(where) < 2:
            continue
        by_file: dict[str, list[str]] = defaultdict(list)
        for (path, line), columns in sorted(where.items()):
            by_file[path].append(f"{'/'.join(columns)} (line {line + 1})")
        shown = description if len(description) <= 80 else description[:77] + "..."
        problems.append(f"description copied onto {len(where)} columns, make it one doc block: \"{shown}\": "
                        + "; ".join(f"{path}: {', '.join(cols)}" for path, cols in by_file.items()))
    return problems


def manifest_yml_files(manifest: Mapping) -> list[str]:
    """The project's yml files that describe models or sources, as the manifest names them (project-relative)."""
    project = manifest["metadata"].get("project_name")
    files = set()
    for node in manifest["nodes"].values():
        if node.get("resource_type") == "model" and node.get("package_name") in (None, project, "retail_lift"):
            if node.get("patch_path"):
                files.add(node["patch_path"].split("://", 1)[-1])
    for source in manifest.get("sources", {}).values():
        if source.get("package_name") in (None, project, "retail_lift") and source.get("original_file_path"):
            files.add(source["original_file_path"])
    return sorted(files)


def _read(root: Path, paths: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    texts, missing = {}, []
    for rel in paths:
        path = root / rel
        if path.exists():
            texts[rel] = path.read_text()
        else:
            missing.append(f"{rel}: named in the manifest but not found under {root} (run from the project folder)")
    return texts, missing


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0] if args else "target/manifest.json")
    if not path.exists():
        print(f"retail_lift.lint: {path} not found: run `dbt parse` first", file=sys.stderr)
        return 2
    manifest = json.loads(path.read_text())
    problems, stale = layer_violations(manifest)
    for line in problems + stale:
        print(line)
    print(f"dbt layer checks: {len(problems)} violation(s), {len(stale)} stale allowance(s), "
          f"{len(KNOWN_VIOLATIONS) - len(stale)} known violation(s) listed in retail_lift/lint.py")
    texts, missing = _read(Path(args[1]) if len(args) > 1 else Path.cwd(), manifest_yml_files(manifest))
    copies = copied_descriptions(texts)
    for line in missing + copies:
        print(line)
    print(f"column descriptions: {len(copies)} literal text(s) copied onto 2+ columns, in {len(texts)} yml file(s)"
          + (f", {len(missing)} yml file(s) not found" if missing else ""))
    return 1 if problems or stale or copies or missing else 0


if __name__ == "__main__":
    sys.exit(main())

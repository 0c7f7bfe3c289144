"""The package layers of issue 22 (import-linter, ``[tool.importlinter]`` of pyproject.toml, run by ``make lint``).

* the contracts name every top-level module, so a new one cannot slip past "only evaluation imports the world";
* no ignored import is left (the bandit simulation moved to ``retail_lift.evaluation``);
* the contracts really catch a family that imports the world or the evaluation layer: they are run on a
  throw-away package with the same layout, once clean and once with each forbidden import added;
* the project itself keeps them.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import retail_lift

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(retail_lift.__file__).parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
#: may import the world: the evaluation layer, the world itself and the command line that generates worlds
WORLD_READERS = {"retail_lift.evaluation", "retail_lift.world", "retail_lift.cli"}
FAMILIES = ["bandit", "campaign", "clv", "crosssell", "experiments", "predict", "segments", "uplift", "validation"]


def _config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]


def _contract(name_start: str) -> dict:
    found = [c for c in _config()["contracts"] if c["name"].startswith(name_start)]
    assert len(found) == 1, f"no single contract named {name_start!r}"
    return found[0]


def _top_level_modules() -> set[str]:
    names = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    names |= {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    return {f"retail_lift.{n}" for n in names}


def test_every_top_level_module_but_the_world_readers_is_kept_from_the_world():
    contract = _contract("Only the evaluation layer")
    assert contract["forbidden_modules"] == ["retail_lift.world"]
    assert "allow_indirect_imports" not in contract  # an import through another module counts too
    sources = set(contract["source_modules"])
    missing = _top_level_modules() - WORLD_READERS - {"retail_lift._click"} - sources
    assert not missing, f"add to the contract (or to WORLD_READERS, with a reason): {sorted(missing)}"
    assert not sources & WORLD_READERS


def test_families_are_kept_from_the_world_and_the_evaluation_with_no_exception():
    contract = _contract("Model families never import the simulated world")
    assert set(contract["forbidden_modules"]) == {"retail_lift.world", "retail_lift.evaluation"}
    assert {f"retail_lift.{f}" for f in FAMILIES} <= set(contract["source_modules"])
    assert all(not c.get("ignore_imports") for c in _config()["contracts"])


def _fake_package(tmp_path: Path, extra_imports: dict[str, str]) -> Path:
    """A package ``fakelift`` with every module the contracts name (empty), plus ``extra_imports``
    (module -> the module it imports), and the project's contracts renamed to it."""
    text = (ROOT / "pyproject.toml").read_text()
    section = text[text.index("\n[tool.importlinter]\n") + 1:]
    section = section[:m.start()] if (m := re.search(r"\n\[(?!\[?tool\.importlinter)", section)) else section
    section = section.replace("retail_lift", "fakelift")
    modules = set(re.findall(r'"(fakelift(?:\.\w+)*)"', section))
    for module in modules | set(extra_imports) | set(extra_imports.values()):
        path = tmp_path.joinpath(*module.split("."))
        path.mkdir(parents=True, exist_ok=True)
        (path / "__init__.py").touch()
    for module, target in extra_imports.items():
        (tmp_path.joinpath(*module.split(".")) / "__init__.py").write_text(f"import {target}\n")
    config = tmp_path / "importlinter.toml"
    config.write_text(section)
    return config


def _lint(tmp_path: Path, config: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--config", str(config), "--no-cache"], cwd=tmp_path,
                          capture_output=True, text=True, env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})


def test_the_contracts_pass_on_the_allowed_imports(tmp_path):
    config = _fake_package(tmp_path, {"fakelift.evaluation.bandit_simulation": "fakelift.world.truth",
                                      "fakelift.evaluation.uplift": "fakelift.uplift",
                                      "fakelift.world.truth": "fakelift.world.generate",
                                      "fakelift.cli": "fakelift.world",
                                      "fakelift.tables.segments": "fakelift.segments",
                                      "fakelift.tables": "fakelift.settings",
                                      "fakelift.evaluation.clv": "fakelift.settings",
                                      "fakelift.predict.champion": "fakelift.registry",
                                      "fakelift.tables.predict": "fakelift.registry"})
    out = _lint(tmp_path, config)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "6 kept, 0 broken" in out.stdout


@pytest.mark.parametrize(("module", "target", "contract"), [
    ("fakelift.bandit.simulate", "fakelift.world.truth", "Model families never import the simulated world"),
    ("fakelift.uplift.pipeline", "fakelift.evaluation", "Model families never import the simulated world"),
    ("fakelift.frames", "fakelift.evaluation", "Model families never import the simulated world"),
    ("fakelift.dashboard.data", "fakelift.world", "Only the evaluation layer"),
    ("fakelift.world.generate", "fakelift.bandit", "The simulated world knows nothing"),
    ("fakelift.segments", "fakelift.tables.segments", "The table layer sits above the families"),
    ("fakelift.tables.segments", "fakelift.world", "Only the evaluation layer"),
    ("fakelift.settings", "fakelift.tables", "The table layer sits above the families"),
    ("fakelift.evaluation.clv", "fakelift.tables", "The table layer sits above the families"),
    ("fakelift.settings", "fakelift.evaluation", "Model families never import the simulated world"),
    ("fakelift.registry.store", "fakelift.tables", "The model registry knows nothing"),
    ("fakelift.registry.decision", "fakelift.predict", "The model registry knows nothing"),
    ("fakelift.registry", "fakelift.world", "Only the evaluation layer"),
])
def test_the_contracts_catch_a_forbidden_import(tmp_path, module, target, contract):
    out = _lint(tmp_path, _fake_package(tmp_path, {module: target}))
    assert out.returncode != 0
    broken = out.stdout[out.stdout.index("Broken contracts"):]
    assert contract.replace(" ", "") in broken.replace(" ", "").replace("\n", "")
    assert f"{module} -> {target}" in broken


def test_the_project_keeps_its_import_contracts():
    out = subprocess.run([str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml")], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "6 kept, 0 broken" in out.stdout


def _retail_lift_imports(path: Path) -> list[str]:
    import ast

    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == "retail_lift"]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "retail_lift":
            found.append(node.module)
    return found


@pytest.mark.parametrize("folder, layer", [("ml", "retail_lift.tables"), ("evaluation", "retail_lift.evaluation")])
def test_dbt_python_models_import_only_their_layer(folder, layer):
    """A dbt Python model of python_models/ml/ is a thin call of the table layer; one of python_models/evaluation/
    of the evaluation layer: neither reaches into the families (docs/architecture.md, Layers of the package)."""
    models = sorted((ROOT / "python_models" / folder).rglob("*.py"))
    assert models
    wrong = {str(p.relative_to(ROOT)): m for p in models for m in _retail_lift_imports(p)
             if m != layer and not m.startswith(layer + ".")}
    assert not wrong, f"dbt Python models importing outside {layer}: {wrong}"
    assert all(_retail_lift_imports(p) for p in models), "a dbt Python model that imports nothing of its layer"

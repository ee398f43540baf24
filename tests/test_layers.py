"""The layer plan (README, Development) holds: every import inside synthclf points down or sideways
within its own package, never up, and the stage packages do not import each other.

Read from the source with `ast`, so lazy imports inside functions count as much as top-level ones.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from import_graph import PACKAGE, module_name, modules, raw_imports

# Lowest first. A module may import its own layer's shared modules and anything in a lower layer.
LAYERS: list[set[str]] = [
    {"errors", "schema", "paths", "records", "resources", "interrupts", "assets", "text", "scoring", "statistics",
     "metrics"},
    {"settings", "config"},             # settings/: one model per params section; config.py composes and loads
    {"tasks"},
    {"generation", "validation", "training"},   # the stages: peers, they never import each other
    {"analysis"},
    {"cli"},
]
STAGE_PACKAGES = {"generation", "validation", "training"}


def unit_of(module: str) -> str:
    """synthclf.settings.train -> settings; synthclf.text.normalize -> text; synthclf.cli -> cli."""
    parts = module.split(".")[1:]
    return parts[0] if parts else ""


def layer_of(unit: str) -> int:
    return next(index for index, units in enumerate(LAYERS) if unit in units)


def imports_of(path: Path) -> set[str]:
    """Every synthclf module a file imports: absolute, relative and `importlib` imports, top level or lazy."""
    return raw_imports(path, set(modules(path_src(path))), src=path_src(path))


def path_src(path: Path) -> Path:
    """The folder holding the `synthclf` package a file belongs to."""
    return next(parent.parent for parent in path.parents if parent.name == "synthclf")


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_the_modules_are_found():
    """An empty module list would make every check below pass vacuously."""
    names = {module_name(path) for path in MODULES}
    assert len(MODULES) >= 40, f"found only {len(MODULES)} modules under {PACKAGE}"
    assert {"synthclf.cli", "synthclf.config", "synthclf.tasks.prepare", "synthclf.training.train"} <= names
    assert sum(len(imports_of(path)) for path in MODULES) >= 100


def test_every_package_has_a_layer():
    units = {unit_of(module_name(path)) for path in MODULES} - {""}
    assert units <= set().union(*LAYERS), f"add {sorted(units - set().union(*LAYERS))} to LAYERS and README"


def wrong_imports(path: Path) -> list[str]:
    """The imports of one module that point up a layer, or from one stage package into another."""
    importer = module_name(path)
    if importer == "synthclf":
        return []
    source_unit = unit_of(importer)
    wrong = []
    for imported in imports_of(path):
        target_unit = unit_of(imported)
        if target_unit in (source_unit, ""):   # "": the synthclf package itself (its __init__)
            continue
        if layer_of(target_unit) > layer_of(source_unit):
            wrong.append(f"{imported} (layer {layer_of(target_unit)} > {layer_of(source_unit)})")
        elif {source_unit, target_unit} <= STAGE_PACKAGES:
            wrong.append(f"{imported} (a stage package importing another)")
    return wrong


@pytest.mark.parametrize("path", MODULES, ids=lambda path: module_name(path))
def test_imports_point_down(path):
    wrong = wrong_imports(path)
    assert not wrong, f"{module_name(path)} imports upward: {wrong}"


def test_the_import_graph_has_no_upward_arrow():
    """The whole graph at once, with no module exempt: every params section is a module of settings/
    (a unit like any other in the config layer), so config.py imports nothing above it."""
    upward = [f"{module_name(path)} -> {arrow}" for path in MODULES for arrow in wrong_imports(path)]
    assert len(upward) == 0, f"{len(upward)} upward imports: {upward}"


def test_the_rule_catches_an_upward_import(tmp_path):
    """The checker itself: a base module importing a stage is reported, however it imports it."""
    package = tmp_path / "synthclf"
    (package / "generation").mkdir(parents=True)
    for name in ("__init__.py", "generation/__init__.py", "generation/generate.py", "records.py"):
        (package / name).write_text("", encoding="utf-8")
    bad = package / "records.py"
    bad.write_text("def f():\n    from synthclf.generation import generate\n", encoding="utf-8")
    assert imports_of(bad) == {"synthclf.generation", "synthclf.generation.generate"}
    bad.write_text("from .generation import generate\n", encoding="utf-8")
    assert imports_of(bad) == {"synthclf.generation", "synthclf.generation.generate"}
    bad.write_text("import importlib\nstage = importlib.import_module('synthclf.generation.generate')\n",
                   encoding="utf-8")
    assert imports_of(bad) == {"synthclf.generation.generate"}
    assert layer_of(unit_of("synthclf.generation.generate")) > layer_of(unit_of("synthclf.records"))
    assert unit_of("synthclf.validation.settings") == "validation"   # no module name is special
    assert unit_of("synthclf.settings.validate") == "settings"

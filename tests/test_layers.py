"""The layer plan (README, Development) holds: every import inside synthclf points down or sideways
within its own package, never up, and the stage packages do not import each other.

Read from the source with `ast`, so lazy imports inside functions count as much as top-level ones.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "synthclf"

# Lowest first. A module may import its own layer's shared modules and anything in a lower layer.
LAYERS: list[set[str]] = [
    {"errors", "schema", "paths", "records", "resources", "interrupts", "assets", "text", "statistics", "metrics"},
    {"settings", "config"},             # every <package>/settings.py, and config.py that composes them
    {"tasks"},
    {"generation", "validation", "training"},   # the stages: peers, they never import each other
    {"analysis"},
    {"cli"},
]
STAGE_PACKAGES = {"generation", "validation", "training"}


def unit_of(module: str) -> str:
    """synthclf.generation.settings -> settings; synthclf.text.normalize -> text; synthclf.cli -> cli."""
    parts = module.split(".")[1:]
    if len(parts) >= 2 and parts[1] == "settings":
        return "settings"
    return parts[0] if parts else ""


def layer_of(unit: str) -> int:
    return next(index for index, units in enumerate(LAYERS) if unit in units)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every synthclf module a file imports (from-imports resolved to the module they name)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("synthclf"):
            if node.module == "synthclf":
                found |= {f"synthclf.{alias.name}" for alias in node.names}
            else:
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("synthclf.")}
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_package_has_a_layer():
    units = {unit_of(module_name(path)) for path in MODULES} - {""}
    assert units <= set().union(*LAYERS), f"add {sorted(units - set().union(*LAYERS))} to LAYERS and README"


@pytest.mark.parametrize("path", MODULES, ids=lambda path: module_name(path))
def test_imports_point_down(path):
    importer = module_name(path)
    if importer == "synthclf":
        return
    source_unit = unit_of(importer)
    wrong = []
    for imported in imports_of(path):
        target_unit = unit_of(imported)
        if target_unit == source_unit:
            continue
        if layer_of(target_unit) > layer_of(source_unit):
            wrong.append(f"{imported} (layer {layer_of(target_unit)} > {layer_of(source_unit)})")
        elif {source_unit, target_unit} <= STAGE_PACKAGES:
            wrong.append(f"{imported} (a stage package importing another)")
    assert not wrong, f"{importer} imports upward: {wrong}"


def test_the_rule_catches_an_upward_import(tmp_path):
    """The checker itself: a base module importing a stage is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from synthclf.generation import generate\n", encoding="utf-8")
    assert imports_of(bad) == {"synthclf.generation"}
    assert layer_of(unit_of("synthclf.generation.generate")) > layer_of(unit_of("synthclf.records"))
    assert unit_of("synthclf.validation.settings") == "settings"

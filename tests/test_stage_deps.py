"""A code change reruns every stage it affects: each dvc.yaml stage lists, as deps, every synthclf
module its command runs.

The modules a stage runs are the closure of its command's stage module over the import graph
(tests/import_graph.py: top-level and lazy imports, relative imports, `importlib.import_module` and
module names handed to it as strings, and the packages the modules live in). A dep covers a module
when it names the module's file or a folder above it. `dvc status` then sees any edit in a module a
stage imports, however indirectly.

Not deps, by design (EXEMPT, each with its reason): modules that decide only whether and how a
stage stops, never what it writes, and modules with no code (a docstring, constants nothing reads).
"""

from __future__ import annotations

import ast
import fnmatch
import re
from pathlib import Path

import pytest
import yaml

from import_graph import PACKAGE, SRC, closure, graph, imports_in, modules, raw_imports

REPO = SRC.parent
CLI = PACKAGE / "cli.py"

EXEMPT = {
    "synthclf.errors": "the exception class a failing stage raises; a stage that fails writes nothing",
    "synthclf.interrupts": "how a stage stops on a signal; a stopped stage leaves no output behind",
    "synthclf.resources": "threads and device: runtime knobs, like params.yaml's resources section, which no "
                          "stage tracks (README: Configuration)",
    "synthclf.schema": "whether unknown params/card keys are errors; a rejected file stops the stage first",
    "synthclf.generation.limits": "token-bucket rate limits: when calls are made, never what they return",
}


def inert(path: Path) -> bool:
    """A module with no code: a docstring, `from __future__` and constant assignments that no stage reads."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            continue
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) \
                and all(isinstance(target, ast.Name) and target.id.startswith("__") for target in node.targets):
            continue
        return False
    return True


def load_stages() -> dict[str, dict]:
    """stage name -> {cmd, deps}, foreach stages read from their `do` block."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    return {name: stage.get("do", stage) for name, stage in stages.items()}


def command_functions() -> dict[str, ast.FunctionDef]:
    """cli.py's `@app.command()` functions by command name."""
    found = {}
    for node in ast.parse(CLI.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef) and any(
                isinstance(decorator, ast.Call) and getattr(decorator.func, "attr", "") == "command"
                for decorator in node.decorator_list):
            found[node.name] = node
    return found


def stage_modules(command: str) -> set[str]:
    """The synthclf modules a CLI command's function imports: the stage module it runs."""
    found = imports_in(command_functions()[command], "synthclf.cli", False, set(modules()))
    assert found, f"synthclf {command}: its function in cli.py imports no stage module"
    return found


def stage_command(cmd: str) -> str:
    match = re.match(r"synthclf (\w+)\b", cmd)
    assert match, f"stage command {cmd!r} is not `synthclf <command> ...`"
    return match.group(1)


def module_file(name: str) -> Path:
    return modules()[name]


def covered(path: Path, deps: list[str]) -> bool:
    """A dep names the file or a folder above it; ${...} in a dep matches any one path part."""
    relative = path.relative_to(REPO).as_posix()
    for dep in deps:
        pattern = re.sub(r"\$\{[^}]+\}", "*", dep.split("#")[0].strip()).rstrip("/")
        if fnmatch.fnmatchcase(relative, pattern) or fnmatch.fnmatchcase(relative, pattern + "/*"):
            return True
    return False


def missing_deps(stage: dict) -> list[str]:
    command = stage_command(stage["cmd"])
    needed = closure(stage_modules(command))
    deps = [str(dep) for dep in stage.get("deps", [])]
    files = modules()
    return sorted(files[name].relative_to(REPO).as_posix() for name in needed
                  if name not in EXEMPT and not inert(files[name]) and not covered(files[name], deps))


STAGES = load_stages()


def test_the_graph_is_not_empty():
    """A checker that finds no modules or no edges would pass everything."""
    edges = graph()
    assert len(edges) >= 40 and sum(len(targets) for targets in edges.values()) >= 100
    assert {"synthclf.tasks.prepare", "synthclf.training.evaluate", "synthclf.analysis.report"} <= set(edges)
    assert len(STAGES) >= 8


# Stages whose deps are being reworked with their code (issue 26): strict, so the fix makes them fail here
PENDING: dict[str, str] = {}   # stage -> why its deps are knowingly incomplete (strict xfail); none now


@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.xfail(reason=PENDING[name], strict=True))
                                  if name in PENDING else name for name in sorted(STAGES)])
def test_stage_deps_cover_every_module_its_command_runs(name):
    missing = missing_deps(STAGES[name])
    assert not missing, f"dvc.yaml stage {name!r} runs these modules but does not list them as deps " \
                        f"(an edit there would leave its outputs stale): {missing}"


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_code_deps_exist(name):
    """A dep on a moved or deleted module would hide the move from the check above."""
    for dep in STAGES[name].get("deps", []):
        dep = str(dep)
        if dep.startswith("src/") and "${" not in dep:
            assert (REPO / dep).exists(), f"dvc.yaml stage {name!r} lists {dep}, which does not exist"


def test_every_exemption_is_still_needed():
    needed = set().union(*(closure(stage_modules(stage_command(stage["cmd"]))) for stage in STAGES.values()))
    assert set(EXEMPT) <= needed, f"drop {sorted(set(EXEMPT) - needed)} from EXEMPT: no stage runs them"
    for name in EXEMPT:
        assert not inert(module_file(name)), name


# ---------------------------------------------------------------- the checker itself


def test_the_check_finds_an_indirect_import_missing_from_deps():
    """evaluate -> training.evaluate -> training.train (`open_live`): dropping train.py from the deps is caught."""
    evaluate = dict(STAGES["evaluate"])
    assert "synthclf.training.train" in closure(stage_modules("evaluate"))
    evaluate["deps"] = [dep for dep in evaluate["deps"] if dep not in ("src/synthclf/training/train.py",
                                                                      "src/synthclf/training")]
    assert "src/synthclf/training/train.py" in missing_deps(evaluate)


def test_commands_map_to_their_stage_modules():
    assert "synthclf.tasks.prepare" in stage_modules("prepare")          # a string handed to importlib
    assert "synthclf.tasks.fetch" in stage_modules("fetch")              # a lazy `from ... import ... as`
    assert "synthclf.training.evaluate" in stage_modules("evaluate")


def test_relative_and_importlib_imports_are_edges(tmp_path):
    package = tmp_path / "synthclf"
    (package / "sub").mkdir(parents=True)
    for name in ("__init__.py", "sub/__init__.py", "sub/a.py", "sub/b.py", "c.py", "d.py", "e.py"):
        (package / name).write_text("", encoding="utf-8")
    (package / "sub/a.py").write_text(
        "from . import b\nfrom ..c import thing\nimport importlib\n"
        "def later():\n    importlib.import_module('synthclf.d')\n"
        "    importlib.import_module('..e', package='synthclf.sub')\n",
        encoding="utf-8")
    known = set(modules(tmp_path))
    assert raw_imports(package / "sub/a.py", known, src=tmp_path) == {
        "synthclf.sub.b", "synthclf.sub", "synthclf.c", "synthclf.d", "synthclf.e"}
    graph.cache_clear()
    assert "synthclf" in closure({"synthclf.sub.a"}, src=tmp_path)

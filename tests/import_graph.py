"""The synthclf import graph, read from the source with `ast` (shared by test_layers and test_stage_deps).

Counted as an import of a synthclf module, wherever it stands (top level or inside a function):
- `import synthclf.a.b` and `from synthclf.a import b` (b a module, or a name in synthclf.a);
- relative imports, `from . import b` and `from ..a import b`, resolved against the importing module;
- `importlib.import_module("synthclf.a.b")` and `importlib.import_module(".b", package=...)`;
- any string constant that names an existing synthclf module exactly ("synthclf.tasks.prepare"): the
  CLI hands such names to `importlib.import_module` through a helper, so a name is an edge.
Importing synthclf.a.b also runs the packages above it (synthclf/__init__.py, synthclf/a/__init__.py);
`closure` counts them.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "synthclf"


def module_name(path: Path, src: Path = SRC) -> str:
    parts = path.relative_to(src).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(src: Path = SRC) -> dict[str, Path]:
    """Every synthclf module: dotted name -> file."""
    return {module_name(path, src): path for path in sorted((src / "synthclf").rglob("*.py"))}


def is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def _resolve_relative(importer: str, importer_is_package: bool, level: int, module: str | None) -> str:
    """`from ..a import b` inside synthclf.x.y -> synthclf.a (PEP 328)."""
    base = importer.split(".")
    if not importer_is_package:
        base = base[:-1]
    if level - 1 > 0:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def _string(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def raw_imports(path: Path, known: set[str], src: Path = SRC) -> set[str]:
    """The synthclf names one file imports, each resolved to a module or package in `known`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return imports_in(tree, module_name(path, src), is_package(path), known)


def imports_in(tree: ast.AST, importer: str, package: bool, known: set[str]) -> set[str]:
    """The synthclf modules a syntax tree (a module, or one function of it) imports."""
    found: set[str] = set()

    def add(name: str) -> None:
        """A dotted name: the longest prefix that is a known module (from-import of a function)."""
        parts = name.split(".")
        while parts and ".".join(parts) not in known:
            parts.pop()
        if parts and parts[0] == "synthclf":
            found.add(".".join(parts))

    def add_from(module: str, names: list[str]) -> None:
        add(module)
        for alias in names:
            if f"{module}.{alias}" in known:
                found.add(f"{module}.{alias}")

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = (_resolve_relative(importer, package, node.level, node.module) if node.level
                      else node.module or "")
            if module == "synthclf" or module.startswith("synthclf."):
                add_from(module, [alias.name for alias in node.names])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("synthclf"):
                    add(alias.name)
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            target = _string(node.args[0])
            if name == "import_module" and target and target.startswith("."):
                anchor = next((_string(keyword.value) for keyword in node.keywords if keyword.arg == "package"),
                              None) or (importer if package else importer.rpartition(".")[0])
                dots = len(target) - len(target.lstrip("."))
                add(_resolve_relative(anchor, True, dots, target[dots:] or None))
            elif name == "import_module" and target:
                add(target)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in known:
            found.add(node.value)
    found.discard(importer)
    return found


@cache
def graph(src: Path = SRC) -> dict[str, frozenset[str]]:
    """module -> the synthclf modules it imports directly (plus the packages those live in)."""
    files = modules(src)
    known = set(files)
    edges: dict[str, frozenset[str]] = {}
    for name, path in files.items():
        direct = raw_imports(path, known, src)
        with_parents = set(direct)
        for target in direct:
            parts = target.split(".")
            with_parents |= {".".join(parts[:i]) for i in range(1, len(parts))}
        with_parents.discard(name)
        edges[name] = frozenset(with_parents)
    return edges


def closure(roots: set[str], src: Path = SRC) -> set[str]:
    """Every module that runs when `roots` are imported: transitive imports and enclosing packages."""
    edges = graph(src)
    seen: set[str] = set()
    stack = list(roots)
    for root in roots:
        parts = root.split(".")
        stack += [".".join(parts[:i]) for i in range(1, len(parts))]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        assert name in edges, f"{name} is not a synthclf module"
        seen.add(name)
        stack.extend(edges[name] - seen)
    return seen

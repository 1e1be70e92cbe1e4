"""The package's shape (issue 14, item 6): no import cycle between its modules -- imports inside functions count,
they are how cycles hide -- and no function longer than 80 lines. Read from the source with ``ast``."""

from __future__ import annotations

import ast
from pathlib import Path

from .conftest import ROOT

PACKAGE = ROOT / "surveykit"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """The package modules ``path`` imports, anywhere in the file (relative imports resolved)."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    out = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {id(n) for blk in ast.walk(tree) if isinstance(blk, ast.If) and _type_checking(blk.test)
                   for n in ast.walk(blk)}
    for node in ast.walk(tree):
        if id(node) in typing_only:     # `if TYPE_CHECKING:` imports are for type names only, never run
            continue
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("surveykit")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            if base.startswith("surveykit"):
                out.add(base)
                out |= {f"{base}.{a.name}" for a in node.names}
    return out


def _type_checking(test) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {m: {x for x in imports(p) if x in files and x != m} for m, p in files.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in g:
        if v not in index:
            visit(v)
    return out


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_between_modules():
    # a package imports its submodules (``from .x import y`` in __init__) and they import siblings through the
    # package: a package and its own submodules are one unit here
    g = graph()
    merged = {}
    for m, deps in g.items():
        merged.setdefault(m, set()).update(d for d in deps if not m.startswith(d + ".") and not d.startswith(m + "."))
    assert cycles(merged) == []


def test_no_function_longer_than_80_lines():
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 80:
                long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1})")
    assert long == []


# a function may import a heavy optional dependency (matplotlib, semopy, openpyxl, papermill ...) when it needs it;
# the package's own modules are imported at the top. The one exception: the quadrant chart draws with the report's
# chart style, which imports matplotlib -- importing it at the top would load matplotlib with every analysis.
LOCAL_IMPORT_ALLOWED = {("surveykit.analysis.drivers", "quadrant_chart")}


def test_package_modules_are_imported_at_the_top():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for fn in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                own = (isinstance(node, ast.ImportFrom) and (node.level > 0 or (node.module or "").startswith(
                    "surveykit"))) or (isinstance(node, ast.Import) and any(a.name.startswith("surveykit")
                                                                          for a in node.names))
                if own and (module_name(path), fn.name) not in LOCAL_IMPORT_ALLOWED:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} in {fn.name}")
    assert found == []

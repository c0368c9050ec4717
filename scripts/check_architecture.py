"""Check the house rules that review keeps missing; exit 1 listing each finding.

Run from anywhere: `python scripts/check_architecture.py [ROOT]` (ROOT defaults to the
repository). Product code is the packages `edge`, `cloud` and `shared` under ROOT. Findings:

- `cycle`: packages or modules of one package import each other (at every level: `edge.sessions`
  <-> `edge.analytics`, `edge.http.auth` <-> `edge.http.access`), imports inside functions and
  under TYPE_CHECKING included, since they couple the two just the same.
- `shared-imports`: `shared` imports `edge` or `cloud` (it is what both sides agree on).
- `row-by-position`: a SQL result read by position (`row[0]`, `rows[0][1]`,
  `.fetchone()[0]`, `a, b = cursor.fetchone()`, `for a, b in db.execute(...)`). Rows are
  recognised by where they come from (`fetchone`, `execute`, a loop over either) and by name
  (`row`, `r`, `*_row`; `rows`, `*_rows`). A line that must read by position says why:
  `# row-by-position: <why>` on it or on the line above.
- `duplicate-class`: two product classes (module level) with the same name.

Standard library only, so it runs before anything is installed.
"""

from __future__ import annotations

import ast
import itertools
import re
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

PRODUCT_PACKAGES = ("edge", "cloud", "shared")
#: Packages `shared` must not import.
SIDES = ("edge", "cloud")
OPT_OUT = re.compile(r"#\s*row-by-position:\s*\S")
ROW_NAME = re.compile(r"^(row|r|\w+_row)$")
ROWS_NAME = re.compile(r"^(rows|\w+_rows)$")
#: Methods that answer one row (DB-API cursors; SQLAlchemy results when `execute` is in the chain).
ONE_ROW = {"fetchone"}
ONE_ROW_OF_RESULT = {"one", "first", "one_or_none"}
#: Methods that answer rows.
MANY_ROWS = {"execute", "fetchall", "fetchmany"}
MANY_ROWS_OF_RESULT = {"all"}
#: Methods after which a result holds single values, not rows.
SCALARS = {"scalar", "scalars", "scalar_one", "scalar_one_or_none", "mappings"}


@dataclass(frozen=True)
class Finding:
    """One broken rule, at a place in a file."""

    path: str
    line: int
    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind}: {self.message}"


@dataclass
class Module:
    """A parsed product module."""

    name: str
    path: Path
    shown: str
    tree: ast.Module
    lines: list[str]
    is_package: bool
    #: (imported module, line) for every import, resolved to the deepest known module.
    imports: list[tuple[str, int]] = field(default_factory=list)


def load(root: Path) -> dict[str, Module]:
    """Parse every module of the product packages under `root`."""
    modules: dict[str, Module] = {}
    for package in PRODUCT_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts.pop()
            text = path.read_text(encoding="utf-8")
            name = ".".join(parts)
            modules[name] = Module(
                name=name,
                path=path,
                shown=str(path.relative_to(root)),
                tree=ast.parse(text, filename=str(path)),
                lines=text.splitlines(),
                is_package=is_package,
            )
    for module in modules.values():
        module.imports = list(_imports(module, modules))
    return modules


def _imports(module: Module, known: dict[str, Module]) -> Iterator[tuple[str, int]]:
    package = module.name if module.is_package else module.name.rpartition(".")[0]
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join([*base_parts, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            for alias in node.names:
                # `from edge import analytics` imports the module edge.analytics.
                child = f"{base}.{alias.name}"
                yield (child if child in known else base), node.lineno


def _under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _child_of(package: str, name: str) -> str | None:
    """The direct child of `package` that `name` is in (None: not strictly inside it)."""
    if not name.startswith(package + "."):
        return None
    return package + "." + name[len(package) + 1 :].split(".")[0]


def check_cycles(modules: dict[str, Module]) -> Iterator[Finding]:
    """Import cycles between the children of every package, and between the top packages."""
    packages = sorted({m.name for m in modules.values() if m.is_package})
    levels: list[tuple[str, list[Module]]] = [("", list(modules.values()))]
    levels += [(p, [m for m in modules.values() if _under(m.name, p)]) for p in packages]
    for package, members in levels:
        # edges[a][b]: where a child a imports something in child b.
        edges: dict[str, dict[str, tuple[str, int, str]]] = defaultdict(dict)
        for module in members:
            source = _top(module.name) if not package else _child_of(package, module.name)
            if source is None:
                continue  # the package's own __init__: its re-exports are not a dependency
            for imported, line in module.imports:
                target = _top(imported) if not package else _child_of(package, imported)
                if target is None or target == source or target not in _nodes(modules, package):
                    continue
                edges[source].setdefault(target, (module.shown, line, imported))
        for component in _strongly_connected(edges):
            cycle = _cycle_through(component, edges)
            steps = [edges[a][b] for a, b in itertools.pairwise(cycle)]
            shown = " -> ".join(cycle)
            evidence = "; ".join(f"{path}:{line} imports {name}" for path, line, name in steps)
            first_path, first_line, _ = steps[0]
            yield Finding(first_path, first_line, "cycle", f"{shown} ({evidence})")


def _top(name: str) -> str:
    return name.split(".")[0]


def _nodes(modules: dict[str, Module], package: str) -> set[str]:
    if not package:
        return {_top(name) for name in modules}
    return {child for name in modules if (child := _child_of(package, name)) is not None}


def _strongly_connected(edges: dict[str, dict[str, tuple[str, int, str]]]) -> list[list[str]]:
    """Tarjan's components with more than one member, each sorted, in a stable order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, {})):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(found)


def _cycle_through(
    component: list[str], edges: dict[str, dict[str, tuple[str, int, str]]]
) -> list[str]:
    """One shortest cycle from the component's first member back to it (breadth first)."""
    start, members = component[0], set(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(edges.get(node, {})):
            if nxt == start:
                return [*paths[node], start]
            if nxt in members and nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                queue.append(nxt)
    raise AssertionError("a strongly connected component has a cycle")


def check_shared(modules: dict[str, Module]) -> Iterator[Finding]:
    """`shared` imports neither side."""
    for module in modules.values():
        if not _under(module.name, "shared"):
            continue
        for imported, line in module.imports:
            if _top(imported) in SIDES:
                yield Finding(
                    module.shown, line, "shared-imports", f"{module.name} imports {imported}"
                )


def check_duplicate_classes(modules: dict[str, Module]) -> Iterator[Finding]:
    """Module-level classes whose name another product module also defines."""
    places: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for module in modules.values():
        for node in module.tree.body:
            if isinstance(node, ast.ClassDef):
                places[node.name].append((module.shown, node.lineno))
    for name, where in sorted(places.items()):
        if len(where) > 1:
            others = ", ".join(f"{path}:{line}" for path, line in where[1:])
            path, line = where[0]
            yield Finding(path, line, "duplicate-class", f"class {name} also in {others}")


class _RowReads(ast.NodeVisitor):
    """Positional reads of SQL results in one module, scope by scope."""

    def __init__(self, module: Module) -> None:
        self.module = module
        self.found: list[Finding] = []
        # Names bound to one row / to rows, per enclosing function (module scope first).
        self.scopes: list[tuple[set[str], set[str]]] = [(set(), set())]

    # Scopes: a function's names are its own; a name's kind is what any binding in it gave.
    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._scoped(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._scoped(node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._scoped(node)

    def _scoped(self, node: ast.AST) -> None:
        self.scopes.append(_bindings(node))
        self.generic_visit(node)
        self.scopes.pop()

    def visit_Module(self, node: ast.Module) -> None:
        self.scopes = [_bindings(node)]
        self.generic_visit(node)

    # Findings.
    def visit_Subscript(self, node: ast.Subscript) -> None:
        if _is_position(node.slice) and self._is_row(node.value):
            self._report(node, f"`{_short(node)}` reads a column by position")
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            if isinstance(target, ast.Tuple | ast.List) and self._is_row(node.value):
                self._report(node, f"`{_short(target)} = ...` unpacks a row by position")
        self.generic_visit(node)

    def visit_For(self, node: ast.For) -> None:
        self._loop(node, node.target, node.iter)
        self.generic_visit(node)

    def visit_AsyncFor(self, node: ast.AsyncFor) -> None:
        self._loop(node, node.target, node.iter)
        self.generic_visit(node)

    def visit_comprehension(self, node: ast.comprehension) -> None:
        self._loop(node.iter, node.target, node.iter)
        self.generic_visit(node)

    def _loop(self, node: ast.AST, target: ast.expr, source: ast.expr) -> None:
        if isinstance(target, ast.Tuple | ast.List) and self._is_rows(source):
            self._report(node, f"`for {_short(target)} in ...` unpacks rows by position")

    def _is_row(self, node: ast.expr) -> bool:
        _, row_names = self._names()
        if isinstance(node, ast.Name):
            return node.id in row_names or bool(ROW_NAME.match(node.id))
        if isinstance(node, ast.Subscript):  # rows[0] is a row
            return _is_position(node.slice) and self._is_rows(node.value)
        if isinstance(node, ast.Call) and _is_call_to(node, "next") and node.args:
            return self._is_rows(node.args[0])
        return _result_kind(node) == "row"

    def _is_rows(self, node: ast.expr) -> bool:
        rows, _ = self._names()
        if isinstance(node, ast.Name):
            return node.id in rows or bool(ROWS_NAME.match(node.id))
        if isinstance(node, ast.Call) and (
            _is_call_to(node, "list") or _is_call_to(node, "sorted")
        ):
            return bool(node.args) and self._is_rows(node.args[0])
        return _result_kind(node) == "rows"

    def _names(self) -> tuple[set[str], set[str]]:
        return self.scopes[-1]

    def _report(self, node: ast.AST, message: str) -> None:
        first = getattr(node, "lineno", 1)
        last = getattr(node, "end_lineno", None) or first
        # The opt-out may stand on any line of the read or on the line above it.
        if any(OPT_OUT.search(text) for text in self.module.lines[max(first - 2, 0) : last]):
            return
        finding = Finding(self.module.shown, first, "row-by-position", message)
        if finding not in self.found:  # `row[3] if row[3] else None` is one read
            self.found.append(finding)


def _short(node: ast.AST) -> str:
    text = " ".join(ast.unparse(node).split())
    return text if len(text) <= 60 else text[:30] + " ... " + text[-25:]


def _bindings(scope: ast.AST) -> tuple[set[str], set[str]]:
    """Names in `scope` (not nested functions) bound to rows, and to one row."""
    rows: set[str] = set()
    one: set[str] = set()
    nodes = list(ast.iter_child_nodes(scope))
    # Twice, so `rows = cur.fetchall()` then `for row in rows` resolves whatever the order.
    for _ in range(2):
        for node in _walk_scope(nodes):
            if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                kind = _kind(node.value, rows, one)
                for target in targets:
                    if isinstance(target, ast.Name) and kind == "rows":
                        rows.add(target.id)
                    elif isinstance(target, ast.Name) and kind == "row":
                        one.add(target.id)
            elif (
                isinstance(node, ast.For | ast.AsyncFor | ast.comprehension)
                and isinstance(node.target, ast.Name)
                and _kind(node.iter, rows, one) == "rows"
            ):
                one.add(node.target.id)
    return rows, one


def _walk_scope(nodes: Iterable[ast.AST]) -> Iterator[ast.AST]:
    for node in nodes:
        yield node
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            yield from _walk_scope(ast.iter_child_nodes(node))


def _kind(node: ast.expr, rows: set[str], one: set[str]) -> str | None:
    if isinstance(node, ast.Name):
        return "rows" if node.id in rows else "row" if node.id in one else None
    if isinstance(node, ast.Subscript) and _is_position(node.slice):
        return "row" if _kind(node.value, rows, one) == "rows" else None
    if isinstance(node, ast.Call) and _is_call_to(node, "next") and node.args:
        return "row" if _kind(node.args[0], rows, one) == "rows" else None
    if isinstance(node, ast.Call) and (_is_call_to(node, "list") or _is_call_to(node, "sorted")):
        return "rows" if node.args and _kind(node.args[0], rows, one) == "rows" else None
    return _result_kind(node)


def _result_kind(node: ast.expr) -> str | None:
    """Whether `node` is a call chain that answers one SQL row ("row") or rows ("rows")."""
    methods = _chain(node)
    if not methods or set(methods) & SCALARS:
        return None
    last = methods[-1]
    if last in ONE_ROW or (last in ONE_ROW_OF_RESULT and "execute" in methods):
        return "row"
    if last in MANY_ROWS or (last in MANY_ROWS_OF_RESULT and "execute" in methods):
        return "rows"
    return None


def _chain(node: ast.expr) -> list[str]:
    """The methods called along `a.b(...).c(...)` (awaits and parentheses looked through)."""
    methods: list[str] = []
    while True:
        if isinstance(node, ast.Await):
            node = node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            methods.append(node.func.attr)
            node = node.func.value
        else:
            return methods[::-1]


def _is_call_to(node: ast.Call, name: str) -> bool:
    return isinstance(node.func, ast.Name) and node.func.id == name


def _is_position(node: ast.expr) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    if isinstance(node, ast.Slice):
        return any(part is not None and _is_position(part) for part in (node.lower, node.upper))
    return isinstance(node, ast.Constant) and type(node.value) is int


def check_rows(modules: dict[str, Module]) -> Iterator[Finding]:
    """Positional reads of SQL results."""
    for module in modules.values():
        reads = _RowReads(module)
        reads.visit(module.tree)
        yield from reads.found


def check(root: Path) -> list[Finding]:
    """Every finding under `root`."""
    modules = load(root)
    return [
        *check_cycles(modules),
        *check_shared(modules),
        *check_rows(modules),
        *check_duplicate_classes(modules),
    ]


def main(argv: list[str] | None = None) -> int:
    """Print the findings; 1 when there are any."""
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0]) if args else Path(__file__).resolve().parent.parent
    findings = check(root)
    for finding in findings:
        print(finding)
    if findings:
        print(f"architecture: {len(findings)} finding(s)", file=sys.stderr)
        return 1
    print("architecture: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())

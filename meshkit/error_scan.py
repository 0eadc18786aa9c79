"""Where the source uses error codes, found by reading it (AST) — for the catalogue test and the routes' error lists.

A code is *used* where the scan can see it:

* as the code argument of a call that makes an error or a refusal: ``MeshError`` and every class derived from it in
  the source (``DocumentError("…")``), ``PdfRefused``, the gateway's ``Refusal``, ``Failure(kind, code, …)``,
  ``ErrorPayload(code=…)``, the dead-letter calls (``dead_letter``, ``settle_dead``, ``_park_unroutable``,
  ``refuse_failed``: ``code=``), ``error_response(code=…)``, ``read_body(code=…)``, ``parse_json(malformed=…)``; a
  conditional there (``"A" if … else "B"``) gives both;
* in a **code map**: a module-level (or class-level) constant whose name ends in ``_CODE`` or ``_CODES`` — every
  string of code shape among its values (``_EDS_CODES = {CertFailure.EXPIRED: "EDS_CERTIFICATE_EXPIRED"}``,
  ``_HOP_CODES = {"broker": ("BROKER_UNAVAILABLE", "…")}``: a dict's values, a tuple's items, nested);
* as a module-level constant of the mesh's refusal shape (``NOT_SEALED = "Client.NotSealed"``).

A code built at run time in a code position (an f-string, ``"EDS_" + …``) is *dynamic*: the scan cannot see what it
makes, so the test refuses it — write the codes out in a map. A code passed on (``MeshError(exc.code, …)``,
``Refusal(refusal_code(result), …)``, a variable) is not a use: it was used where it was made or mapped.

Not error codes, so not scanned: the portal's document verdict (``Verdict.fail``: findings in a 200 answer) and the
SDK's ``KitError`` (``meshkit.sdk``: the kit's own refusals on the client side, or a service's code passed on).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

REPO_ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("services", "shared", "meshkit")

CODE_SHAPE = re.compile(r"^(?:(?:Client|Server)\.[A-Z][A-Za-z]+|[A-Z][A-Z0-9_]*[A-Z0-9])$")
REFUSAL_SHAPE = re.compile(r"^(?:Client|Server)\.[A-Z][A-Za-z]+$")

ERROR_BASES = ("MeshError", "PdfRefused")
# Calls that are not error classes but take a code: where the code is (position, keyword).
CODE_ARGUMENT: dict[str, tuple[int | None, str]] = {
    "Refusal": (0, "code"),
    "Failure": (1, "code"),
    "ErrorPayload": (None, "code"),
    "dead_letter": (None, "code"),
    "settle_dead": (None, "code"),
    "_park_unroutable": (None, "code"),
    "refuse_failed": (None, "code"),
    "error_response": (None, "code"),
    "read_body": (None, "code"),
    "parse_json": (None, "malformed"),
}


@dataclass(frozen=True)
class Use:
    code: str
    path: str  # relative to the repository
    line: int
    how: str  # the call (``MeshError``), or ``map NAME`` / ``constant NAME``
    function: str | None = None  # the enclosing function's qualified name within its module


@dataclass(frozen=True)
class Dynamic:
    path: str
    line: int
    source: str


def source_files(root: Path = REPO_ROOT) -> list[Path]:
    return sorted(p for top in SCANNED for p in (root / top).rglob("*.py") if ".venv" not in p.parts)


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def error_classes(trees: Iterable[ast.Module]) -> set[str]:
    """MeshError, PdfRefused and every class the source derives from them (by name, transitively)."""
    bases: dict[str, set[str]] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases.setdefault(node.name, set()).update(n for b in node.bases if (n := _name(b)))
    found = set(ERROR_BASES)
    grew = True
    while grew:
        grew = False
        for name, of in bases.items():
            if name not in found and of & found:
                found.add(name)
                grew = True
    return found


def _code_argument(call: ast.Call, name: str, classes: set[str]) -> ast.expr | None:
    position, keyword = (0, "code") if name in classes else CODE_ARGUMENT.get(name, (None, ""))
    if not keyword:
        return None
    for kw in call.keywords:
        if kw.arg == keyword:
            return kw.value
    if position is not None and len(call.args) > position and not any(
            isinstance(a, ast.Starred) for a in call.args[:position + 1]):
        return call.args[position]
    return None


class _Text(NamedTuple):
    """A string constant of the source and the line it is on."""

    value: str
    lineno: int


def _constants(expr: ast.expr) -> Iterator[_Text] | None:
    """The string constants an expression in a code position can be, or None when it is built at run time."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return iter([_Text(expr.value, expr.lineno)])
    if isinstance(expr, ast.IfExp):
        body, orelse = _constants(expr.body), _constants(expr.orelse)
        if body is None or orelse is None:
            return None
        return iter([*body, *orelse])
    if isinstance(expr, ast.JoinedStr | ast.BinOp):
        return None
    return iter([])  # passed on: a name, an attribute, a call — used where it was made


def _strings(node: ast.expr) -> Iterator[_Text]:
    """The codes in a code map: the values of a dict (its keys are what is mapped), the items of a tuple, list or
    set, recursively — the strings of code shape among them (not the sentences beside them)."""
    if isinstance(node, ast.Constant):
        if isinstance(node.value, str) and CODE_SHAPE.match(node.value):
            yield _Text(node.value, node.lineno)
    elif isinstance(node, ast.Dict):
        for value in node.values:
            yield from _strings(value)
    elif isinstance(node, ast.Tuple | ast.List | ast.Set):
        for item in node.elts:
            yield from _strings(item)


class _Scanner(ast.NodeVisitor):
    def __init__(self, path: str, classes: set[str]) -> None:
        self.path, self.classes = path, classes
        self.uses: list[Use] = []
        self.dynamic: list[Dynamic] = []
        self._scope: list[str] = []
        self._depth = 0  # functions around the node: constants and maps count at module and class level only

    def _enter(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self._scope.append(node.name)
        functional = not isinstance(node, ast.ClassDef)
        self._depth += functional
        self.generic_visit(node)
        self._depth -= functional
        self._scope.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _enter  # noqa: N815 - ast.NodeVisitor's names

    def visit_Assign(self, node: ast.Assign) -> None:
        self._assigned([t for t in node.targets if isinstance(t, ast.Name)], node.value)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if isinstance(node.target, ast.Name) and node.value is not None:
            self._assigned([node.target], node.value)
        self.generic_visit(node)

    def _assigned(self, targets: list[ast.Name], value: ast.expr) -> None:
        if self._depth:
            return
        for target in targets:
            if target.id.endswith(("_CODE", "_CODES")):
                self.uses += [Use(c.value, self.path, c.lineno, f"map {target.id}") for c in _strings(value)]
            elif isinstance(value, ast.Constant) and isinstance(value.value, str) and REFUSAL_SHAPE.match(value.value):
                self.uses.append(Use(value.value, self.path, value.lineno, f"constant {target.id}"))

    def visit_Call(self, node: ast.Call) -> None:
        name = _name(node.func)
        argument = _code_argument(node, name, self.classes) if name else None
        if argument is not None:
            constants = _constants(argument)
            if constants is None:
                self.dynamic.append(Dynamic(self.path, node.lineno, ast.unparse(argument)))
            else:
                function = ".".join(self._scope) or None
                self.uses += [Use(c.value, self.path, c.lineno, name or "?", function) for c in constants]
        self.generic_visit(node)


@dataclass(frozen=True)
class Scan:
    uses: list[Use]
    dynamic: list[Dynamic]

    @property
    def codes(self) -> set[str]:
        return {u.code for u in self.uses}

    def where(self, code: str) -> list[Use]:
        return [u for u in self.uses if u.code == code]


def scan(root: Path = REPO_ROOT, files: Iterable[Path] | None = None) -> Scan:
    paths = list(files) if files is not None else source_files(root)
    trees = {p: ast.parse(p.read_text(encoding="utf-8"), filename=str(p)) for p in paths}
    classes = error_classes(trees.values())
    uses: list[Use] = []
    dynamic: list[Dynamic] = []
    for path, tree in trees.items():
        scanner = _Scanner(str(path.relative_to(root)) if path.is_relative_to(root) else str(path), classes)
        scanner.visit(tree)
        uses += scanner.uses
        dynamic += scanner.dynamic
    return Scan(uses=uses, dynamic=dynamic)

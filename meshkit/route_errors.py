"""Which error codes each HTTP route can answer, found by reading the source (AST) — a helper for writing a route's
``responses=error_responses(…)`` (shared/web/openapi_errors.py), not something a service runs.

``python -m meshkit.route_errors [service …] [--why CODE]`` prints, for each route function (one decorated with
``@router.get/post/put/delete/patch``), the codes raised (``meshkit.error_scan``'s uses, and the code maps a
function reads) in it and in every function it calls, transitively; ``--why`` shows the chain of calls to a code.
A call is followed by what the source says of its name: ``f(…)`` to the function of that name in the same module or
the one it imports; ``module.f(…)`` to that module's; ``x.f(…)`` to the methods named ``f`` in the route's own
service, else in ``shared/``; ``x.get(…)`` only to the ``get`` of the class ``x`` names (``BY_RECEIVER``); a
dependency ``Depends(f)`` as a call. A call inside ``try`` whose ``except`` catches the mesh's errors and refuses
with a code of its own is not followed (its codes are replaced); one that passes ``exc.code`` on is.

How far to trust it: tried on the 129 routes of the six services, and checked against what the API fuzz
(tests/usecases/test_api_fuzz.py) provokes — every error answer there must be listed in the operation's OpenAPI.
Methods are resolved by name, so it over-reaches where a name is shared by unrelated classes (every EDS code where
only some can occur; a signature's codes where a handler turns them into ``EDS_SIGNATURE_INVALID`` outside a
``try``), and it misses what is reached through a value (a callback, a handler looked up in a table, a rate limit's
``check``: ``OWN_SERVICE_ONLY``) or raised by the framework. So its lists were read, pruned (``Client.*`` codes
other than the gateway's certificate pinning, ``CANONICAL_FORM_IMPOSSIBLE`` where only the mesh's own values are
signed) and completed (``TOO_MANY_ATTEMPTS`` where a rate limit is checked, ``SESSION_*`` on the logouts, the JSON
limits on a body a route reads itself) into the declarations next to the routes. What every route can give anyway
(422 ``REQUEST_INVALID``, the body's limits, the admin token's and a login's 401/403) the app factory adds; the
helper leaves those out (``COMMON``).
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from meshkit.error_scan import REPO_ROOT, Use, error_classes, scan, source_files

HTTP_METHODS = {"get", "post", "put", "delete", "patch"}
# Names not followed at all: too common (the bus's ``send``, httpx's ``request``), and what they lead to is no route's.
IGNORED = {"send", "request", "all"}
# Followed only to a method of a class of the route's own service that the receiver names: ``branches.get(…)`` to
# BranchBook.get, ``ca.get(…)`` to CertificateAuthority.get, ``self.get(…)`` to its own class's — never
# ``body.get(…)`` to every ``get`` there is.
BY_RECEIVER = {"get"}
# Added to every route by the app factory (shared/web/openapi_errors.py): not listed per route.
COMMON = {"REQUEST_INVALID", "REQUEST_TOO_LARGE", "JSON_MALFORMED", "JSON_TOO_DEEP", "JSON_STRING_INVALID",
          "JSON_TOO_MANY_ELEMENTS", "ADMIN_TOKEN_MISSING", "ADMIN_TOKEN_INVALID", "SESSION_MISSING", "SESSION_INVALID",
          "SESSION_EXPIRED"}


@dataclass
class Function:
    module: str  # dotted
    path: str
    name: str
    line: int
    method: bool  # defined in a class
    cls: str | None = None  # the class it is defined in
    codes: set[str] = field(default_factory=set)
    calls: set[tuple[str, str]] = field(default_factory=set)  # ("name", f), ("method", f) or (module, f)


@dataclass(frozen=True)
class Route:
    service: str
    path: str  # the file
    line: int
    function: str
    method: str
    url: str


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)


def _imports(tree: ast.Module, module: str) -> tuple[dict[str, tuple[str, str]], dict[str, str]]:
    """Names imported from our packages (name → (module, its name there)) and modules imported (name → module)."""
    names: dict[str, tuple[str, str]] = {}
    modules: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            source = node.module if node.level == 0 else ".".join([*module.split(".")[:-node.level], node.module])
            for alias in node.names:
                names[alias.asname or alias.name] = (source, alias.name)
                modules[alias.asname or alias.name] = f"{source}.{alias.name}"  # when it is a module
        elif isinstance(node, ast.Import):
            for alias in node.names:
                modules[alias.asname or alias.name.split(".")[0]] = alias.name
    return names, modules


def _walk_own(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.AST]:
    """The nodes of a function's body and its parameters' defaults, not of the functions defined in it."""
    out: list[ast.AST] = []
    stack: list[ast.AST | None] = [*node.body, *node.args.defaults, *node.args.kw_defaults]
    while stack:
        sub = stack.pop()
        if sub is None:
            continue
        out.append(sub)
        if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        stack.extend(ast.iter_child_nodes(sub))
    return out


# Followed only to a method of the route's own service of that name, never to shared/: the methods of str, bytes
# and the containers (``data.decode()`` is not shared.employment.attachments.decode), and ``check`` (ИС МИО's actions
# check a request; in shared/ a certificate is checked, a rate limit, readiness — a rate-limited route declares
# TOO_MANY_ATTEMPTS itself).
OWN_SERVICE_ONLY = {"check", "start", "stop", "load", "find", "run", "parse", "close", "verify"}
BUILTIN_METHODS = {name for kind in (str, bytes, dict, list, set, int, float) for name in dir(kind)}


def _called(nodes: list[ast.AST], modules: dict[str, str]) -> set[tuple[str, str]]:
    calls: set[tuple[str, str]] = set()
    for sub in nodes:
        if not isinstance(sub, ast.Call):
            continue
        func = sub.func
        if isinstance(func, ast.Name):
            calls.add(("name", func.id))
            if func.id == "Depends" and sub.args and isinstance(sub.args[0], ast.Name):
                calls.add(("name", sub.args[0].id))
        elif isinstance(func, ast.Attribute):
            if isinstance(func.value, ast.Name) and func.value.id in modules:
                calls.add((modules[func.value.id], func.attr))
            elif func.attr in BY_RECEIVER:
                receiver = func.value.id if isinstance(func.value, ast.Name) else \
                    func.value.attr if isinstance(func.value, ast.Attribute) else ""
                calls.add((f"receiver:{receiver}", func.attr))
            elif func.attr not in IGNORED:
                calls.add(("method", func.attr))
    return calls


def _catches_errors(block: ast.Try, classes: set[str]) -> bool:
    """Does a handler of this ``try`` catch the mesh's errors and turn what its body raises into its own codes? One
    that passes the code on (``raise DocumentError(exc.code, …)``) does not."""
    for handler in block.handlers:
        kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        if not any(isinstance(k, ast.Name | ast.Attribute) and (k.id if isinstance(k, ast.Name) else k.attr)
                   in classes for k in kinds if k is not None):
            continue
        passes_on = handler.name is not None and any(
            isinstance(r, ast.Raise) and r.exc is not None and any(
                isinstance(n, ast.Attribute) and n.attr == "code" and isinstance(n.value, ast.Name)
                and n.value.id == handler.name for n in ast.walk(r.exc))
            for r in ast.walk(handler))
        if not passes_on:
            return True
    return False


def _functions(path: Path, uses: list[Use], classes: set[str]) -> tuple[list[Function], dict[str, tuple[str, str]]]:
    relative = str(path.relative_to(REPO_ROOT))
    module = _module_name(path)
    mine = [u for u in uses if u.path == relative]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names, modules = _imports(tree, module)
    maps: dict[str, set[str]] = defaultdict(set)  # a code map's codes, for the functions that read it
    for use in mine:
        if use.how.startswith(("map ", "constant ")):
            maps[use.how.split(" ", 1)[1]].add(use.code)
    methods = {id(f): c.name for c in ast.walk(tree) if isinstance(c, ast.ClassDef) for f in c.body
               if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)}
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        nested = [(n.lineno, n.end_lineno or n.lineno) for n in ast.walk(node)
                  if n is not node and isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
        codes = {u.code for u in mine if node.lineno <= u.line <= (node.end_lineno or node.lineno)
                 and not any(a <= u.line <= b for a, b in nested)}
        own = _walk_own(node)
        codes |= {code for n in own if isinstance(n, ast.Name) for code in maps.get(n.id, ())}
        caught = {id(n) for t in own if isinstance(t, ast.Try) and _catches_errors(t, classes)
                  for s in t.body for n in ast.walk(s)}
        found.append(Function(module, relative, node.name, node.lineno, id(node) in methods, methods.get(id(node)),
                              codes, _called([n for n in own if id(n) not in caught], modules)))
    return found, names


def _routes(path: Path, service: str) -> list[Route]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    routes = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for decorator in node.decorator_list:
            if isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute) \
                    and decorator.func.attr in HTTP_METHODS and decorator.args \
                    and isinstance(decorator.args[0], ast.Constant):
                routes.append(Route(service, str(path.relative_to(REPO_ROOT)), node.lineno, node.name,
                                    decorator.func.attr.upper(), str(decorator.args[0].value)))
    return routes


def _names(receiver: str, cls: str, *, caller: str | None) -> bool:
    """Does ``receiver`` name class ``cls``? ``self`` names the caller's class, ``branches`` BranchBook, ``staff``
    StaffBook, ``ca`` CertificateAuthority (its initials)."""
    if receiver == "self":
        return cls == caller
    lower = cls.lower()
    singular = {receiver, receiver.removesuffix("s"), receiver.removesuffix("es")} - {""}
    initials = "".join(c for c in cls if c.isupper()).lower()
    return any(lower.startswith(s) for s in singular) or receiver == initials


class Index:
    def __init__(self) -> None:
        uses = scan().uses
        classes = error_classes(ast.parse(p.read_text(encoding="utf-8")) for p in source_files())
        self.functions: dict[str, list[Function]] = defaultdict(list)  # module → its functions
        self.imported: dict[str, dict[str, tuple[str, str]]] = {}
        self.aliases: dict[str, dict[str, str]] = {}  # ``own = refuse_unless_citizen``: own → refuse_unless_citizen
        self.routes: list[Route] = []
        for top in ("services", "shared"):
            for path in sorted((REPO_ROOT / top).rglob("*.py")):
                found, names = _functions(path, uses, classes)
                module = _module_name(path)
                self.functions[module] = found
                self.imported[module] = names
                self.aliases[module] = {t.id: node.value.id for node in ast.walk(ast.parse(path.read_text(
                    encoding="utf-8"))) if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name)
                    for t in node.targets if isinstance(t, ast.Name)}
                service = path.relative_to(REPO_ROOT / top).parts[0] if top == "services" else "shared"
                self.routes += _routes(path, service)  # services/<service>/…, routes/ and all

    def _resolve(self, function: Function, call: tuple[str, str]) -> list[Function]:
        kind, name = call
        if kind == "name":
            name = self.aliases[function.module].get(name, name)
            here = [f for f in self.functions[function.module] if f.name == name and not f.method]
            if here:
                return here
            source = self.imported[function.module].get(name)
            if source is None:
                return []
            return [f for f in self.functions.get(source[0], []) if f.name == source[1] and not f.method]
        if kind.startswith("receiver:"):
            receiver = kind.removeprefix("receiver:")
            if not function.module.startswith("services."):
                return []
            prefix = ".".join(function.module.split(".")[:2]) + "."
            return [f for m, fs in self.functions.items() if m.startswith(prefix) for f in fs
                    if f.method and f.name == name and f.cls and _names(receiver, f.cls, caller=function.cls)]
        if kind == "method":
            if name in OWN_SERVICE_ONLY and not function.module.startswith("services."):
                return []
            service = function.module.split(".")[:2] if function.module.startswith("services.") else ["shared"]
            prefix = ".".join(service) + "."
            own = [f for m, fs in self.functions.items() if m.startswith(prefix) for f in fs if f.method
                   and f.name == name]
            if own or name in BUILTIN_METHODS or name in OWN_SERVICE_ONLY:
                return own
            return [f for m, fs in self.functions.items() if m.startswith("shared.") for f in fs
                    if f.method and f.name == name]
        return [f for f in self.functions.get(kind, []) if f.name == name and not f.method]

    def codes(self, route: Route, *, trace: str | None = None) -> set[str]:
        start = [f for fs in self.functions.values() for f in fs if f.path == route.path and f.line == route.line]
        seen: set[tuple[str, int]] = set()
        codes: set[str] = set()
        queue = [(f, f.name) for f in start]
        while queue:
            function, how = queue.pop()
            if (function.path, function.line) in seen:
                continue
            seen.add((function.path, function.line))
            codes |= function.codes
            if trace in function.codes:
                print(f"    {trace}: {how} ({function.path}:{function.line})")
            for call in function.calls:
                queue += [(f, f"{how} > {f.name}") for f in self._resolve(function, call)]
        return codes - COMMON


def main(argv: list[str]) -> None:
    """``[service] [--why CODE]``: the routes of one service (or all), and how a route reaches CODE."""
    trace = argv[argv.index("--why") + 1] if "--why" in argv else None
    services = [a for a in argv if a != "--why" and a != trace]
    index = Index()
    for route in index.routes:
        if services and route.service not in services:
            continue
        codes = sorted(index.codes(route, trace=trace))
        print(f"{route.path}:{route.line} {route.method} {route.url} ({route.function})")
        print("    " + (", ".join(f'"{c}"' for c in codes) or "-"))


if __name__ == "__main__":
    main(sys.argv[1:])

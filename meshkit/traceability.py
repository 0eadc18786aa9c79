"""The trace matrix: every seed clause the regulation files cite → the file and step citing it → the tests that
exercise it. Generated from the regulation files and the test sources, never written by hand:

    python -m meshkit.traceability > docs/traceability.md      (make docs)

How a test is linked, read from its source with ``ast`` (nothing is run):

* **runs every step** — a test parametrized over every shipped regulation file: its ``parametrize`` values name
  a module-level name built from ``REGULATIONS_DIR.glob(...)``, so each file, and so each of its steps, is a case;
* **names the file** — a test whose string constants (its body, its decorators, and the module-level string
  constants it refers to) contain the file's id, match the file's name as a glob (``"kyzylorda.*.office.yaml"``),
  (a glob starting with ``*`` names no file in particular), or give the file's service and exactly one district,
  one of the file's (then, if the test names channels — ``"office"``, ``"portal"``, ``"con"`` — only files of
  those channels).

The second kind is weaker: a test that names a file need not reach every step. The matrix keeps them apart.
"""

from __future__ import annotations

import ast
import fnmatch
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from meshkit.mesh_runner import REPO_ROOT
from shared.employment.regulations import REGULATIONS_DIR, Regulation, RegulationBook

TESTS_DIR = REPO_ROOT / "tests"
CHANNELS = ("office", "portal", "con")


@dataclass
class TestLinks:
    """What the test sources say about the regulation files."""

    every_file: list[str] = field(default_factory=list)  # tests parametrized over every shipped file
    naming: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # regulation id → tests


def _test_functions(tree: ast.Module) -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    found: list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_"):
            found.append((node.name, node))
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            found.extend((f"{node.name}::{item.name}", item) for item in node.body
                         if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name.startswith("test_"))
    return found


def _module_names(tree: ast.Module, source: str) -> tuple[dict[str, list[str]], set[str]]:
    """Module-level names: the string constants each holds, and those built from every regulation file."""
    strings: dict[str, list[str]] = {}
    every: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        names = [t.id for t in targets if isinstance(t, ast.Name)]
        constants = [c.value for c in ast.walk(value) if isinstance(c, ast.Constant) and isinstance(c.value, str)]
        text = ast.get_source_segment(source, value) or ""
        for name in names:
            strings[name] = constants
            if "REGULATIONS_DIR.glob(" in text:
                every.add(name)
    return strings, every


def _strings_of(node: ast.AST, module_strings: dict[str, list[str]]) -> set[str]:
    out: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            out.add(sub.value)
        elif isinstance(sub, ast.Name) and sub.id in module_strings:
            out.update(module_strings[sub.id])
    return out


def _parametrized_over(function: ast.FunctionDef | ast.AsyncFunctionDef, names: set[str]) -> bool:
    return any(isinstance(decorator, ast.Call) and ast.unparse(decorator.func).endswith("mark.parametrize")
               and any(isinstance(n, ast.Name) and n.id in names for a in decorator.args[1:] for n in ast.walk(a))
               for decorator in function.decorator_list)


def _named(strings: set[str], regulation: Regulation, districts: set[str]) -> bool:
    if any(regulation.id in s for s in strings):
        return True
    file_name = f"{regulation.id}.yaml"
    if any(s.endswith(".yaml") and "*" in s and not s.startswith("*") and fnmatch.fnmatchcase(file_name, s)
           for s in strings):
        return True
    named_districts = strings & districts
    if regulation.service in strings and len(named_districts) == 1 and named_districts <= set(regulation.districts):
        channels = [c for c in CHANNELS if c in strings]
        return not channels or regulation.channel in channels
    return False


def link_tests(book: RegulationBook, tests_dir: Path = TESTS_DIR) -> TestLinks:
    links = TestLinks()
    districts = set(book.districts)
    for path in sorted(tests_dir.rglob("test_*.py")):
        source = path.read_text()
        tree = ast.parse(source)
        module_strings, every = _module_names(tree, source)
        where = path.relative_to(tests_dir.parent).as_posix()
        for name, function in _test_functions(tree):
            test_id = f"{where}::{name}"
            if every and _parametrized_over(function, every):
                links.every_file.append(test_id)
            strings = _strings_of(function, module_strings)
            for regulation in book.all.values():
                if _named(strings, regulation, districts):
                    links.naming[regulation.id].append(test_id)
    return links


def clauses(source: str) -> list[str]:
    """The clauses one ``source`` cites, as the file writes them (``п. 5, пп. 1; п. 7, пп. 1`` is two)."""
    return [" ".join(part.split()) for part in source.split(";") if part.strip()]


def _clause_key(clause: str) -> tuple:
    return (0 if clause.startswith("п.") else 1, [int(n) for n in re.findall(r"\d+", clause)], clause)


def _cell(items: list[str]) -> str:
    return "<br>".join(f"`{i}`" for i in items) if items else "—"


def render(book: RegulationBook | None = None, tests_dir: Path = TESTS_DIR) -> str:
    book = book or RegulationBook.load(REGULATIONS_DIR)
    links = link_tests(book, tests_dir)
    by_act: dict[str, dict[str, list[tuple[Regulation, str]]]] = defaultdict(lambda: defaultdict(list))
    for regulation in sorted(book.all.values(), key=lambda r: r.id):
        for step in regulation.steps:
            for clause in clauses(step.source):
                by_act[regulation.act][clause].append((regulation, step.id))
    lines = [
        "# Trace matrix: seed clauses → regulation steps → tests",
        "",
        "Generated by `python -m meshkit.traceability > docs/traceability.md` (`make docs`) from the regulation "
        "files in `shared/employment/regulations/` and the test sources; do not edit it by hand "
        "(`tests/unit/test_traceability.py` fails when it is stale).",
        "",
        "A test **runs the step** when it is parametrized over every shipped regulation file (its cases are "
        "built from `REGULATIONS_DIR.glob`), so every step of every file runs in it. A test **names the file** "
        "when its source names the regulation's id, matches its file name as a glob, or names its service and "
        "one of its districts (and, if it names channels, the file's channel); it exercises the file, not "
        "necessarily each step. Clauses are each step's `source` as the file writes it, split at `;`.",
        "",
        "Tests that run every step of every file:",
        "",
        *(f"- `{t}`" for t in links.every_file),
        *([] if links.every_file else ["- (none)"]),
        "",
    ]
    for act in sorted(by_act):
        lines += [f"## {act}", "", "| Clause | File | Step | Tests that run the step |", "|---|---|---|---|"]
        for clause in sorted(by_act[act], key=_clause_key):
            for regulation, step_id in by_act[act][clause]:
                lines.append(f"| {clause} | `{regulation.id}` | `{step_id}` | {_cell(links.every_file)} |")
        lines.append("")
    lines += ["## Tests that name each file", "",
              "Beyond the tests above, which run every step of every file.", "",
              "| File | Tests that name it |", "|---|---|"]
    for regulation_id in sorted(book.all):
        named = [t for t in links.naming.get(regulation_id, []) if t not in links.every_file]
        lines.append(f"| `{regulation_id}` | {_cell(named)} |")
    lines.append("")
    return "\n".join(lines)


def untested_steps(book: RegulationBook | None = None, tests_dir: Path = TESTS_DIR) -> list[str]:
    """Every ``file:step`` that no test runs or names."""
    book = book or RegulationBook.load(REGULATIONS_DIR)
    links = link_tests(book, tests_dir)
    return [f"{r.id}:{s.id}" for r in book.all.values() for s in r.steps
            if not links.every_file and not links.naming.get(r.id)]


if __name__ == "__main__":
    sys.stdout.write(render())

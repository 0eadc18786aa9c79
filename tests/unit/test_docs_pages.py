"""The README is a front door: short, the two commands first, and every page it and docs/ link to is there.

Before: README.md was the reference manual (805 lines); nothing checked that a link between pages resolved.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.support.docs_pages import DOCS, README, REPO_ROOT, anchor, anchors, links, pages

MAX_README_LINES = 200
# Generated from the error catalogue on another branch of issue 18; linked before it lands. Once it is on this
# branch, this exemption is void: the test below then holds it to exist like any other page.
GENERATED_ELSEWHERE = {DOCS / "errors.md"}


def _relative(target: str) -> bool:
    return "://" not in target and not target.startswith("mailto:")


def _resolve(page: Path, target: str) -> tuple[Path, str]:
    path, _, fragment = target.partition("#")
    return ((page.parent / unquote(path)).resolve() if path else page), unquote(fragment)


def test_readme_is_short_and_names_both_commands_first():
    text = README.read_text()
    assert len(text.splitlines()) <= MAX_README_LINES, "README is the front door: move detail to a docs/ page"
    head = "\n".join(text.splitlines()[:40])
    assert "make run" in head
    assert "make test" in head


def test_every_docs_page_the_readme_links_to_exists():
    linked = [_resolve(README, t)[0] for t in links(README) if _relative(t)]
    docs_pages = [p for p in linked if p.parent == DOCS]
    assert len(docs_pages) >= 10, docs_pages
    missing = [p.name for p in docs_pages if not p.exists() and p not in GENERATED_ELSEWHERE]
    assert not missing, missing


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_relative_link_resolves(page: Path):
    broken = []
    for target in links(page):
        if not _relative(target):
            continue
        path, fragment = _resolve(page, target)
        if not path.exists():
            if path not in GENERATED_ELSEWHERE:
                broken.append(target)
            continue
        if fragment and path.suffix == ".md" and fragment not in anchors(path):
            broken.append(target)
    assert not broken, f"{page.relative_to(REPO_ROOT)}: {broken}"


def test_the_docs_index_lists_every_page():
    index = DOCS / "README.md"
    listed = {_resolve(index, t)[0] for t in links(index) if _relative(t)}
    unlisted = [p.name for p in DOCS.iterdir() if p.suffix in (".md", ".json") and p != index and p not in listed]
    assert not unlisted, f"docs/README.md should list {unlisted}"


def test_anchor_follows_github():
    assert anchor("A visit at a ЦОН branch (ИС ЦОН)") == "a-visit-at-a-цон-branch-ис-цон"
    assert anchor("E-mail and SMS: the mesh's outbox") == "e-mail-and-sms-the-meshs-outbox"
    assert anchor("Verifying a signature with a stock tool") == "verifying-a-signature-with-a-stock-tool"

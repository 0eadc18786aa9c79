"""The README and the docs/ pages as tests read them: their fenced code blocks, links and headings' anchors."""

from __future__ import annotations

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
README = REPO_ROOT / "README.md"
DOCS = REPO_ROOT / "docs"

_FENCE = re.compile(r"^```[a-z]*\n(.*?)^```", flags=re.DOTALL | re.MULTILINE)
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def pages() -> list[Path]:
    """The README and every Markdown page of docs/."""
    return [README, *sorted(DOCS.glob("*.md"))]


def code_blocks(page: str | Path) -> list[str]:
    """The fenced code blocks of a page (``README.md``, ``docs/flows.md``), as written."""
    return _FENCE.findall((REPO_ROOT / page).read_text())


def page_block(page: str | Path, containing: str) -> str:
    """The one fenced code block of ``page`` that contains ``containing``."""
    found = [b for b in code_blocks(page) if containing in b]
    assert len(found) == 1, f"one block of {page} with {containing!r}, found {len(found)}"
    return found[0]


def links(page: Path) -> list[str]:
    """The link targets of a page's Markdown outside its code blocks."""
    return _LINK.findall(_FENCE.sub("", page.read_text()))


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped (letters of any script, digits, ``_`` and
    ``-`` kept), spaces as hyphens."""
    text = re.sub(r"`|\*\*|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """The anchors of a page's headings."""
    text = _FENCE.sub("", page.read_text())
    return {anchor(h) for h in re.findall(r"^#{1,6} (.+)$", text, flags=re.MULTILINE)}

"""The README and the docs/ pages as tests read them: their fenced code blocks, links and headings' anchors."""

from __future__ import annotations

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
README = REPO_ROOT / "README.md"
DOCS = REPO_ROOT / "docs"

_FENCE = re.compile(r"^```[^\n`]*\n(.*?)^```", flags=re.DOTALL | re.MULTILINE)
_FENCE_INFO = re.compile(r"^```([^\n`]*)\n(.*?)^```", flags=re.DOTALL | re.MULTILINE)
RUNNABLE = ("sh", "python")  # a block in one of these languages runs as written, unless marked ``norun``
NOT_RUN = "norun"  # the info string's mark of a block that is not run as written (```sh norun): say why nearby
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def pages() -> list[Path]:
    """The README and every Markdown page of docs/."""
    return [README, *sorted(DOCS.glob("*.md"))]


def code_blocks(page: str | Path) -> list[str]:
    """The fenced code blocks of a page (``README.md``, ``docs/flows.md``), as written."""
    return _FENCE.findall((REPO_ROOT / page).read_text())


def fenced_blocks(page: str | Path) -> list[tuple[str, str]]:
    """Each fenced code block of a page with its info string (``sh``, ``python``, ``sh norun``, ``text``)."""
    return [(info.strip(), body) for info, body in _FENCE_INFO.findall((REPO_ROOT / page).read_text())]


def runnable(info: str) -> bool:
    """A block the suite must run as written: a shell or Python block not marked ``norun``."""
    words = info.split()
    return bool(words) and words[0] in RUNNABLE and NOT_RUN not in words[1:]


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

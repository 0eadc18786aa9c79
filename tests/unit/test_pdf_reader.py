"""Reading a PDF someone gives the portal is bounded by construction (issue 17, item 3): the embedded-files tree is
walked at most so far, at most so many entries counted, and only the wanted files inflated — each at most its limit.
Measured here by what the reader allocates (tracemalloc counts every byte Python allocates: no clock involved),
and through the worker process the portal uses."""

from __future__ import annotations

import asyncio
import tracemalloc
import zlib

import pypdf  # noqa: F401 - imported before any measurement: an import is not the reader's cost
import pytest

from shared.employment.documents import MAX_SIGNED_DOCUMENT_BYTES, SignedResult, read_pdf, render_pdf
from shared.employment.pdf_reader import (
    MAX_EMBEDDED_FILES,
    MAX_TREE_NODES,
    MAX_WORKERS,
    PdfRefused,
    extract,
    read_isolated,
)
from shared.errors import status_of
from tests.support.pdf_bomb import (
    BOMB_ENTRIES,
    BOMB_ENTRY_BYTES,
    cyclic_tree_pdf,
    issue_17_bomb,
    one_entry_bomb,
    pdf_with_files,
)

WANTED = {"document.json": MAX_SIGNED_DOCUMENT_BYTES, "qr.txt": 16 * 1024}
PEAK_BOUND = 4 * 1024 * 1024  # what reading any of these may allocate; the bomb's entries inflate to 70 MB each


def _measured(pdf: bytes) -> tuple[str, str, int]:
    """(the refusal's code and message, or "" for none; the most memory Python held at once while reading, beyond
    what it held before)."""
    tracemalloc.start()
    try:
        extract(pdf, WANTED)
        code = message = ""
    except PdfRefused as exc:
        code, message = exc.code, exc.message
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return code, message, peak


def test_the_issues_bomb_is_refused_by_its_count_before_anything_is_inflated():
    bomb = issue_17_bomb()
    assert len(bomb) < 2 * 1024 * 1024, "small enough for the portal to take it: the attack is what it inflates to"
    code, _, peak = _measured(bomb)
    assert code == "PDF_TOO_MANY_FILES"
    assert peak < PEAK_BOUND, f"{peak} bytes for a PDF whose entries inflate to {BOMB_ENTRIES * BOMB_ENTRY_BYTES}"


def test_an_entry_that_inflates_beyond_its_limit_is_refused_having_inflated_at_most_the_limit():
    code, message, peak = _measured(one_entry_bomb())
    assert code == "PDF_EMBEDDED_FILE_TOO_LARGE"
    assert str(MAX_SIGNED_DOCUMENT_BYTES) in message
    assert peak < PEAK_BOUND, peak


def test_only_the_first_entry_of_a_name_is_inflated_and_the_cost_is_counted():
    document = b'{"content": {}, "signature": "x"}'
    pdf = pdf_with_files([("document.json", zlib.compress(document)), ("qr.txt", zlib.compress(b"EGOVDOC1:"))]
                         + [("document.json", zlib.compress(b"x" * 100_000))] * (MAX_EMBEDDED_FILES - 2))
    found = extract(pdf, WANTED)
    assert found.files == {"document.json": document, "qr.txt": b"EGOVDOC1:"}
    assert (found.entries, found.nodes, found.inflated) == (MAX_EMBEDDED_FILES, 1, len(document) + 9)


def test_the_tree_is_walked_only_so_far_and_a_cycle_ends():
    spread = pdf_with_files([("other.bin", zlib.compress(b"x"))] * 4, kids=MAX_TREE_NODES + 4)
    code, message, _ = _measured(spread)
    assert code == "PDF_TOO_COSTLY"
    assert "nodes" in message
    found = extract(cyclic_tree_pdf(5), WANTED)
    assert (found.files, found.nodes) == ({}, 5), "every node once, then done"
    code, _, _ = _measured(cyclic_tree_pdf(MAX_TREE_NODES + 1))
    assert code == "PDF_TOO_COSTLY"


@pytest.mark.parametrize("given", [b"%PDF-1.7 nonsense", b"%PDF-" + bytes(range(256)) * 64])
def test_what_is_not_a_pdf_is_named(given: bytes):
    with pytest.raises(PdfRefused) as refused:
        extract(given, WANTED)
    assert refused.value.code == "PDF_UNREADABLE"


async def test_the_worker_reads_the_mesh_pdf_and_refuses_the_bomb():
    document = SignedResult(content={"documentNumber": "T-1", "title": "Справка"}, signature="MIIB")
    pdf = render_pdf(document)
    assert await read_isolated(pdf, WANTED) == extract(pdf, WANTED).files
    assert read_pdf(pdf).document == document
    for bomb, code in ((issue_17_bomb(), "PDF_TOO_MANY_FILES"), (one_entry_bomb(), "PDF_EMBEDDED_FILE_TOO_LARGE")):
        with pytest.raises(PdfRefused) as refused:
            await read_isolated(bomb, WANTED)
        assert (refused.value.code, status_of(refused.value.code)) == (code, 422)


async def test_no_more_than_max_workers_read_at_once_and_the_rest_are_told_to_come_back():
    pdf = issue_17_bomb()
    answers = await asyncio.gather(*(read_isolated(pdf, WANTED) for _ in range(MAX_WORKERS + 2)),
                                   return_exceptions=True)
    codes = [a.code for a in answers if isinstance(a, PdfRefused)]
    assert sorted(codes) == sorted(["PDF_TOO_MANY_FILES"] * MAX_WORKERS + ["PDF_READER_BUSY"] * 2), answers
    busy = next(a for a in answers if isinstance(a, PdfRefused) and a.code == "PDF_READER_BUSY")
    assert status_of(busy.code) == 503
    with pytest.raises(PdfRefused) as again:  # every worker has finished: a new one is taken
        await read_isolated(pdf, WANTED)
    assert again.value.code == "PDF_TOO_MANY_FILES"

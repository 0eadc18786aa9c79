"""Reading the files embedded in a PDF someone gives the portal (``document.json``, ``qr.txt``): untrusted bytes, read
in a worker process of their own, every cost bounded.

Why: pypdf is pure Python, and a PDF can be made to cost anything. Issue 17's bomb — 1.7 MB, 25 embedded files named
``document.json``, each 70 MB of zeros deflated — took 5.6 s on the portal's event loop (``/health`` silent, three at
once held a citizen's login 27.5 s) and left the portal at 1.8 GB: the old reader inflated every entry of that name.
A thread would free the loop but can be neither stopped nor held to a memory limit, and pypdf's own decompression
allocates a whole stream before any check of ours looks at it. So the reading is bounded twice:

* by construction (``extract``): at most MAX_TREE_NODES nodes of the embedded-files name tree are visited (a tree may
  be deep or cyclic) and at most MAX_EMBEDDED_FILES entries counted — more is ``PDF_TOO_MANY_FILES``, before anything
  is inflated; only the first entry of each wanted name is inflated, at most its own limit plus one byte
  (``PDF_EMBEDDED_FILE_TOO_LARGE`` past it); every other stream pypdf inflates for itself (an object or xref stream)
  at most STREAM_LIMIT bytes, and every array or dictionary it parses at most ELEMENT_LIMIT entries (its error is
  ``PDF_TOO_COSTLY``). So the inflated bytes are at most the wanted limits plus STREAM_LIMIT for each object read —
  a few dozen objects, whatever the PDF says;
* by the operating system (``read_isolated``): the reader runs in a fresh interpreter (``python -I`` on this file,
  which imports nothing of the mesh) with an address-space limit of WORKER_MEMORY_BYTES and WORKER_CPU_S seconds of
  CPU, killed at WORKER_DEADLINE_S, and at most MAX_WORKERS run at once (more: 503 ``PDF_READER_BUSY``). Its memory
  goes when it exits; the portal's event loop only waits on a pipe.

The worker's answer is one JSON object on stdout: ``{"files": {name: base64}}`` or ``{"refused": {code, message}}``.
Nothing it reads is logged.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_EMBEDDED_FILES = 8  # entries of the embedded-files tree; the mesh's PDFs carry two
MAX_TREE_NODES = 16  # nodes of that tree visited (the mesh's PDFs: one)
STREAM_LIMIT = 1024 * 1024  # bytes pypdf may inflate of any one stream it reads for itself
ELEMENT_LIMIT = 4096  # entries of one array or dictionary pypdf parses
WORKER_MEMORY_BYTES = 256 * 1024 * 1024  # the worker's address space (a bare interpreter with pypdf: ~55 MB)
WORKER_CPU_S = 5  # the worker's CPU time (the mesh's own PDFs: ~0.1 s)
WORKER_DEADLINE_S = 10.0  # wall time, then it is killed
MAX_WORKERS = 4  # PDFs read at once by one process; more are refused, not queued
_DECODERS = ("zlib", "lzw", "run_length", "brotli", "jbig2")  # pypdf's decoders, each with its output limit
_WORKER = str(Path(__file__).resolve())


class PdfRefused(Exception):
    """The PDF is not read: ``code`` names why (PDF_UNREADABLE, PDF_TOO_MANY_FILES, PDF_EMBEDDED_FILE_TOO_LARGE,
    PDF_TOO_COSTLY, PDF_READER_BUSY). Not a MeshError: the worker imports nothing of the mesh; the service passes it
    on as ``shared.employment.documents.DocumentError``, whose status is the code's (shared/error_catalogue.py)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


@dataclass
class Extracted:
    """What ``extract`` found, and what it cost: entries counted and bytes inflated of the files it wanted."""

    files: dict[str, bytes] = field(default_factory=dict)
    entries: int = 0
    nodes: int = 0
    inflated: int = 0


def extract(data: bytes, wanted: dict[str, int]) -> Extracted:
    """The first embedded file of each name in ``wanted`` (name → the most bytes it may inflate to), read within the
    limits above. In this process: the worker runs it, and tests measure it; the portal never calls it directly."""
    from pypdf import apply_configuration
    from pypdf.errors import LimitReachedError, PyPdfError

    out = Extracted()
    try:
        with apply_configuration(None, **_reader_limits()):
            found = _find_wanted(_embedded_files_tree(data), wanted, out)
            for name, spec in found.items():
                out.files[name] = _inflate(name, spec, limit=wanted[name], out=out)
    except PdfRefused:
        raise
    except LimitReachedError as exc:
        raise PdfRefused("PDF_TOO_COSTLY", f"reading the PDF goes beyond the reader's limits: {exc}") from None
    except (PyPdfError, ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError,
            OSError) as exc:
        raise PdfRefused("PDF_UNREADABLE", f"not a readable PDF: {type(exc).__name__}: {exc}") from None
    return out


def _reader_limits() -> dict[str, int]:
    """pypdf's configuration while it reads a stranger's PDF: every stream it inflates for itself and every array or
    dictionary it parses bounded (the module's docstring)."""
    limits: dict[str, int] = {f"{kind}_maximum_output_length": STREAM_LIMIT for kind in _DECODERS}
    return limits | {"array_based_stream_maximum_output_length": STREAM_LIMIT,
                     "image_maximum_buffer_size": STREAM_LIMIT, "zlib_maximum_recovery_input_length": 64 * 1024,
                     "stream_filters_maximum_length": 2, "stream_decoding_work_maximum_length": 2 * STREAM_LIMIT,
                     "array_maximum_element_count": ELEMENT_LIMIT, "dictionary_maximum_element_count": ELEMENT_LIMIT}


def _embedded_files_tree(data: bytes) -> Any:
    """The root of the PDF's embedded-files name tree (``/Root /Names /EmbeddedFiles``), or None when it has none."""
    from pypdf import PdfReader
    from pypdf.generic import DictionaryObject

    root = PdfReader(io.BytesIO(data)).trailer["/Root"].get_object()
    if not isinstance(root, DictionaryObject):
        raise PdfRefused("PDF_UNREADABLE", f"not a readable PDF: its /Root is a {type(root).__name__}")
    names = root.get("/Names")
    return names.get_object().get("/EmbeddedFiles") if names is not None else None


def _find_wanted(tree: Any, wanted: dict[str, int], out: Extracted) -> dict[str, Any]:
    """The file specification of the first entry of each wanted name, walking at most MAX_TREE_NODES nodes of the tree
    and counting at most MAX_EMBEDDED_FILES entries; nothing is inflated here."""
    from pypdf.generic import ArrayObject, DictionaryObject

    found: dict[str, Any] = {}
    pending = [tree] if tree is not None else []
    seen: dict[int, Any] = {}  # by identity (pypdf gives an indirect object once); held, so ids stay theirs
    while pending:
        node = pending.pop().get_object()
        if id(node) in seen:
            continue
        seen[id(node)] = node
        out.nodes += 1  # whatever it is: a kid that is not a node costs its reading too
        if out.nodes > MAX_TREE_NODES:
            raise PdfRefused("PDF_TOO_COSTLY", f"the embedded-files tree has more than {MAX_TREE_NODES} nodes")
        if not isinstance(node, DictionaryObject):
            continue
        kids = node.get("/Kids")
        if kids is not None and isinstance(kids.get_object(), ArrayObject):
            pending.extend(reversed(kids.get_object()))
        pairs = node.get("/Names")
        pairs = pairs.get_object() if pairs is not None else None
        if isinstance(pairs, ArrayObject):
            _take_names(pairs, wanted, found, out)
    return found


def _take_names(pairs: list[Any], wanted: dict[str, int], found: dict[str, Any], out: Extracted) -> None:
    """One leaf's ``/Names`` array (name, file specification, name, …): each entry counted, the first of each wanted
    name kept in ``found``."""
    for i in range(0, len(pairs) - 1, 2):
        out.entries += 1
        if out.entries > MAX_EMBEDDED_FILES:
            raise PdfRefused("PDF_TOO_MANY_FILES", f"the PDF embeds more than {MAX_EMBEDDED_FILES} files; "
                             "the mesh's documents embed two")
        name = pairs[i].get_object()
        if isinstance(name, str) and name in wanted and name not in found:
            found[name] = pairs[i + 1]


def _inflate(name: str, spec: Any, *, limit: int, out: Extracted) -> bytes:
    """One embedded file's content, inflated to at most ``limit`` + 1 bytes (pypdf's own limit, set for this call)."""
    from pypdf import apply_configuration
    from pypdf.errors import LimitReachedError
    from pypdf.generic import DictionaryObject, StreamObject

    spec = spec.get_object()
    streams = spec.get("/EF") if isinstance(spec, DictionaryObject) else None
    streams = streams.get_object() if streams is not None else None
    stream = None
    if isinstance(streams, DictionaryObject):
        key = next((k for k in ("/UF", "/F") if k in streams), None)
        stream = streams[key].get_object() if key else None
    if not isinstance(stream, StreamObject):
        raise PdfRefused("PDF_UNREADABLE", f"the embedded {name} has no content stream")
    bound = {f"{kind}_maximum_output_length": limit + 1 for kind in _DECODERS}
    try:
        with apply_configuration(None, **bound, array_based_stream_maximum_output_length=limit + 1,
                                 stream_decoding_work_maximum_length=2 * (limit + 1)):
            content = stream.get_data()
    except LimitReachedError:
        content = None
    if content is None or len(content) > limit:
        raise PdfRefused("PDF_EMBEDDED_FILE_TOO_LARGE", f"the embedded {name} inflates to more than {limit} bytes")
    out.inflated += len(content)
    return content


# ---- the worker: this file run by itself ----------------------------------------------------------------------------
def _work() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY_BYTES, WORKER_MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_CPU, (WORKER_CPU_S, WORKER_CPU_S + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    wanted = {str(k): int(v) for k, v in json.loads(sys.argv[1]).items()}
    os.nice(10)  # the service's own requests come first
    data = sys.stdin.buffer.read()
    try:
        found = extract(data, wanted)
        answer: dict[str, Any] = {"files": {k: base64.b64encode(v).decode() for k, v in found.files.items()}}
    except PdfRefused as exc:
        answer = {"refused": {"code": exc.code, "message": exc.message}}
    except MemoryError:
        answer = {"refused": {"code": "PDF_TOO_COSTLY", "message": "reading the PDF needs more memory than the "
                              f"reader has ({WORKER_MEMORY_BYTES // 2**20} MiB)"}}
    except Exception as exc:  # whatever pypdf meets that it did not expect: this PDF is not read
        answer = {"refused": {"code": "PDF_UNREADABLE", "message": f"not a readable PDF: {type(exc).__name__}"}}
    sys.stdout.write(json.dumps(answer))


class _Workers:
    """How many PDFs this process is reading now, and for whom: plain values, so they belong to no event loop."""

    running = 0
    callers: set[str] = set()  # noqa: RUF012 - one set for the process, on purpose


def workers_running() -> int:
    """Worker processes reading a PDF for this process now."""
    return _Workers.running


async def read_isolated(data: bytes, wanted: dict[str, int], *, caller: str | None = None) -> dict[str, bytes]:
    """``extract`` in a worker process (see the module's docstring); the files found, or PdfRefused. One ``caller``
    (an address) has one PDF read at a time (429 ``PDF_ALREADY_READING``): two addresses at the anonymous rate limit
    cannot hold every worker and shut everyone else out. The worker gets no environment (the service's secrets stay
    out of the process that parses a stranger's bytes) and a lower priority than the service."""
    if caller is not None and caller in _Workers.callers:
        raise PdfRefused("PDF_ALREADY_READING", "a PDF from this address is being read now: one at a time")
    if _Workers.running >= MAX_WORKERS:
        raise PdfRefused("PDF_READER_BUSY", f"{MAX_WORKERS} PDFs are being read now; try again in a few seconds")
    _Workers.running += 1
    if caller is not None:
        _Workers.callers.add(caller)
    process = None
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-I", _WORKER, json.dumps(wanted), stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env={"LANG": "C.UTF-8"})
        try:
            output, _ = await asyncio.wait_for(process.communicate(data), timeout=WORKER_DEADLINE_S)
        except TimeoutError:
            raise PdfRefused("PDF_TOO_COSTLY", f"reading the PDF takes longer than {WORKER_DEADLINE_S:g} s") from None
        try:
            answer = json.loads(output)
        except ValueError:  # it died before it answered: killed by its CPU limit (SIGXCPU), or out of memory in C
            raise PdfRefused("PDF_TOO_COSTLY", "reading the PDF goes beyond the reader's memory or CPU time "
                             f"(the reader ended with {process.returncode})") from None
        if "refused" in answer:
            raise PdfRefused(answer["refused"]["code"], answer["refused"]["message"])
        return {name: base64.b64decode(content) for name, content in answer["files"].items()}
    finally:
        _Workers.running -= 1
        _Workers.callers.discard(caller or "")
        if process is not None and process.returncode is None:
            process.kill()
            await process.wait()


if __name__ == "__main__":
    _work()

"""PDFs made to be expensive to read, as an attacker would write them: by hand, a few objects and an xref table.

``issue_17_bomb`` is the one issue 17 measured: 1.7 MB, 25 embedded files all named ``document.json``, each 70 MB of
zeros deflated (to ~68 KB). Built when asked (deflating 70 MB once takes a few tenths of a second), never stored.
"""

from __future__ import annotations

import functools
import zlib

BOMB_ENTRY_BYTES = 70 * 1024 * 1024  # what each of the bomb's entries inflates to
BOMB_ENTRIES = 25


@functools.cache
def deflated_zeros(size: int = BOMB_ENTRY_BYTES) -> bytes:
    return zlib.compress(bytes(size), 9)


def pdf_with_files(files: list[tuple[str, bytes]], *, kids: int = 0) -> bytes:
    """A one-page PDF embedding ``files`` (name, content already deflated: /FlateDecode) in its EmbeddedFiles name
    tree — in its root node, or spread over ``kids`` child nodes (round robin)."""
    specs: list[bytes] = []
    first_file = 5 + kids
    pairs = [f"({name}) {first_file + 2 * k} 0 R" for k, (name, _) in enumerate(files)]
    if kids:
        tree = f"<< /Kids [{' '.join(f'{5 + i} 0 R' for i in range(kids))}] >>".encode()
        nodes = [f"<< /Names [{' '.join(pairs[i::kids])}] >>".encode() for i in range(kids)]
    else:
        tree = f"<< /Names [{' '.join(pairs)}] >>".encode()
        nodes = []
    for k, (name, content) in enumerate(files):
        stream = first_file + 2 * k + 1
        specs.append(f"<< /Type /Filespec /F ({name}) /UF ({name}) /EF << /F {stream} 0 R >> >>".encode())
        specs.append(f"<< /Type /EmbeddedFile /Filter /FlateDecode /Length {len(content)} >>\nstream\n".encode()
                     + content + b"\nendstream")
    objects = [b"<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles 4 0 R >> >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>", tree, *nodes, *specs]
    return _assemble(objects)


def cyclic_tree_pdf(nodes: int) -> bytes:
    """A PDF whose EmbeddedFiles tree is ``nodes`` nodes each naming the next as its kid, the last the first: no file,
    no end."""
    tree = [f"<< /Kids [{4 + (i + 1) % nodes} 0 R] >>".encode() for i in range(nodes)]
    return _assemble([b"<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles 4 0 R >> >>",
                      b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                      b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>", *tree])


def _assemble(objects: list[bytes]) -> bytes:
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def issue_17_bomb() -> bytes:
    return pdf_with_files([("document.json", deflated_zeros())] * BOMB_ENTRIES)


def one_entry_bomb() -> bytes:
    """Two entries, as the mesh's own PDFs have: ``document.json`` inflating to 70 MB, and a ``qr.txt``."""
    return pdf_with_files([("document.json", deflated_zeros()), ("qr.txt", zlib.compress(b"EGOVDOC1:"))])

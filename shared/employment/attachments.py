"""Electronic copies of documents an application names: what they may be, and whether the content given is the
content the signed form names.

The form lists each document by SHA-256 (the applicant's or the operator's EDS over the form covers the digests);
the bytes travel beside the form — in the portal's request, in ИС ЦОН's scans, in the message through the
gateway — and every hop checks them against the signed digests, so a copy swapped after signing is refused
wherever it is seen, not accepted and noticed later. The checks are one set of rules for every intake.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import Any

from shared.errors import MeshError
from shared.mesh.contracts import ATTACHMENT_TYPES, MAX_COPIES_BYTES, MAX_DOCUMENT_BYTES, MAX_DOCUMENTS


@dataclass(frozen=True)
class Content:
    """One electronic copy, decoded, with the digest computed here (never the one the sender claims)."""

    sha256: str
    content_type: str
    data: bytes


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def allowed_type(content_type: str) -> str:
    """The media type of a copy, if copies may be of it (``ATTACHMENT_TYPE_NOT_ALLOWED``, 415)."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind not in ATTACHMENT_TYPES:
        raise MeshError("ATTACHMENT_TYPE_NOT_ALLOWED", f"electronic copies are {', '.join(ATTACHMENT_TYPES)}, "
                        f"not {kind or 'untyped'}")
    return kind


def decode(items: list[dict[str, Any]]) -> list[Content]:
    """The copies given as ``{contentType, contentBase64}`` (``sha256`` when given must be the content's), each
    checked for type and size, all of them for their sum (they travel in one envelope) and for repeats; refused
    with the rule broken, naming which copy."""
    if len(items) > MAX_DOCUMENTS:
        raise MeshError("ATTACHMENT_TOO_MANY", f"at most {MAX_DOCUMENTS} electronic copies on one form")
    if sum(len(str(item.get("contentBase64") or "")) for item in items) > (MAX_COPIES_BYTES + 2) // 3 * 4:
        raise MeshError("ATTACHMENTS_TOO_LARGE", f"the copies of one application are at most {MAX_COPIES_BYTES} "
                        "bytes in all: they travel through the gateway in one message")
    out: list[Content] = []
    for index, item in enumerate(items):
        kind = allowed_type(str(item.get("contentType") or ""))
        encoded = str(item.get("contentBase64") or "")
        if len(encoded) > (MAX_DOCUMENT_BYTES + 2) // 3 * 4:
            raise MeshError("ATTACHMENT_TOO_LARGE", f"attachments[{index}]: an electronic copy is at most "
                            f"{MAX_DOCUMENT_BYTES} bytes")
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise MeshError("ATTACHMENT_NOT_BASE64", f"attachments[{index}]: contentBase64 is not base64") from None
        if not data:
            raise MeshError("ATTACHMENT_EMPTY", f"attachments[{index}] has no content")
        if len(data) > MAX_DOCUMENT_BYTES:
            raise MeshError("ATTACHMENT_TOO_LARGE", f"attachments[{index}]: an electronic copy is at most "
                            f"{MAX_DOCUMENT_BYTES} bytes, this is {len(data)}")
        computed = digest(data)
        claimed = item.get("sha256")
        if claimed and claimed != computed:
            raise MeshError("ATTACHMENT_DIGEST_MISMATCH", f"attachments[{index}]: its content's SHA-256 is "
                            f"{computed}, not {claimed}")
        if any(c.sha256 == computed for c in out):
            raise MeshError("ATTACHMENT_DUPLICATE", f"attachments[{index}] is the same copy as an earlier one")
        out.append(Content(sha256=computed, content_type=kind, data=data))
    return out


def refuse_oversized(sizes: list[int]) -> None:
    """Copies kept elsewhere first (ИС ЦОН's scans) held to the same sum as ``decode`` holds given ones."""
    if sum(sizes) > MAX_COPIES_BYTES:
        raise MeshError("ATTACHMENTS_TOO_LARGE", f"the copies of one application are at most {MAX_COPIES_BYTES} "
                        f"bytes in all (these are {sum(sizes)}): they travel through the gateway in one message")


# How a copy can differ from the signed form: the code of each problem (the first problem's is the refusal's).
_MISMATCH_CODES = {"missing": "ATTACHMENT_MISSING", "differs": "ATTACHMENT_MISMATCH",
                   "unsigned": "ATTACHMENT_NOT_SIGNED"}


def mismatches(documents: list[dict[str, Any]], contents: list[Content], *,
               content_required: bool) -> list[tuple[str, str]]:
    """How the copies given differ from the documents the signed form names: ``(code, problem)`` each — a named
    document without its copy (when copies are required), a copy the form does not name (the EDS does not cover
    it), a type or size other than the form says."""
    given = {c.sha256: c for c in contents}
    problems: list[tuple[str, str]] = []
    named = set()
    for document in documents:
        sha = document.get("sha256", "")
        named.add(sha)
        copy = given.get(sha)
        if copy is None:
            if content_required:
                problems.append((_MISMATCH_CODES["missing"], f"«{document.get('name')}» ({sha[:12]}…) is named on the "
                                 "form but its electronic copy was not given"))
            continue
        if document.get("contentType") not in (None, copy.content_type):
            problems.append((_MISMATCH_CODES["differs"], f"«{document.get('name')}»: the form says "
                             f"{document.get('contentType')}, the copy is {copy.content_type}"))
        if document.get("sizeBytes") not in (None, len(copy.data)):
            problems.append((_MISMATCH_CODES["differs"], f"«{document.get('name')}»: the form says "
                             f"{document.get('sizeBytes')} bytes, the copy has {len(copy.data)}"))
    for sha in given.keys() - named:
        problems.append((_MISMATCH_CODES["unsigned"], f"an electronic copy ({sha[:12]}…) is not named on the signed "
                         "form: the EDS does not cover it"))
    return problems


def refuse_mismatched(documents: list[dict[str, Any]], contents: list[Content], *, content_required: bool) -> None:
    """``mismatches`` as one refusal (the first problem's code, every problem listed), or nothing."""
    problems = mismatches(documents, contents, content_required=content_required)
    if problems:
        raise MeshError(problems[0][0], "; ".join(p for _, p in problems),
                        details={"problems": [{"code": c, "problem": p} for c, p in problems]})


def wire(contents: list[Content]) -> list[dict[str, str]]:
    """The copies as they travel in an application's ``attachments``."""
    return [{"sha256": c.sha256, "contentType": c.content_type,
             "contentBase64": base64.b64encode(c.data).decode("ascii")} for c in contents]

"""Scans at the desk: the documents the Standard's п. 9 asks for, scanned and kept once by their SHA-256; the
form names them and they travel with it as the application's electronic copies (the same types and limits)."""

from __future__ import annotations

import hashlib

from services.con_operator.store import OperatorAccount, Scan, ScanRef
from shared.clock import MeshClock
from shared.db import Sessions, insert_if_absent
from shared.employment.attachments import Content, allowed_type
from shared.errors import MeshError
from shared.mesh.contracts import ATTACHMENT_TYPES

SCAN_TYPES = ATTACHMENT_TYPES  # a scan travels as an application's copy: the same types


def scan_type(content_type: str) -> str:
    """The media type of an upload, if scans may be of it (checked before the body is read)."""
    try:
        return allowed_type(content_type)
    except MeshError as exc:
        raise MeshError("SCAN_TYPE_NOT_ALLOWED", exc.message.replace("electronic copies", "scans")) from None


class Scans:
    def __init__(self, *, sessions: Sessions, clock: MeshClock, max_scan_bytes: int) -> None:
        self._sessions = sessions
        self._clock = clock
        self.max_scan_bytes = max_scan_bytes

    async def store(self, operator: OperatorAccount, *, content: bytes, content_type: str) -> Scan:
        """A scanned document, kept once by its SHA-256 (a second upload of the same bytes is the same scan); the
        branch that uploaded it is recorded, so its operators may attach and read it and others may not."""
        kind = scan_type(content_type)
        if not content:
            raise MeshError("SCAN_EMPTY", "the scan has no content")
        if len(content) > self.max_scan_bytes:
            raise MeshError("SCAN_TOO_LARGE", f"a scan is at most {self.max_scan_bytes} bytes, this is "
                            f"{len(content)}")
        digest = hashlib.sha256(content).hexdigest()
        async with self._sessions() as session, session.begin():
            await insert_if_absent(session, Scan.__table__, {  # type: ignore[attr-defined]
                "sha256": digest, "content_type": kind, "size": len(content), "content": content,
                "uploaded_at": self._clock.now(), "uploaded_by": operator.iin})
            await insert_if_absent(session, ScanRef.__table__,  # type: ignore[attr-defined]
                                   {"sha256": digest, "branch": operator.branch})
        return await self.get(digest, branch=operator.branch)

    async def get(self, digest: str, *, branch: str | None) -> Scan:
        """A scan this branch uploaded (``branch`` None: any, for the admin). Another branch's is not found."""
        async with self._sessions() as session:
            scan = await session.get(Scan, digest)
            known = branch is None or await session.get(ScanRef, (digest, branch)) is not None
        if scan is None or not known:
            raise MeshError("SCAN_NOT_FOUND", f"no scan with SHA-256 {digest} at this branch: upload it first "
                            "(POST /scans)")
        return scan

    async def copies(self, documents: list[dict[str, str]], *, branch: str) -> list[Content]:
        """The scans a signed form names, as the copies that travel with it."""
        copies = []
        for document in documents:
            scan = await self.get(document["sha256"], branch=branch)
            copies.append(Content(sha256=scan.sha256, content_type=scan.content_type, data=scan.content))
        return copies

"""The citizen's own documents: the signed result of one of their applications (as ИС МИО's notice brought it, as
JSON or a printable PDF) and the electronic copies they attached."""

from __future__ import annotations

import asyncio

from services.portal.store import CitizenCopy
from shared.db import Sessions
from shared.employment.case_tracking import cases, notices
from shared.employment.documents import SignedResult, render_pdf
from shared.errors import MeshError


class ResultDocuments:
    def __init__(self, *, sessions: Sessions, verify_url: str) -> None:
        """``verify_url``: printed in a PDF whose signed data is too large for its QR code."""
        self._sessions = sessions
        self.verify_url = verify_url

    async def document(self, *, iin: str, correlation_id: str) -> SignedResult:
        """The signed result of one of the citizen's applications, as ИС МИО's notice brought it."""
        found = await cases(self._sessions, iin=iin, correlation_id=correlation_id)
        if not found:
            raise MeshError("APPLICATION_NOT_FOUND", "you have no application with this id")
        signed = [n for n in await notices(self._sessions, iin=iin, correlation_id=correlation_id) if n.document]
        if not signed:
            raise MeshError("DOCUMENT_NOT_READY", f"the application has no signed result yet (status "
                            f"{found[0].status})", details={"status": found[0].status})
        return SignedResult.parse(signed[-1].document)

    async def pdf(self, document: SignedResult) -> bytes:
        """The bilingual PDF, rendered off the event loop."""
        return await asyncio.to_thread(render_pdf, document, verify_url=self.verify_url)

    async def copy(self, *, iin: str, sha256: str) -> CitizenCopy:
        """A copy this citizen attached (another citizen's is not found, whoever asks)."""
        async with self._sessions() as session:
            copy = await session.get(CitizenCopy, (iin, sha256))
        if copy is None:
            raise MeshError("DOCUMENT_COPY_NOT_FOUND", f"no copy {sha256} among your applications' documents")
        return copy

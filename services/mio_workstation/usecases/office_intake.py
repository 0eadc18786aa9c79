"""A paper application entered at the office by the МИО employee of the accepting role (seed table 1): channel
«office». Everything is checked before anything is written (the form, the signer, the role, the copies, the EDS);
with an ``Idempotency-Key`` a repeat answers with the application the first call made."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from services.mio_workstation.store import Application, StaffAccount
from services.mio_workstation.usecases.districts import Districts
from services.mio_workstation.usecases.form_signature import FormSignatures
from services.mio_workstation.usecases.opening import NewApplication, Opening
from services.mio_workstation.usecases.reads import Reads
from services.mio_workstation.usecases.roles import check_office_clerk
from shared.db import Sessions
from shared.employment.attachments import decode, refuse_mismatched
from shared.employment.forms import kinds_of, refuse_unfit
from shared.employment.regulations import Regulation, RegulationBook
from shared.errors import MeshError
from shared.mesh.contracts import ApplicationRequest
from shared.web.idempotency import claim as claim_key
from shared.web.idempotency import replayed, request_digest


class _AlreadyEntered(Exception):
    """An office intake lost the race for its idempotency key: its transaction is rolled back."""


@dataclass(frozen=True)
class _Admitted:
    regulation: Regulation
    form: dict[str, Any]  # exactly as signed
    scope: str
    digest: str


class OfficeIntake:
    def __init__(self, *, sessions: Sessions, book: RegulationBook, districts: Districts,
                 signatures: FormSignatures, opening: Opening, reads: Reads) -> None:
        self._sessions = sessions
        self._book = book
        self._districts = districts
        self._signatures = signatures
        self._opening = opening
        self._reads = reads

    def _admit(self, *, district: str, staff: StaffAccount, request: ApplicationRequest) -> _Admitted:
        """The checks that need no I/O, in the order a clerk makes them; and the request's idempotency digest."""
        self._districts.runtime(district)
        regulation = self._book.find(district=district, service=request.form.service_id, channel="office")
        if regulation is None:
            raise MeshError("CHANNEL_NOT_PROVIDED", f"{request.form.service_id} is not received at the office in "
                            f"{district}")
        form = request.form.model_dump(by_alias=True, exclude_unset=True)  # exactly as signed
        refuse_unfit(form, referral_kinds=kinds_of(regulation))
        if request.signed_by not in regulation.signers():
            raise MeshError("SIGNER_NOT_ALLOWED", f"a paper application is signed by the "
                            f"{' or the '.join(regulation.signers())}, not the {request.signed_by}")
        check_office_clerk(staff=staff, district=district, regulation=regulation)
        copies = decode([a.model_dump(by_alias=True) for a in request.attachments])
        refuse_mismatched(form.get("documents") or [], copies, content_required=False)  # the paper is at the desk
        digest = request_digest({"district": district, "form": form, "formSignature": request.form_signature,
                                 "signedBy": request.signed_by, "copies": [c.sha256 for c in copies]})
        return _Admitted(regulation=regulation, form=form, scope=f"staff:{staff.iin}", digest=digest)

    async def _earlier(self, admitted: _Admitted, key: str) -> str | None:
        async with self._sessions() as session:
            return await replayed(session, scope=admitted.scope, key=key, digest=admitted.digest)

    async def enter(self, *, district: str, staff: StaffAccount, request: ApplicationRequest,
                    idempotency_key: str | None = None) -> tuple[Application, bool]:
        """The application entered (and whether it is a repeat's answer: the flag)."""
        admitted = self._admit(district=district, staff=staff, request=request)
        if idempotency_key is not None and (earlier := await self._earlier(admitted, idempotency_key)) is not None:
            return (await self._reads.application(earlier)).app, True
        refusal = await self._signatures.refusal(form=admitted.form, signature=request.form_signature,
                                                 signed_by=request.signed_by, district=district, staff=staff)
        if refusal:
            raise MeshError("FORM_SIGNATURE_NOT_CONFIRMED", refusal)
        new = NewApplication(district=district, regulation=admitted.regulation, service_id=request.form.service_id,
                             channel="office", form=admitted.form, signature=request.form_signature,
                             signed_by=request.signed_by, origin=None, correlation_id=str(uuid.uuid4()),
                             request_message_id=None, refusal=None, copies=request.attachments)
        try:
            async with self._sessions() as session, session.begin():
                number = await self._opening.open(session, new)
                if idempotency_key is not None and not await claim_key(
                        session, scope=admitted.scope, key=idempotency_key, digest=admitted.digest, resource=number):
                    raise _AlreadyEntered  # another call with this key got there first: this one is rolled back
        except _AlreadyEntered:
            earlier = await self._earlier(admitted, idempotency_key or "")
            assert earlier is not None
            return (await self._reads.application(earlier)).app, True
        self._districts.after_commit(district)
        return (await self._reads.application(number)).app, False

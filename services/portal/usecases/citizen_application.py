"""A citizen's application (processes 3 to 5 of the regulations): the form checked, its electronic copies against
the digests it names, the citizen's EDS on it (condition 2) — then sent through the gateway, with the copies kept,
in one transaction: the outbox row, the followed case, the idempotency key and the copies commit together or not at
all, so a refused application changes nothing and a repeated one is sent once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlmodel.ext.asyncio.session import AsyncSession

from services.portal.store import CitizenCopy
from services.portal.usecases.form_checks import FormChecks
from shared.clock import MeshClock
from shared.db import Sessions, insert_if_absent
from shared.employment.attachments import Content, refuse_mismatched
from shared.employment.case_tracking import Submission, signed_form, submit_once
from shared.employment.logins import eds_error
from shared.errors import MeshError
from shared.logging import get_logger, message_context
from shared.mesh.contracts import EMPLOYMENT_SERVICES, ApplicationRequest
from shared.mesh.member import MemberRuntime
from shared.pki.cert_check import Expectation
from shared.pki.cert_profile import Holder, Usage

log = get_logger(__name__)


def refuse_organisation_form(request: ApplicationRequest) -> None:
    """A form naming an organisation (``applicantBin``) is sent by the organisation's login, signed with its
    certificate — never by a citizen's (seed 001 п. 9: the IIN/BIN of the request is the certificate's)."""
    if request.form.applicant_bin is not None:
        raise MeshError("ORGANISATION_LOGIN_REQUIRED", "a form naming an organisation (applicantBin) is sent by its "
                        "representative logged in by BIN, to /organisations/{bin}/applications")


def refuse_unknown_service(request: ApplicationRequest) -> None:
    if request.form.service_id not in EMPLOYMENT_SERVICES:
        raise MeshError("SERVICE_UNKNOWN", f"the portal offers {', '.join(EMPLOYMENT_SERVICES)}")


def keeper(owner: str, copies: list[Content], *, clock: MeshClock) -> Callable[[AsyncSession], Awaitable[None]]:
    """What the portal keeps of an application it sends: the copies, under the citizen's IIN (or the
    organisation's BIN), in the transaction that sends it."""
    now = clock.now()

    async def keep(session: AsyncSession) -> None:
        for copy in copies:
            await insert_if_absent(session, CitizenCopy.__table__, {  # type: ignore[attr-defined]
                "iin": owner, "sha256": copy.sha256, "content_type": copy.content_type, "size": len(copy.data),
                "content": copy.data, "stored_at": now})
    return keep


class CitizenApplication:
    def __init__(self, *, sessions: Sessions, runtime: MemberRuntime, clock: MeshClock, checks: FormChecks) -> None:
        """``runtime``: the portal's member — its verifier checks the EDS, its outbox sends."""
        self._sessions = sessions
        self._runtime = runtime
        self._clock = clock
        self._checks = checks

    async def submit(self, *, iin: str, request: ApplicationRequest, district: str | None,
                     idempotency_key: str | None = None, copies: list[Content] | None = None) -> Submission:
        """Check the form, its electronic copies against the digests it names, and the citizen's EDS on it
        (condition 2), then send it with the copies through the gateway and keep the copies — once per
        ``idempotency_key``: a repeat returns the case the first call made."""
        refuse_organisation_form(request)
        if request.form.applicant_iin != iin:
            raise MeshError("NOT_YOUR_DATA", "a citizen applies only for themself")
        refuse_unknown_service(request)
        form = signed_form(request)
        await self._checks.refuse_unfit(iin=iin, form=form, district=district)
        copies = copies or []
        refuse_mismatched(form.get("documents") or [], copies, content_required=True)
        result, _ = await self._runtime.verifier_or_fail().verify_signed_json(
            value=form, signature_b64=request.form_signature,
            expect=Expectation(usage=Usage.SIGN, holder=Holder.INDIVIDUAL, iin=iin))
        if not result.ok:
            raise eds_error(result)  # process 4: refusal because the EDS was not confirmed
        request = request.stapled(result.ocsp_der)
        sent = await submit_once(self._sessions, runtime=self._runtime, request=request, route_id=district,
                                 now=self._clock.now(), scope=f"citizen:{iin}", key=idempotency_key,
                                 keep=keeper(iin, copies, clock=self._clock))
        with message_context(correlation_id=sent.case.correlation_id, service_id=request.form.service_id):
            log.info("application_replayed" if sent.replayed else "application_sent")
        return sent

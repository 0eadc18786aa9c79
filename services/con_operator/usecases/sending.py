"""Signing and sending — seed 003 process 4, condition 2, processes 5-6: the form signed with the logged-in
operator's EDS (or the citizen's, where the regulation allows), checked as the portal's condition 2 checks it,
and sent through the gateway to the district's ИС МИО with the scans it names.

The visit turns SENT and the application is queued in the outbox in one transaction: either both happen or neither
(a refused signature, a form filled again since it was read: nothing sent, nothing changed)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import update
from sqlmodel import col

from services.con_operator.operators import OPERATOR_ROLE
from services.con_operator.store import OperatorAccount, Visit, VisitState
from services.con_operator.usecases.queue import Queue
from services.con_operator.usecases.scans import Scans
from services.con_operator.usecases.visits import Visits
from shared.clock import MeshClock
from shared.db import Sessions
from shared.employment.attachments import wire
from shared.employment.case_tracking import submit
from shared.employment.logins import eds_refusal
from shared.employment.regulations import CentreEvent
from shared.errors import MeshError
from shared.logging import get_logger, message_context
from shared.mesh.contracts import ApplicationForm, ApplicationRequest
from shared.mesh.member import MemberRuntime
from shared.pki.cert_check import CertificateVerifier, Expectation
from shared.pki.cert_profile import Holder, Usage

log = get_logger(__name__)


class SignAndSend:
    def __init__(self, *, sessions: Sessions, clock: MeshClock, runtime: MemberRuntime,
                 verifier: Callable[[], CertificateVerifier], centre: dict[str, str], queue: Queue, scans: Scans,
                 visits: Visits) -> None:
        """``runtime``: the member ИС ЦОН sends as (its outbox); ``verifier``: НУЦ's trust store once loaded (a
        503 ``NOT_READY`` before); ``centre``: the State Corporation's name and BIN as the gateway registered it."""
        self._sessions = sessions
        self._clock = clock
        self._runtime = runtime
        self._verifier = verifier
        self._centre = centre
        self._queue = queue
        self._scans = scans
        self._visits = visits

    async def __call__(self, operator: OperatorAccount, *, visit_id: str, signature: str, signed_by: str) -> Visit:
        visit = await self._visits.own(operator, visit_id)
        if visit.state != VisitState.FILLED:
            raise MeshError("VISIT_ALREADY_SENT", "this application was signed and sent already")
        await self._queue.serving(operator, visit.ticket_id)  # the citizen is still at the desk
        ocsp = await self._check_signature(operator, visit, signature=signature, signed_by=signed_by)
        copies = await self._scans.copies(visit.form.get("documents") or [], branch=visit.branch)
        request = ApplicationRequest(form=ApplicationForm.model_validate(visit.form), form_signature=signature,
                                     signed_by=signed_by, attachments=wire(copies)).stapled(ocsp)
        now = self._clock.now()
        with message_context(correlation_id=visit.correlation_id):
            async with self._sessions() as session, session.begin():
                sent = await session.exec(update(Visit).where(
                    col(Visit.id) == visit.id, col(Visit.state) == VisitState.FILLED,
                    col(Visit.revision) == visit.revision).values(
                    state=VisitState.SENT, signed_by=signed_by, form_signature=signature,
                    events=visit.events | {CentreEvent.SENT.value: now.isoformat()}))
                if not sent.rowcount:
                    raise MeshError("VISIT_CHANGED", "the form was sent or filled again since it was read: read the "
                                    "visit and sign its form")
                submit(session, runtime=self._runtime, request=request, route_id=visit.district, now=now,
                       submitted_by=operator.iin, correlation_id=visit.correlation_id)
            self._runtime.relay.kick()
            self._visits.steps_finished(visit, visit.events | {CentreEvent.SENT.value: now.isoformat()})
            log.info("intake_sent", signed_by=signed_by)
        return await self._visits.get(visit.id)

    async def _check_signature(self, operator: OperatorAccount, visit: Visit, *, signature: str,
                               signed_by: str) -> bytes | None:
        """Who may sign is the regulation's (``centre.signedBy``); the operator signs with their own signing key
        of the State Corporation, a citizen with their own individual's. Gives the OCSP answer the check got, to
        staple to the application for ИС МИО."""
        regulation = self._visits.regulation(visit)
        assert regulation.centre is not None
        if signed_by not in regulation.centre.signed_by:
            raise MeshError("SIGNER_NOT_ALLOWED", f"{regulation.id}: the form is signed by "
                            f"{' or '.join(regulation.centre.signed_by)}, not the {signed_by}")
        if signed_by == "operator":  # the logged-in operator's, of the State Corporation, a signing key
            expect = Expectation(usage=Usage.SIGN, holder=Holder.EMPLOYEE, iin=operator.iin,
                                 bin=self._centre["bin"], role=OPERATOR_ROLE)
        else:
            expect = Expectation(usage=Usage.SIGN, holder=Holder.INDIVIDUAL, iin=visit.applicant_iin)
        result, _ = await self._verifier().verify_signed_json(value=visit.form, signature_b64=signature, expect=expect)
        if not result.ok:
            raise MeshError(eds_refusal(result), "ЭЦП не подтверждена — в услуге отказано (условие 2, процесс 5): "
                            f"{result.message}")
        return result.ocsp_der

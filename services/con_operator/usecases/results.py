"""The result the State Corporation forms — seed 004 п. 10: where the regulation gives ЦОН the result to form
(``centre.formsResult``), the operator drafts the notice from ИС МИО's signed record and signs it with their EDS.

The draft is made once and kept, so the draft signed is the draft stored; a signature never drafts anything."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import update
from sqlmodel import col

from services.con_operator.branches import Branch, BranchBook
from services.con_operator.operators import OPERATOR_ROLE
from services.con_operator.store import OperatorAccount, Visit
from services.con_operator.usecases.visits import Visits
from shared.clock import MeshClock
from shared.db import Sessions
from shared.employment.case_tracking import DECIDED, TrackedCase
from shared.employment.logins import eds_refusal
from shared.employment.regulations import CentreEvent, Regulation
from shared.errors import MeshError
from shared.pki.cert_check import CertificateVerifier, Expectation
from shared.pki.cert_profile import Holder, Usage
from shared.pki.signing import refuse_signing_time

CENTRE_POSITION = ("Мемлекеттік корпорация қызметкері", "Работник Государственной корпорации")  # 004 п. 10: (kk, ru)


def draft_content(*, record: dict[str, Any], case: TrackedCase, visit: Visit, regulation: Regulation,
                  branch: Branch, centre: dict[str, str], operator: OperatorAccount, today: str) -> dict[str, Any]:
    """The notice as the operator signs it: numbered by the branch after ИС МИО's record, issued by the State
    Corporation (its BIN, as the gateway registered ИС ЦОН) — what the verifier holds the signature to."""
    assert regulation.centre is not None
    return {
        "documentNumber": f"{branch.id.upper()}-{record.get('documentNumber', case.application_number)}",
        "date": today, "title": regulation.centre.forms_result,
        "issuer": f"{centre['name']} — {branch.name}", "issuerBin": centre["bin"],
        "regulationId": regulation.id, "service": regulation.title,
        # the person as ИС МИО's signed record names them: ГБД ФЛ's at the decision, not the form's (issue 17)
        "applicant": record.get("applicant"), "applicantIin": record.get("applicantIin", visit.applicant_iin),
        "applicationNumber": case.application_number,
        "registeredOn": record.get("date"), "basis": f"запись № {record.get('documentNumber')} в АИС «Еңбек "
        f"нарығы» ({record.get('issuer')})",
        "text": "Вы зарегистрированы в качестве лица, ищущего работу",
        "signer": {"name": f"{operator.surname} {operator.name}", "position": CENTRE_POSITION[1],
                   "positionKk": CENTRE_POSITION[0], "iin": operator.iin},
    }


class Results:
    def __init__(self, *, sessions: Sessions, clock: MeshClock, branches: BranchBook, visits: Visits,
                 verifier: Callable[[], CertificateVerifier], centre: dict[str, str]) -> None:
        self._sessions = sessions
        self._clock = clock
        self._branches = branches
        self._visits = visits
        self._verifier = verifier
        self._centre = centre

    async def draft(self, operator: OperatorAccount, *, visit_id: str) -> dict[str, Any]:
        """004 п. 10: the notice the State Corporation's worker forms from ИС МИО's record, to be signed. Made
        once and kept, so the draft signed is the draft stored; it names the operator who signs it (``signer``, as
        the certificate has them), so another operator of the branch who takes it over gets it drafted again in
        their name, until it is signed. The issuer is the State Corporation (its BIN, as the gateway registered
        ИС ЦОН) under the regulation whose file has it form the result: what the verifier holds the signature to."""
        visit = await self._visits.of_branch(operator, visit_id)
        regulation = self._visits.regulation(visit)
        assert regulation.centre is not None
        if regulation.centre.forms_result is None:
            raise MeshError("RESULT_NOT_FORMED_HERE", f"{regulation.id}: the result is ИС МИО's signed document; "
                            "hand it out as it is")
        case, final = await self._visits.final(visit)
        if case.status in DECIDED and case.status != "COMPLETED":
            raise MeshError("RESULT_REFUSED", f"ИС МИО refused ({case.status}): hand its signed refusal out as it is")
        if case.status != "COMPLETED" or final is None or not final.document:
            raise MeshError("RESULT_NOT_READY", f"ИС МИО's record is not here yet (status {case.status})")
        if visit.result is not None and (visit.result_signed_at is not None or (
                visit.result["content"].get("signer") or {}).get("iin") == operator.iin):
            return visit.result["content"]
        content = draft_content(record=final.document["content"], case=case, visit=visit, regulation=regulation,
                                branch=self._branches.get(visit.branch), centre=self._centre, operator=operator,
                                today=self._clock.local_now().date().isoformat())
        async with self._sessions() as session, session.begin():
            await session.exec(update(Visit).where(
                col(Visit.id) == visit.id, col(Visit.result_signed_at).is_(None)).values(result={"content": content}))
        return (await self._visits.get(visit.id)).result["content"]  # type: ignore[index]

    async def form(self, operator: OperatorAccount, *, visit_id: str, signature: str) -> Visit:
        """The stored draft, signed by the operator it names. Nothing is drafted here: a refused signature changes
        nothing, and another operator first takes the draft over by reading it (``draft``)."""
        visit = await self._visits.of_branch(operator, visit_id)
        if visit.result_signed_at is not None:
            raise MeshError("RESULT_ALREADY_FORMED", "the result was formed and signed already")
        if visit.result is None:
            raise MeshError("RESULT_NOT_DRAFTED", "read the draft first (GET …/result/draft) and sign what it says")
        draft = visit.result["content"]
        if (draft.get("signer") or {}).get("iin") != operator.iin:
            raise MeshError("RESULT_DRAFTED_FOR_ANOTHER", "the draft names another operator as its signer: read it "
                            "again (GET …/result/draft) to have it drafted in your name, and sign that")
        result, verified = await self._verifier().verify_signed_json(value=draft, signature_b64=signature,
                                                                     expect=Expectation(
            usage=Usage.SIGN, holder=Holder.EMPLOYEE, iin=operator.iin, bin=self._centre["bin"],
            role=OPERATOR_ROLE))
        if not result.ok:
            raise MeshError(eds_refusal(result),
                            f"the result's EDS is not the operator's valid signature: {result.message}")
        now = self._clock.now()
        assert verified is not None
        refuse_signing_time(verified, now=now, what="the result's EDS")
        async with self._sessions() as session, session.begin():
            formed = await session.exec(update(Visit).where(
                col(Visit.id) == visit.id, col(Visit.result_signed_at).is_(None)).values(
                result={"content": draft, "signature": signature, "signerIin": operator.iin}, result_signed_at=now,
                events=visit.events | {CentreEvent.RESULT_FORMED.value: now.isoformat()}))
            if not formed.rowcount:
                raise MeshError("RESULT_ALREADY_FORMED", "the result was just formed and signed")
        self._visits.steps_finished(visit, visit.events | {CentreEvent.RESULT_FORMED.value: now.isoformat()})
        return await self._visits.get(visit.id)

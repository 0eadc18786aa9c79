"""Reading visits: one, a branch's, and a visit as the operator sees it — the form, the statuses ИС ЦОН heard from
ИС МИО, the ЦОН-side steps of the regulation with their maxima and overdue flags (seed 003 table 2), the result."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import col, select

from services.con_operator.store import OperatorAccount, Visit, VisitState
from shared.clock import MeshClock
from shared.db import Sessions
from shared.employment.case_tracking import DECIDED, CaseNotice, TrackedCase, notices
from shared.employment.regulations import CentreEvent, Regulation, RegulationBook
from shared.errors import MeshError
from shared.telemetry import metrics

CENTRE_TEXT = {"FILLED": "Заполнено: ожидает подписи", "RECEIVED": "Поступившие из ЦОН", "IN_PROGRESS": "В работе",
               "COMPLETED": "Исполнено: результат готов к выдаче", "REFUSED": "Отказано: мотивированный отказ готов "
               "к выдаче", "NOT_ACCEPTED": "Отказано в приеме", "SENT": "Отправлено в ИС МИО",
               "FAILED": "Не доставлено"}


class Visits:
    def __init__(self, *, sessions: Sessions, clock: MeshClock, regulations: RegulationBook) -> None:
        self._sessions = sessions
        self._clock = clock
        self._regulations = regulations

    async def get(self, visit_id: str) -> Visit:
        async with self._sessions() as session:
            visit = await session.get(Visit, visit_id)
        if visit is None:
            raise MeshError("VISIT_NOT_FOUND", f"no visit {visit_id}")
        return visit

    async def visible(self, visit_id: str, who: OperatorAccount | None) -> Visit:
        """A visit an operator of its branch (or the admin: ``who`` None) may read."""
        found = await self.get(visit_id)
        if who is not None and who.branch != found.branch:
            raise MeshError("NOT_YOUR_BRANCH", f"this visit is of branch {found.branch}")
        return found

    async def of_branch(self, operator: OperatorAccount, visit_id: str) -> Visit:
        """A visit of the operator's branch: any operator there may form and hand out its result."""
        visit = await self.get(visit_id)
        if visit.branch != operator.branch:
            raise MeshError("NOT_YOUR_BRANCH", f"this visit is of branch {visit.branch}")
        return visit

    async def own(self, operator: OperatorAccount, visit_id: str) -> Visit:
        """A visit this operator took in: only they sign and send its form."""
        visit = await self.of_branch(operator, visit_id)
        if visit.operator_iin != operator.iin:
            raise MeshError("VISIT_NOT_YOURS", "another operator took this intake")
        return visit

    def regulation(self, visit: Visit) -> Regulation:
        return self._regulations.all[visit.regulation_id]

    def steps_finished(self, visit: Visit, events: dict[str, str]) -> None:
        """Count the ЦОН-side steps the events just recorded (``events``, beside the visit's earlier ones) finish:
        their mesh-time duration and whether they ran past their maximum (``mesh_step_duration_seconds``)."""
        centre = self.regulation(visit).centre
        if centre is None:
            return
        for step in centre.steps:
            started, finished = events.get(step.start.value), events.get(step.end.value)
            if started is None or finished is None or step.end.value in visit.events or step.max.minutes is None:
                continue
            took = dt.datetime.fromisoformat(finished) - dt.datetime.fromisoformat(started)
            metrics().step_finished(f"centre.{step.id}", seconds=took.total_seconds(),
                                    overdue=took > dt.timedelta(minutes=step.max.minutes))

    async def final(self, visit: Visit) -> tuple[TrackedCase, CaseNotice | None]:
        """The case the visit sent, and ИС МИО's final notice of it (None while it has not decided)."""
        async with self._sessions() as session:
            case = await session.get(TrackedCase, visit.correlation_id)
            final = (await session.exec(select(CaseNotice).where(
                CaseNotice.correlation_id == visit.correlation_id, col(CaseNotice.status).in_(DECIDED))
                .order_by(col(CaseNotice.id)))).first()
        if case is None:
            raise MeshError("RESULT_NOT_READY", "the application has not been sent yet")
        return case, final

    async def find(self, *, branch: str | None = None, iin: str | None = None) -> list[Visit]:
        query = select(Visit).order_by(col(Visit.created_at))
        if branch:
            query = query.where(Visit.branch == branch)
        if iin:
            query = query.where(Visit.applicant_iin == iin)
        async with self._sessions() as session:
            return list((await session.exec(query)).all())

    async def view(self, visit: Visit) -> dict[str, Any]:
        """A visit as the operator sees it: the form, the statuses ИС ЦОН heard, the ЦОН-side steps with their
        maxima and overdue flags, the result."""
        async with self._sessions() as session:
            case = await session.get(TrackedCase, visit.correlation_id)
        heard = await notices(self._sessions, correlation_id=visit.correlation_id)
        events = dict(visit.events)
        final = next((n for n in heard if n.status in DECIDED), None)
        if final is not None:
            events[CentreEvent.RESULT_SENT.value] = final.at
            events[CentreEvent.RESULT_SHOWN.value] = iso(final.received_at)
        status = case.status if case else "FILLED"
        return {
            "id": visit.id, "ticketId": visit.ticket_id, "branch": visit.branch, "operatorIin": visit.operator_iin,
            "serviceId": visit.service_id, "regulation": visit.regulation_id, "district": visit.district,
            "applicantIin": visit.applicant_iin, "state": visit.state, "signedBy": visit.signed_by,
            "form": visit.form, "formSignature": visit.form_signature, "correlationId": visit.correlation_id,
            "applicationNumber": case.application_number if case else None, "status": status,
            "statusText": "Выдано" if visit.state == VisitState.HANDED_OUT else CENTRE_TEXT.get(status, status),
            "refusalCode": case.refusal_code if case else None,
            "statuses": [{"status": n.status, "statusText": CENTRE_TEXT.get(n.status, n.status_text),
                          "providerText": n.status_text, "at": n.at, "receivedAt": iso(n.received_at),
                          "text": n.text, "reason": n.reason} for n in heard],
            "document": final.document if final else None, "result": visit.result,
            "delivery": visit.delivery, "deliveredTo": visit.delivered_to, "handedOutBy": visit.handed_out_by,
            "events": events, "timeline": timeline(self.regulation(visit), events, now=self._clock.now(),
                                                   refused=status in DECIDED and status != "COMPLETED"),
        }


def timeline(regulation: Regulation, events: dict[str, str], *, now: dt.datetime,
             refused: bool = False) -> list[dict[str, Any]]:
    """Each ЦОН-side step of the regulation: when it started and finished (its events), its maximum, and whether
    it ran (or is running) past it. Forming the result does not apply to a refusal (ИС МИО's is handed out)."""
    assert regulation.centre is not None
    out = []
    for step in regulation.centre.steps:
        started, finished = events.get(step.start.value), events.get(step.end.value)
        applies = not (refused and CentreEvent.RESULT_FORMED in (step.start, step.end))
        due = overdue = None
        if started is not None and applies:
            assert step.max.minutes is not None
            due = dt.datetime.fromisoformat(started) + dt.timedelta(minutes=step.max.minutes)
            overdue = (dt.datetime.fromisoformat(finished) if finished else now) > due
        out.append({"step": step.id, "from": step.start.value, "to": step.end.value, "action": step.action,
                    "max": step.max.describe(), "source": step.source, "startedAt": started, "finishedAt": finished,
                    "dueAt": due.isoformat() if due else None, "overdue": overdue, "applies": applies})
    return out


def iso(value: dt.datetime | None) -> str:
    assert value is not None
    return value.isoformat()

"""One action of an application's current step, by a staff member or by simulated staff (``actor`` None): whose
turn it is (``roles``), the action's own check and what it prepares before the transaction (``actions``), and
then, in one transaction with the application locked, the change applied — the result's number given, the step
finished and the next one started, the result e-mailed or told by SMS, «Еңбек нарығы» written and every status
change queued in the outbox with it."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from sqlmodel.ext.asyncio.session import AsyncSession

from services.mio_workstation.domain import Status, document_number, next_action, numbered
from services.mio_workstation.store import Application, DocumentCounter, StaffAccount, StepRecord
from services.mio_workstation.usecases.actions import (
    ACTIONS,
    ActionBody,
    ActionRequest,
    Decided,
    Facilities,
    Issued,
    Prepared,
    apply,
)
from services.mio_workstation.usecases.districts import Districts
from services.mio_workstation.usecases.notices import email_result, notify_status, sms_result
from services.mio_workstation.usecases.register import LabourRegister
from services.mio_workstation.usecases.roles import check_turn
from services.mio_workstation.usecases.steps import Steps, current
from shared.clock import KZ_TZ
from shared.db import Sessions, raise_counter, snapshot
from shared.employment.regulations import Action, RegulationBook
from shared.errors import MeshError
from shared.logging import get_logger, message_context
from shared.mesh.scenarios import FlowScenario, using
from shared.telemetry import metrics

log = get_logger(__name__)


async def next_document_number(session: AsyncSession, district: str, *, year: int) -> str:
    """A result document's own number, from the district's register of outgoing documents."""
    sequence = await raise_counter(session, DocumentCounter, district=district, year=year)
    return document_number(district=district, year=year, sequence=sequence)


class StepActions:
    def __init__(self, *, sessions: Sessions, book: RegulationBook, steps: Steps, districts: Districts,
                 register: LabourRegister, facilities: Facilities) -> None:
        self._sessions = sessions
        self._book = book
        self._steps = steps
        self._districts = districts
        self._register = register
        self._facilities = facilities

    async def act(self, *, number: str, action: str, actor: StaffAccount | None, body: ActionBody) -> Application:
        """One action of the current step; the application as committed."""
        async with snapshot(self._sessions) as session:
            app, record = await current(session, number, lock=False,
                                        district=actor.district if actor is not None else None)
        return await self.act_on(app, record, action=action, actor=actor, body=body)

    async def act_on(self, app: Application, record: StepRecord, *, action: str, actor: StaffAccount | None,
                     body: ActionBody) -> Application:
        """``act`` on the application and open step the caller has just read (simulated staff read them to see
        that the step is due): the commit reads them again, locked, and refuses the action if the step moved on."""
        with using(FlowScenario.from_stored(app.scenario)):  # the case's own scenario, whoever acts (docs/scenarios.md)
            return await self._act(app, record, action=action, actor=actor, body=body)

    async def _act(self, app: Application, record: StepRecord, *, action: str, actor: StaffAccount | None,
                   body: ActionBody) -> Application:
        number = app.number
        regulation = self._book.all[app.regulation_id]
        check_turn(app=app, regulation=regulation, record=record, action=action, actor=actor)
        request = ActionRequest(app=app, regulation=regulation, step=regulation.steps[record.position], actor=actor,
                                body=body, at=self._steps.when(record, actor))
        handler = ACTIONS[Action(action)]
        handler.check(request)
        prepared = await handler.prepare(request, self._facilities)
        with message_context(correlation_id=app.correlation_id, application_number=number):
            app = await self._commit(request, position=record.position, action=action, prepared=prepared)
            self._districts.after_commit(app.district)
            log.info("step_action_done", action=action, actor="auto" if actor is None else actor.role,
                     at=request.at.isoformat())
        return app  # as committed (sessions keep objects loaded after commit)

    async def _commit(self, request: ActionRequest, *, position: int, action: str, prepared: Prepared) -> Application:
        at, step, regulation = request.at, request.step, request.regulation
        async with self._sessions() as session, session.begin():
            # Read again, locked: another actor may have done this very action since the read above. The step is
            # the one this action was prepared for, or the action is refused (never applied to the next step).
            app, record = await current(session, request.app.number, lock=True)
            if record.position != position or next_action(step, record.done) != action:
                raise MeshError("STEP_ALREADY_DONE", f"'{action}' of application {app.number} was just done")
            if isinstance(prepared, Decided):  # the draft's own number, given in the transaction that keeps it
                prepared = replace(prepared, draft=numbered(prepared.draft, await next_document_number(
                    session, app.district, year=at.astimezone(KZ_TZ).year)))
            apply(app, prepared, at=at)
            if isinstance(prepared, Issued):
                self._hand_out(session, app, request, prepared)
            record.done = [*record.done, action]
            if next_action(step, record.done) is None:
                await self._finish_step(session, app, request, record)
            session.add(record)
            if not Status(app.status).active:
                await self._register.record(session, app=app, service=regulation.service, at=at)
                notify_status(session, self._districts.runtime(app.district), app, regulation=regulation,
                              title=regulation.title, at=at)
            session.add(app)
        return app

    def _hand_out(self, session: AsyncSession, app: Application, request: ActionRequest, issued: Issued) -> None:
        """The result e-mailed and told by SMS, queued in the transaction that records the issue."""
        runtime = self._districts.runtime(app.district)
        if issued.delivery == "email" and issued.address:
            email_result(session, runtime, app, regulation=request.regulation, address=issued.address)
        if issued.sms_to:
            sms_result(session, runtime, app, regulation=request.regulation, phone=issued.sms_to, at=request.at)

    async def _finish_step(self, session: AsyncSession, app: Application, request: ActionRequest,
                           record: StepRecord) -> None:
        """The step's last action done: the step finished (late or not) and, while the case is open, the next
        one started at the same mesh time."""
        at: dt.datetime = request.at
        record.finished_at, record.actor = at, request.actor.iin if request.actor else "auto"
        record.overdue = at > record.due_at
        metrics().step_finished(record.step_id, seconds=(at - record.started_at).total_seconds(),
                                overdue=record.overdue)
        if Status(app.status).active and record.position + 1 < len(request.regulation.steps):
            await self._steps.start(session, app=app, regulation=request.regulation, position=record.position + 1,
                                    at=at)

"""An application's steps on the mesh clock and the Kazakh calendar: starting one (with its deadline and, for
simulated staff, its schedule), finding the open one, and the mesh time an action is done at."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import bindparam
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.mio_workstation.domain import Status, auto_at, forced_overdue_at, step_due
from services.mio_workstation.store import Application, StaffAccount, StepRecord
from services.mio_workstation.usecases.districts import Districts
from services.mio_workstation.usecases.notices import notify_status
from shared.clock import MeshClock
from shared.employment.regulations import Action, Regulation
from shared.errors import MeshError
from shared.mesh.scenarios import FlowScenario
from shared.working_calendar import WorkingCalendar


def schedule(app: Application, regulation: Regulation, *, started: dt.datetime, due: dt.datetime) -> dt.datetime | None:
    """When simulated staff (or the system itself) do the step: at once for a register the ЦОН enters into
    (``processing: automatic``), at the district's share of the step's time in auto mode, never in manual."""
    if regulation.processing == "automatic":
        return started
    if app.mode != "auto":
        return None
    return auto_at(started=started, due=due, share=app.auto_share)


def scheduled(app: Application, regulation: Regulation, *, step_id: str, started: dt.datetime,
              due: dt.datetime) -> dt.datetime | None:
    """``schedule``, unless the case's scenario makes this step overdue (``mio:overdue:<step>``, docs/scenarios.md):
    simulated staff then finish it past its maximum."""
    at = schedule(app, regulation, started=started, due=due)
    scenario = FlowScenario.from_stored(app.scenario)
    rule = scenario.rule("mio", "overdue") if scenario is not None else None
    if at is not None and rule is not None and rule.argument == step_id and regulation.processing != "automatic":
        return forced_overdue_at(started=started, due=due)
    return at


async def open_step(session: AsyncSession, number: str) -> StepRecord | None:
    return (await session.exec(_OPEN_STEP, params={"number": number})).first()


async def current(session: AsyncSession, number: str, *, lock: bool,
                  district: str | None = None) -> tuple[Application, StepRecord]:
    """The application and its open step. For staff of ``district``, another district's application is
    NOT_YOUR_DISTRICT before anything else (its status and its step are not theirs to learn)."""
    if lock:  # the step read after the lock is taken: on PostgreSQL a joined row would be as it was before the wait
        app = (await session.exec(_LOCKED_APPLICATION, params={"number": number})).first()
        step = await open_step(session, number) if app is not None else None
    else:  # one round trip for both: simulated staff read them for every action they do
        found = (await session.exec(_WITH_OPEN_STEP, params={"number": number})).first()
        app, step = found if found is not None else (None, None)
    if app is None:
        raise MeshError("APPLICATION_NOT_FOUND", f"no application {number}")
    if district is not None and app.district != district:
        raise MeshError("NOT_YOUR_DISTRICT", f"application {number} belongs to another district")
    if not Status(app.status).active:
        raise MeshError("APPLICATION_CLOSED", f"application {number} is {Status(app.status).text}; no step is open")
    assert step is not None, f"an active application {number} has an open step"
    return app, step



# Built once, the number bound as a parameter: simulated staff run them for every action (SQLAlchemy keys its
# compiled cache by the statement; building one anew cost more than SQLite's read).
_OPEN_STEP = select(StepRecord).where(StepRecord.application_number == bindparam("number"),
                                      col(StepRecord.finished_at).is_(None))
_LOCKED_APPLICATION = select(Application).where(Application.number == bindparam("number")).with_for_update()
_WITH_OPEN_STEP = select(Application, StepRecord).outerjoin(
    StepRecord, (col(StepRecord.application_number) == Application.number)
    & col(StepRecord.finished_at).is_(None)).where(Application.number == bindparam("number"))

class Steps:
    def __init__(self, *, clock: MeshClock, calendar: WorkingCalendar, districts: Districts) -> None:
        self._clock = clock
        self._calendar = calendar
        self._districts = districts

    async def start(self, session: AsyncSession, *, app: Application, regulation: Regulation, position: int,
                    at: dt.datetime) -> None:
        """The step starts when the previous one finished (``at``, mesh time); its schedule follows from there.
        The step that decides puts the application «В работе», told in the same transaction."""
        step = regulation.steps[position]
        due = step_due(started=at, duration=step.max, calendar=self._calendar)
        session.add(StepRecord(application_number=app.number, position=position, step_id=step.id, role=step.role,
                               started_at=at, due_at=due,
                               auto_at=scheduled(app, regulation, step_id=step.id, started=at, due=due)))
        if Action.DECIDE in step.does and app.status == Status.RECEIVED:
            app.status = Status.IN_PROGRESS
            session.add(app)
            notify_status(session, self._districts.runtime(app.district), app, regulation=regulation,
                          title=regulation.title, at=at)

    def when(self, record: StepRecord, actor: StaffAccount | None) -> dt.datetime:
        """The mesh time an action is done at: now for staff; for simulated staff, the step's scheduled time —
        however far the clock has jumped past it (the semantics of a time-skipping test server). Never before the
        step started: after the clock is reset behind a case, its history still runs forward."""
        now = self._clock.now()
        if actor is None and record.auto_at is not None:
            now = min(record.auto_at, now)
        return max(now, record.started_at)

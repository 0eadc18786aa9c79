"""Simulated staff: in auto mode each step is done after its share of the allowed time, on the mesh clock; the
runner (``auto_runner``) asks what is due and has each application's due steps done here, in order, each at its own
scheduled time — one clock jump over a case's whole schedule brings it to its final status — each step in the
trace of the message that opened the case."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import bindparam
from sqlmodel import col, func, select

from services.mio_workstation.domain import Status, next_action
from services.mio_workstation.store import StepRecord
from services.mio_workstation.usecases.act import StepActions
from services.mio_workstation.usecases.actions import ActionBody
from services.mio_workstation.usecases.steps import current
from shared.clock import MeshClock
from shared.db import Sessions, snapshot
from shared.employment.regulations import RegulationBook
from shared.telemetry import TRACEPARENT, span


class SimulatedStaff:
    def __init__(self, *, sessions: Sessions, clock: MeshClock, book: RegulationBook, actions: StepActions) -> None:
        self._sessions = sessions
        self._clock = clock
        self._book = book
        self._actions = actions

    async def due(self) -> tuple[list[str], dt.datetime | None]:
        """Applications whose current step simulated staff should have finished by now (earliest first), and when
        the next one falls due."""
        now = self._clock.now()
        async with snapshot(self._sessions) as session:
            due = (await session.exec(_DUE, params={"now": now})).all()
            upcoming = (await session.exec(_UPCOMING, params={"now": now})).one()
        return list(due), upcoming

    async def finish(self, number: str) -> None:
        """Do every step of the application whose scheduled time has passed, in order, each at its own time."""
        while True:
            async with snapshot(self._sessions) as session:
                app, record = await current(session, number, lock=False)
            if record.auto_at is None or record.auto_at > self._clock.now():
                return
            action = next_action(self._book.all[app.regulation_id].steps[record.position], record.done)
            assert action is not None, f"an open step of {number} has an action left"
            # The case's own trace (the message that opened it), not a new one per wake-up of the runner: the
            # notices these steps send continue the trace the citizen's request began.
            with span(f"simulated staff {action}", parent={TRACEPARENT: app.traceparent} if app.traceparent else None,
                      attributes={"mesh.step": record.step_id}):
                app = await self._actions.act_on(app, record, action=action, actor=None, body=ActionBody())
            if not Status(app.status).active:
                return


# Built once, the time bound as a parameter: the runner asks them at every pass.
_DUE = select(StepRecord.application_number).where(
    col(StepRecord.finished_at).is_(None), col(StepRecord.auto_at) <= bindparam("now")).order_by(
    col(StepRecord.auto_at))
_UPCOMING = select(func.min(StepRecord.auto_at)).where(
    col(StepRecord.finished_at).is_(None), col(StepRecord.auto_at) > bindparam("now"))

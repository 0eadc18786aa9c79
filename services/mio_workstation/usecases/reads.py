"""What ИС МИО answers to readers: an application with its timeline, a district's inbox and overdue counts, the
simulated staff's schedule. Each answer is read in one snapshot (``shared.db.snapshot``) and reads never write:
whether a step is overdue is worked out from the mesh clock when it is read (``domain.overdue``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import col, func, select

from services.mio_workstation.domain import ACTIVE, Status, overdue
from services.mio_workstation.store import Application, ApplicationDocument, StepRecord
from shared.clock import MeshClock
from shared.db import Sessions, snapshot
from shared.errors import MeshError


@dataclass(frozen=True)
class ApplicationView:
    """An application and its timeline as of one moment, with the mesh time they were read at."""

    app: Application
    timeline: list[StepRecord]
    now: dt.datetime

    def overdue(self, record: StepRecord) -> bool:
        return overdue(due=record.due_at, finished=record.finished_at, auto=record.auto_at, now=self.now)


def _overdue_clause(now: dt.datetime) -> Any:
    """``domain.overdue`` as SQL, for inbox filters and counts."""
    late_finish = and_(col(StepRecord.finished_at).is_not(None), col(StepRecord.finished_at) > col(StepRecord.due_at))
    late_open = and_(col(StepRecord.finished_at).is_(None), col(StepRecord.due_at) < now,
                     or_(col(StepRecord.auto_at).is_(None), col(StepRecord.auto_at) > col(StepRecord.due_at)))
    return or_(late_finish, late_open)


class Reads:
    def __init__(self, *, sessions: Sessions, clock: MeshClock) -> None:
        self._sessions = sessions
        self._clock = clock

    async def application(self, number: str) -> ApplicationView:
        async with snapshot(self._sessions) as session:
            app = await session.get(Application, number)
            if app is None:
                raise MeshError("APPLICATION_NOT_FOUND", f"no application {number}")
            timeline = list((await session.exec(select(StepRecord).where(StepRecord.application_number == number)
                                                .order_by(col(StepRecord.position)))).all())
        return ApplicationView(app=app, timeline=timeline, now=self._clock.now())

    async def copy(self, number: str, sha256: str) -> ApplicationDocument:
        """An electronic copy application ``number`` came with (another application's is not found here)."""
        async with self._sessions() as session:
            copy = await session.get(ApplicationDocument, (number, sha256))
        if copy is None:
            raise MeshError("DOCUMENT_COPY_NOT_FOUND", f"application {number} came with no copy {sha256}")
        return copy

    async def inbox(self, *, district: str, status: str | None) -> tuple[list[Application], dict[str, int]]:
        """A district's applications (filtered: a status, DONE, or OVERDUE) and its overdue steps by step."""
        now = self._clock.now()
        query = select(Application).where(Application.district == district)
        if status == "OVERDUE":
            late = select(StepRecord.application_number).where(_overdue_clause(now))
            query = query.where(col(Application.number).in_(late))
        elif status == "DONE":
            query = query.where(col(Application.status).not_in(ACTIVE))
        elif status:
            query = query.where(Application.status == Status(status))
        counts = (select(StepRecord.step_id, func.count())
                  .join(Application, col(Application.number) == col(StepRecord.application_number))
                  .where(Application.district == district, _overdue_clause(now)).group_by(StepRecord.step_id))
        async with snapshot(self._sessions) as session:
            apps = list((await session.exec(query.order_by(col(Application.received_at)))).all())
            overdue_steps = dict((await session.exec(counts)).all())
        return apps, overdue_steps

    async def schedule(self, *, number: str | None = None) -> dict[str, Any]:
        """When simulated staff act next (mesh time), and how many steps are due now, for one application or all."""
        now = self._clock.now()
        open_auto = and_(col(StepRecord.finished_at).is_(None), col(StepRecord.auto_at).is_not(None))
        if number is not None:
            open_auto = and_(open_auto, col(StepRecord.application_number) == number)
        async with snapshot(self._sessions) as session:
            due = (await session.exec(select(func.count()).where(open_auto, col(StepRecord.auto_at) <= now))).one()
            upcoming = (await session.exec(select(func.min(StepRecord.auto_at)).where(
                open_auto, col(StepRecord.auto_at) > now))).one()
            waiting = (await session.exec(select(func.count()).where(
                col(StepRecord.finished_at).is_(None), col(StepRecord.auto_at).is_(None),
                *([StepRecord.application_number == number] if number else [])))).one()
        return {"now": now.isoformat(), "dueNow": int(due), "next": upcoming.isoformat() if upcoming else None,
                "waitingForStaff": int(waiting)}

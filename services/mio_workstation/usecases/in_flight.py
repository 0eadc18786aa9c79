"""What ИС МИО has under way, as the gateway's settle asks (``shared.mesh.in_flight``): steps of simulated staff due
now (being done: a decision waits on ГБД ФЛ), when the next one is scheduled — for the case asked about, so that
only its steps drive the clock — and the case as ИС МИО knows it."""

from __future__ import annotations

import datetime as dt

from sqlmodel import col, or_, select

from services.mio_workstation.store import Application
from services.mio_workstation.usecases.reads import Reads
from shared.db import Sessions, snapshot
from shared.mesh.in_flight import CaseSeen, WorkProbe, WorkSeen


def _moment(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


def staff_work(*, sessions: Sessions, reads: Reads) -> WorkProbe:
    """Steps due now count mesh-wide (work under way anywhere is in flight); the next one is the case's, when a
    case is named (none if ИС МИО has not heard of it yet: its application is still on the way)."""

    async def probe(ref: str | None) -> WorkSeen:
        everywhere = await reads.schedule()
        if ref is None:
            return WorkSeen(due_now=everywhere["dueNow"], next_due=_moment(everywhere["next"]))
        async with snapshot(sessions) as session:
            app = (await session.exec(select(Application).where(or_(
                col(Application.number) == ref, col(Application.correlation_id) == ref)))).first()
        if app is None:
            return WorkSeen(due_now=everywhere["dueNow"])
        its = await reads.schedule(number=app.number)
        # a step of the case due by now (the clock moved since ``everywhere`` was read) is its next: due this instant
        due = _moment(its["now"]) if its["dueNow"] else _moment(its["next"])
        return WorkSeen(due_now=everywhere["dueNow"], next_due=due,
                        cases=[CaseSeen(role="provider", status=app.status, correlation_id=app.correlation_id,
                                        application_number=app.number)])

    return probe

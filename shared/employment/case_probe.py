"""The cases a portal or ИС ЦОН follows, as the gateway's settle asks about them (``shared.mesh.in_flight``): a
case is settled only once the system the applicant used has heard its final status — not when ИС МИО decided it."""

from __future__ import annotations

from sqlmodel import col, or_, select

from shared.db import Sessions, snapshot
from shared.employment.case_tracking import TrackedCase
from shared.mesh.in_flight import CaseSeen, WorkProbe, WorkSeen


def followed_cases(sessions: Sessions) -> WorkProbe:
    """A probe answering with the case (by correlation id or application number) as this system follows it."""

    async def probe(ref: str | None) -> WorkSeen:
        if ref is None:
            return WorkSeen()
        async with snapshot(sessions) as session:
            found = (await session.exec(select(TrackedCase).where(or_(
                col(TrackedCase.correlation_id) == ref, col(TrackedCase.application_number) == ref)))).all()
        return WorkSeen(cases=[CaseSeen(role="origin", status=c.status, correlation_id=c.correlation_id,
                                        application_number=c.application_number) for c in found])

    return probe

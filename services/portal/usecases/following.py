"""Following applications: every status notice and refusal that reaches the portal is recorded once, in the inbox's
transaction (``shared.employment.case_tracking.record_notice``) — a citizen's application at ИС ЦОН or the МИО
office too, adopted from its first notice so «История получения услуг» lists every channel — and read back as the
citizen's or the organisation's history and «Уведомления», read and unread."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlmodel import col, func, select

from shared.clock import MeshClock
from shared.db import Sessions
from shared.employment.case_tracking import NOTICE_ORDER, CaseNotice, TrackedCase, cases, follow, notices
from shared.mesh.contracts import EMPLOYMENT_SERVICES
from shared.mesh.member import MemberRuntime


def follow_applications(runtime: MemberRuntime, *, clock: MeshClock) -> None:
    """Record the notices and refusals of the employment services that reach the portal's member, adopting the
    applications other channels sent."""
    follow(runtime, services=EMPLOYMENT_SERVICES, clock_now=clock.now, adopt=True)


class Following:
    def __init__(self, *, sessions: Sessions, clock: MeshClock) -> None:
        self._sessions = sessions
        self._clock = clock

    async def cases(self, *, iin: str | None = None, correlation_id: str | None = None,
                    updated_since: dt.datetime | None = None) -> list[TrackedCase]:
        """A citizen's applications (every one, for the admin), oldest first."""
        return await cases(self._sessions, iin=iin, correlation_id=correlation_id, updated_since=updated_since)

    async def notices(self, iin: str) -> list[CaseNotice]:
        """A citizen's «Уведомления» in the order things happened."""
        return await notices(self._sessions, iin=iin)

    async def unread(self, iin: str) -> list[CaseNotice]:
        return [n for n in await notices(self._sessions, iin=iin) if n.read_at is None]

    async def unread_count(self, iin: str) -> int:
        async with self._sessions() as session:
            return (await session.exec(select(func.count()).select_from(CaseNotice).where(
                CaseNotice.applicant_iin == iin, col(CaseNotice.read_at).is_(None)))).one()

    async def mark_read(self, iin: str, *, ids: list[int] | None) -> int:
        """Mark the citizen's notices read — those of ``ids`` (another's are left alone), or all; how many were."""
        async with self._sessions() as session, session.begin():
            query = update(CaseNotice).where(col(CaseNotice.applicant_iin) == iin, col(CaseNotice.read_at).is_(None))
            if ids is not None:
                query = query.where(col(CaseNotice.id).in_(ids))
            return (await session.exec(query.values(read_at=self._clock.now()))).rowcount

    async def organisation_cases(self, bin_: str) -> list[TrackedCase]:
        """The organisation's «История получения услуг»: the applications it submitted (by any representative)."""
        async with self._sessions() as session:
            return list((await session.exec(select(TrackedCase).where(TrackedCase.submitted_by == bin_)
                                            .order_by(col(TrackedCase.submitted_at)))).all())

    async def organisation_notices(self, bin_: str) -> list[CaseNotice]:
        """Every status notice of the organisation's applications, the signed result with the final one."""
        theirs = select(TrackedCase.correlation_id).where(TrackedCase.submitted_by == bin_)
        async with self._sessions() as session:
            return list((await session.exec(select(CaseNotice).where(col(CaseNotice.correlation_id).in_(theirs))
                                            .order_by(*NOTICE_ORDER))).all())

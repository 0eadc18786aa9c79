"""Looking certificates up: one by serial, those of an IIN, a BIN or a member id, and those a holder cannot use yet
(what moving the mesh clock back leaves behind)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlmodel import col, func, select

from services.nuc_pki.store import IssuedCertificate
from shared.clock import MeshClock
from shared.db import Sessions
from shared.errors import MeshError
from shared.ids import parse_bin, parse_iin


@dataclass(frozen=True)
class NotYetValid:
    at: dt.datetime
    count: int
    by_holder: dict[str, int]
    latest_not_before: dt.datetime | None


class CertificateLookup:
    def __init__(self, *, sessions: Sessions, clock: MeshClock) -> None:
        self._sessions = sessions
        self._clock = clock

    async def by_serial(self, serial: str) -> IssuedCertificate:
        """Serials are hex, matched whatever their case."""
        async with self._sessions() as session:
            record = await session.get(IssuedCertificate, serial.lower())
        if record is None:
            raise MeshError("CERTIFICATE_NOT_FOUND", f"no certificate with serial {serial}")
        return record

    async def search(self, *, iin: str | None, bin_: str | None, member_id: str | None) -> list[IssuedCertificate]:
        """Every criterion given must hold (oldest first); none given is refused, not "all of them"."""
        if not (iin or bin_ or member_id):
            raise MeshError("SEARCH_CRITERION_MISSING", "give iin, bin or memberId")
        query = select(IssuedCertificate).order_by(col(IssuedCertificate.issued_at))
        if iin:
            parse_iin(iin)
            query = query.where(IssuedCertificate.iin == iin)
        if bin_:
            parse_bin(bin_)
            query = query.where(IssuedCertificate.bin == bin_)
        if member_id:
            query = query.where(IssuedCertificate.member_id == member_id)
        async with self._sessions() as session:
            return list((await session.exec(query)).all())

    async def not_yet_valid(self, *, at: dt.datetime | None = None) -> NotYetValid:
        """The certificates a holder cannot use at mesh time ``at`` (default: now) because they begin later: what
        moving the mesh clock back (``reset``) leaves behind. Revoked and deliberately faulty test certificates are
        not counted."""
        if at is not None and at.tzinfo is None:
            raise MeshError("TIME_WITHOUT_OFFSET", f"give the offset of {at.isoformat()} (Z or +05:00)")
        at = at or self._clock.now()
        query = (select(IssuedCertificate.holder, func.count(), func.max(IssuedCertificate.not_before))
                 .where(col(IssuedCertificate.not_before) > at, col(IssuedCertificate.revoked_at).is_(None),
                        col(IssuedCertificate.defect).is_(None))
                 .group_by(IssuedCertificate.holder))
        async with self._sessions() as session:
            rows = (await session.exec(query)).all()
        by_holder = {holder: int(count) for holder, count, _ in rows}
        latest = max((last for _, _, last in rows), default=None)
        return NotYetValid(at=at, count=sum(by_holder.values()), by_holder=by_holder, latest_not_before=latest)

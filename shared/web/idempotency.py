"""``Idempotency-Key``: a client whose submit call was cut off sends it again with the same key and gets the
same case back — never a second application.

A key belongs to whoever submits (a citizen, an operator, a staff member): the same key from someone else
is another key. It is claimed in the transaction that creates the case, so the case and its key exist
together or not at all; a repeat finds the key and answers with the case it made. A key sent again with a
different request is refused (``IDEMPOTENCY_KEY_REUSED``), as the IETF draft on the header asks. Keys are
kept ``KEEP`` (real time), then forgotten.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any

from sqlalchemy import Column, delete
from sqlmodel import Field, SQLModel, col
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import Sessions, UtcDateTime, insert_if_absent
from shared.errors import MeshError
from shared.pki.canonical import canonical_bytes

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEEP = dt.timedelta(days=1)
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_key"

    scope: str = Field(primary_key=True, max_length=64, description="who submitted: citizen:<iin>, staff:<iin>, …")
    key: str = Field(primary_key=True, max_length=255)
    request_digest: str = Field(max_length=64)
    resource: str = Field(max_length=128, description="what the first request made: a case id, a number")
    created_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False, index=True))


def valid_key(key: str | None) -> str | None:
    """The header's value, checked: 1-255 visible ASCII characters (a UUID is the usual choice)."""
    if key is None:
        return None
    if not _KEY.match(key):
        raise MeshError("IDEMPOTENCY_KEY_INVALID", f"{HEADER} must be 1-255 visible ASCII characters (a UUID, say)")
    return key


def request_digest(request: Any) -> str:
    return hashlib.sha256(canonical_bytes(request)).hexdigest()


async def replayed(session: AsyncSession, *, scope: str, key: str, digest: str) -> str | None:
    """The resource an earlier request with this key made, or None; a different request with it is refused."""
    record = await session.get(IdempotencyRecord, (scope, key))
    if record is None:
        return None
    if record.request_digest != digest:
        raise MeshError("IDEMPOTENCY_KEY_REUSED", f"{HEADER} {key!r} was used for a different request; use a new key "
                        "for a new request")
    return record.resource


async def claim(session: AsyncSession, *, scope: str, key: str, digest: str, resource: str) -> bool:
    """Take the key for ``resource`` in the caller's transaction; False when another request took it first."""
    return await insert_if_absent(session, IdempotencyRecord.__table__, {  # type: ignore[attr-defined]
        "scope": scope, "key": key, "request_digest": digest, "resource": resource,
        "created_at": dt.datetime.now(dt.UTC)})


async def purge_keys(sessions: Sessions, *, older_than: dt.timedelta = KEEP) -> int:
    cutoff = dt.datetime.now(dt.UTC) - older_than
    async with sessions() as session, session.begin():
        result = await session.exec(delete(IdempotencyRecord).where(col(IdempotencyRecord.created_at) < cutoff))
    return int(result.rowcount or 0)

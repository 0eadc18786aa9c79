"""НУЦ tables: the CA keys (encrypted) and every certificate issued, with its revocation state."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Column, LargeBinary, Text
from sqlmodel import Field, SQLModel

from shared.db import UtcDateTime


class CaMaterial(SQLModel, table=True):
    __tablename__ = "ca_material"

    name: str = Field(primary_key=True, max_length=16)  # root | issuing
    key_pem: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    certificate_pem: str = Field(sa_column=Column(Text, nullable=False))
    created_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class IssuedCertificate(SQLModel, table=True):
    __tablename__ = "issued_certificate"

    serial: str = Field(primary_key=True, max_length=64)
    holder: str = Field(max_length=16, index=True)
    usage: str | None = Field(default=None, max_length=8)
    common_name: str = Field(max_length=256)
    iin: str | None = Field(default=None, max_length=12, index=True)
    bin: str | None = Field(default=None, max_length=12, index=True)
    member_id: str | None = Field(default=None, max_length=64, index=True)
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    defect: str | None = Field(default=None, max_length=32, description="set on deliberately faulty test certificates")
    not_before: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    not_after: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    issued_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    revoked_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    revocation_reason: str | None = Field(default=None, max_length=32)
    certificate_pem: str = Field(sa_column=Column(Text, nullable=False))

    @property
    def status(self) -> str:
        return "REVOKED" if self.revoked_at is not None else "GOOD"

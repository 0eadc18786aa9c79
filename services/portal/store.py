"""Portal tables: citizens' accounts. Sessions and EDS challenges live in shared.logins' tables."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from shared.db import UtcDateTime


class Account(SQLModel, table=True):
    __tablename__ = "account"

    iin: str = Field(primary_key=True, max_length=12)
    password_hash: str | None = Field(default=None, max_length=256, description="argon2id; None: EDS-only account")
    email: str | None = Field(default=None, max_length=128)
    phone: str | None = Field(default=None, max_length=20)
    registered_by: str = Field(max_length=8, description="password | eds")
    district: str | None = Field(default=None, max_length=32, description="the registered address's district, "
                                 "as ГБД ФЛ gave it at registration or the last profile read")
    registered_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    failed_logins: int = 0
    locked_until: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    last_login_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime))

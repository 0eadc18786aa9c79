"""Portal tables: citizens' accounts, login sessions and EDS challenges."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from shared.db import UtcDateTime


class Account(SQLModel, table=True):
    __tablename__ = "account"

    iin: str = Field(primary_key=True, max_length=12)
    password_hash: str | None = Field(default=None, max_length=256, description="argon2id; None: EDS-only account")
    email: str | None = Field(default=None, max_length=128)
    phone: str | None = Field(default=None, max_length=20)
    registered_by: str = Field(max_length=8, description="password | eds")
    registered_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    failed_logins: int = 0
    locked_until: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    last_login_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime))


class LoginSession(SQLModel, table=True):
    __tablename__ = "login_session"

    token_hash: str = Field(primary_key=True, max_length=64, description="SHA-256 of the bearer token")
    iin: str = Field(index=True, max_length=12)
    method: str = Field(max_length=8, description="password | eds")
    certificate_serial: str | None = Field(default=None, max_length=64)
    created_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    expires_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    ended_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime))


class Challenge(SQLModel, table=True):
    """What a citizen signs with the authentication key to log in or register with EDS: single use."""

    __tablename__ = "eds_challenge"

    id: str = Field(primary_key=True, max_length=36)
    purpose: str = Field(max_length=8)
    content: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    expires_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    used_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime))

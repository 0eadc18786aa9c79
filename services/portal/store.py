"""Portal tables: citizens' and organisations' accounts, the copies attached to applications, survey answers. Sessions
and EDS challenges live in shared.employment.logins' tables, cases and notices in shared.employment.case_tracking's."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, LargeBinary, Text
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


class CitizenCopy(SQLModel, table=True):
    """An electronic copy a citizen attached to an application (named on the signed form by its SHA-256), kept
    with the application that carried it; the citizen reads their own back."""

    __tablename__ = "citizen_copy"

    iin: str = Field(primary_key=True, max_length=12)
    sha256: str = Field(primary_key=True, max_length=64)
    content_type: str = Field(max_length=64)
    size: int
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    stored_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class OrganisationAccount(SQLModel, table=True):
    """An organisation's account at the portal (seed 001 п. 9: registration «с помощью ИИН и БИН, а также пароля»):
    one per representative — the person whose IIN the organisation's certificate names — registered with that
    certificate, since no registry of the mesh can vouch for a BIN as ГБД ФЛ does for an IIN."""

    __tablename__ = "organisation_account"

    id: str = Field(primary_key=True, max_length=25, description="BIN:IIN — the key the lock-out counts by")
    bin: str = Field(index=True, max_length=12)
    iin: str = Field(max_length=12, description="the representative's IIN, as the certificate gives it")
    organisation: str = Field(max_length=128, description="the organisation's name (O=) in the certificate")
    password_hash: str | None = Field(default=None, max_length=256, description="argon2id; None: EDS-only account")
    email: str | None = Field(default=None, max_length=128)
    phone: str | None = Field(default=None, max_length=20)
    registered_by: str = Field(max_length=8, description="eds")
    registered_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    failed_logins: int = 0
    locked_until: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    last_login_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    certificate_pem: str | None = Field(default=None, sa_column=Column(Text), description=(
        "the organisation certificate that vouched for the BIN (at registration, then each EDS login): a password "
        "login checks it again, so a representative whose certificate was revoked is let in no more"))


def organisation_key(*, bin_: str, iin: str) -> str:
    return f"{bin_}:{iin}"


class SurveyAnswer(SQLModel, table=True):
    """One survey per application (its correlation id): the first answer stays."""

    __tablename__ = "survey_answer"

    correlation_id: str = Field(primary_key=True, max_length=128)
    iin: str = Field(index=True, max_length=12)
    quality: int
    information: int
    answered_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))

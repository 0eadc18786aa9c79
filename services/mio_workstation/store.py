"""ИС МИО tables: staff, applications and their step timelines, the labour-market register «Еңбек нарығы»."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from shared.db import UtcDateTime
from shared.employment.logins import EmployeeAccount


class StaffAccount(EmployeeAccount, table=True):
    __tablename__ = "staff_account"

    district: str = Field(index=True, max_length=32)
    role: str = Field(max_length=32)


class DistrictMode(SQLModel, table=True):
    __tablename__ = "district_mode"

    district: str = Field(primary_key=True, max_length=32)
    mode: str = Field(default="auto", max_length=8, description="auto | manual")
    auto_share: float = Field(default=0.5, description="share of each step's maximum simulated staff take")


class NumberCounter(SQLModel, table=True):
    __tablename__ = "number_counter"
    __table_args__ = (UniqueConstraint("district", "year"),)

    id: int | None = Field(default=None, primary_key=True)
    district: str = Field(max_length=32)
    year: int
    last: int = 0


class DocumentCounter(SQLModel, table=True):
    """The district's register of outgoing documents (журнал исходящей корреспонденции, seed 004 п. 5, пп. 3): one
    counter a year, raised as ``NumberCounter`` is, for the result documents' own numbers."""

    __tablename__ = "document_counter"
    __table_args__ = (UniqueConstraint("district", "year"),)

    id: int | None = Field(default=None, primary_key=True)
    district: str = Field(max_length=32)
    year: int
    last: int = 0


class Application(SQLModel, table=True):
    __tablename__ = "application"

    number: str = Field(primary_key=True, max_length=32)
    district: str = Field(index=True, max_length=32)
    service_id: str = Field(max_length=128)
    channel: str = Field(max_length=8)
    regulation_id: str = Field(max_length=128)
    applicant_iin: str = Field(index=True, max_length=12)
    origin_member: str | None = Field(default=None, max_length=64, description="who sent it: portal, con, or none")
    correlation_id: str = Field(index=True, max_length=128)
    request_message_id: str | None = Field(default=None, max_length=64, unique=True)
    status: str = Field(index=True, max_length=16)
    mode: str = Field(max_length=8)
    auto_share: float = 0.5
    form: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    form_signature: str = Field(sa_column=Column(Text, nullable=False))
    signed_by: str = Field(max_length=16)
    received_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    term_due: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    executor_iin: str | None = Field(default=None, max_length=12)
    decision: str | None = Field(default=None, max_length=8, description="approve | refuse")
    reason: str | None = Field(default=None, max_length=500)
    draft: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    document_signature: str | None = Field(default=None, sa_column=Column(Text))
    signer_iin: str | None = Field(default=None, max_length=12)
    completed_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    delivery: str | None = Field(default=None, max_length=16, description="office hand-out: in_person | email")
    delivered_to: str | None = Field(default=None, max_length=254, description="the address e-mailed (delivery email)")
    traceparent: str | None = Field(default=None, max_length=64,
                                    description="the W3C trace it was opened in: simulated staff's steps continue it")
    scenario: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON), description="the scenario "
                                            "(id and rules, as the gateway delivered them) it was opened in: its "
                                            "later steps honour it (docs/scenarios.md)")


class ApplicationDocument(SQLModel, table=True):
    """An electronic copy an application came with (its digest is on the signed form), kept with the application
    for the staff's document check and the applicant's file."""

    __tablename__ = "application_document"

    application_number: str = Field(primary_key=True, max_length=32)
    sha256: str = Field(primary_key=True, max_length=64)
    content_type: str = Field(max_length=64)
    size: int
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class StepRecord(SQLModel, table=True):
    __tablename__ = "step_record"
    __table_args__ = (UniqueConstraint("application_number", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    application_number: str = Field(index=True, max_length=32)
    position: int
    step_id: str = Field(max_length=64)
    role: str = Field(max_length=32)
    started_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    due_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    auto_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime, index=True))
    done: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    finished_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime, index=True))
    actor: str | None = Field(default=None, max_length=32)
    overdue: bool = False


class LabourCard(SQLModel, table=True):
    """A personal card in «Еңбек нарығы»: a job seeker's, which becomes an unemployed person's."""

    __tablename__ = "labour_card"
    # «Еңбек нарығы» is one register: a person has one open card, whichever district keeps it (two registrations
    # completing at once in two districts: the second transaction fails and is retried, and finds the card)
    __table_args__ = (Index("uq_labour_card_open_iin", "iin", unique=True, sqlite_where=text("status = 'open'"),
                            postgresql_where=text("status = 'open'")),)

    id: str = Field(primary_key=True, max_length=36)
    district: str = Field(index=True, max_length=32)
    iin: str = Field(index=True, max_length=12)
    kind: str = Field(max_length=16, description="job_seeker | unemployed")
    status: str = Field(default="open", max_length=8)
    opened_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    unemployed_since: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    closed_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    close_reason: str | None = Field(default=None, max_length=256)


class LabourCardEvent(SQLModel, table=True):
    __tablename__ = "labour_card_event"

    id: int | None = Field(default=None, primary_key=True)
    card_id: str = Field(index=True, max_length=36)
    at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    kind: str = Field(max_length=32, description="opened | became_unemployed | measure | assistance | certificate | "
                                                  "closed")
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    application_number: str | None = Field(default=None, max_length=32)

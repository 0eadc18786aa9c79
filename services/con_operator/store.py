"""ИС ЦОН tables: operators, the electronic queue, visits (an intake and what became of it) and scans."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from shared.db import UtcDateTime
from shared.employment.logins import EmployeeAccount


class OperatorAccount(EmployeeAccount, table=True):
    __tablename__ = "operator_account"

    branch: str = Field(index=True, max_length=64)
    created_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class TicketStatus(StrEnum):
    WAITING = "WAITING"  # taken, not called yet
    CALLED = "CALLED"  # an operator is serving it
    CLOSED = "CLOSED"  # served (or the citizen did not come)


class TicketPurpose(StrEnum):
    APPLY = "apply"  # to apply for a service
    COLLECT = "collect"  # to collect a result


class Ticket(SQLModel, table=True):
    """A ticket of the electronic queue (004 п. 9 пп. 1: «безбарьерное» обслуживание путем электронной очереди).

    An operator serves one ticket at a time: the partial unique index holds it even for two calls at once."""

    __tablename__ = "ticket"
    __table_args__ = (Index("one_called_ticket_per_operator", "operator_iin", unique=True,
                            sqlite_where=text("status = 'CALLED'"), postgresql_where=text("status = 'CALLED'")),)

    id: str = Field(primary_key=True, max_length=36)
    branch: str = Field(index=True, max_length=64)
    code: str = Field(max_length=16, description="what the display shows: a letter and a number of the day")
    service_id: str = Field(max_length=128)
    purpose: str = Field(default=TicketPurpose.APPLY, max_length=8)
    status: str = Field(default=TicketStatus.WAITING, index=True, max_length=8)
    taken_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    called_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    closed_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    operator_iin: str | None = Field(default=None, max_length=12)
    close_note: str | None = Field(default=None, max_length=256)


class TicketCounter(SQLModel, table=True):
    __tablename__ = "ticket_counter"
    __table_args__ = (UniqueConstraint("branch", "day", "letter"),)

    id: int | None = Field(default=None, primary_key=True)
    branch: str = Field(max_length=64)
    day: str = Field(max_length=10)
    letter: str = Field(default="A", max_length=1, description="A: to apply, B: to collect a result")
    last: int = 0


class VisitState(StrEnum):
    FILLED = "FILLED"  # the form is filled from ГБД ФЛ, waiting for its EDS
    SENT = "SENT"  # signed and sent through the gateway: ИС МИО's statuses follow it
    HANDED_OUT = "HANDED_OUT"  # the result was handed out (in person or by e-mail)


class Visit(SQLModel, table=True):
    """One intake at a ЦОН desk and everything ИС ЦОН does for it until the result is handed out."""

    __tablename__ = "visit"

    id: str = Field(primary_key=True, max_length=36)
    ticket_id: str = Field(unique=True, max_length=36)
    branch: str = Field(index=True, max_length=64)
    operator_iin: str = Field(max_length=12)
    service_id: str = Field(max_length=128)
    district: str = Field(max_length=32)
    regulation_id: str = Field(max_length=128)
    applicant_iin: str = Field(index=True, max_length=12)
    form: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    state: str = Field(default=VisitState.FILLED, max_length=16)
    revision: int = Field(default=1, description="raised by each intake: a signature is for one revision of the form")
    signed_by: str | None = Field(default=None, max_length=16)
    form_signature: str | None = Field(default=None, sa_column=Column(Text),
                                       description="the detached CMS sent with the form (base64)")
    correlation_id: str = Field(unique=True, max_length=128)
    events: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False),
                                   description="what happened when (mesh time), by CentreEvent")
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON(none_as_null=True)),
                                          description="the result the State Corporation's worker formed and signed")
    result_signed_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime))
    delivery: str | None = Field(default=None, max_length=16, description="in_person | email")
    delivered_to: str | None = Field(default=None, max_length=128)
    handed_out_by: str | None = Field(default=None, max_length=12)
    hand_out_ticket: str | None = Field(default=None, max_length=36)
    created_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class ScanRef(SQLModel, table=True):
    """Which branch uploaded a scan: its operators may attach and read it, others may not (the content is kept
    once whoever uploads the same bytes)."""

    __tablename__ = "scan_ref"

    sha256: str = Field(primary_key=True, max_length=64)
    branch: str = Field(primary_key=True, max_length=64)


class Scan(SQLModel, table=True):
    """A scanned document, stored once by its SHA-256 whoever attaches it again."""

    __tablename__ = "scan"

    sha256: str = Field(primary_key=True, max_length=64)
    content_type: str = Field(max_length=64)
    size: int
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    uploaded_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    uploaded_by: str = Field(max_length=12)

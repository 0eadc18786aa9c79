"""ГБД ФЛ tables: each person's identity record, and — apart from it — facts from simulated external
registries (employment contracts, full-time study, pensions)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, Date
from sqlmodel import Field, SQLModel

from shared.db import UtcDateTime


class Person(SQLModel, table=True):
    __tablename__ = "person"

    iin: str = Field(primary_key=True, max_length=12)
    surname: str = Field(max_length=64)
    name: str = Field(max_length=64)
    patronymic: str | None = Field(default=None, max_length=64)
    birth_date: dt.date = Field(sa_column=Column(Date, nullable=False, index=True))
    sex: str = Field(max_length=1)
    citizenship: str = Field(default="KZ", max_length=2)
    region: str = Field(max_length=64, index=True)
    district: str = Field(max_length=64, index=True)
    address: str = Field(max_length=256)
    phone: str | None = Field(default=None, max_length=20)
    alive: bool = True
    death_date: dt.date | None = Field(default=None, sa_column=Column(Date))
    origin: str = Field(default="seed", max_length=8, description="seed | kit | admin")
    claimed_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime, index=True),
                                           description="when the test kit took this person for a test")
    changed_at: dt.datetime | None = Field(default=None, sa_column=Column(UtcDateTime),
                                           description="when test support last changed this person or their facts "
                                                       "(a reset puts a seeded person so marked back)")


class RegistryFacts(SQLModel, table=True):
    """What other state registries know about a person, as ГБД ФЛ's simulator serves it."""

    __tablename__ = "registry_facts"

    iin: str = Field(primary_key=True, max_length=12, foreign_key="person.iin", ondelete="CASCADE")
    employer_bin: str | None = Field(default=None, max_length=12)
    employer_name: str | None = Field(default=None, max_length=256)
    employed_since: dt.date | None = Field(default=None, sa_column=Column(Date))
    student_at: str | None = Field(default=None, max_length=256)
    study_until: dt.date | None = Field(default=None, sa_column=Column(Date))
    pension_kind: str | None = Field(default=None, max_length=16)
    pension_since: dt.date | None = Field(default=None, sa_column=Column(Date))


class PopulationState(SQLModel, table=True):
    __tablename__ = "population_state"

    id: int = Field(default=1, primary_key=True)
    seed: int
    size: int
    reference_date: dt.date = Field(sa_column=Column(Date, nullable=False))
    generated_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))

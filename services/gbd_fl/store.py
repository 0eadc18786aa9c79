"""ГБД ФЛ tables: the identity record of each person."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, Date
from sqlmodel import Field, SQLModel


class Person(SQLModel, table=True):
    __tablename__ = "person"

    iin: str = Field(primary_key=True, max_length=12)
    surname: str = Field(max_length=64)
    name: str = Field(max_length=64)
    patronymic: str | None = Field(default=None, max_length=64)
    birth_date: dt.date = Field(sa_column=Column(Date, nullable=False))
    sex: str = Field(max_length=1)
    citizenship: str = Field(default="KZ", max_length=2)
    region: str = Field(max_length=64, index=True)
    district: str = Field(max_length=64, index=True)
    address: str = Field(max_length=256)
    phone: str | None = Field(default=None, max_length=20)
    alive: bool = True
    death_date: dt.date | None = Field(default=None, sa_column=Column(Date))

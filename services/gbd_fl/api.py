"""ГБД ФЛ HTTP API: test support only (admin). Look-ups by other systems go through the gateway."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from services.gbd_fl.domain import as_answer
from services.gbd_fl.handlers import Registry
from services.gbd_fl.store import Person


class PersonIn(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    surname: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=64)
    patronymic: str | None = Field(default=None, max_length=64)
    birth_date: dt.date = Field(alias="birthDate")
    sex: Literal["M", "F"]
    citizenship: str = Field(default="KZ", pattern=r"^[A-Z]{2}$")
    region: str = Field(min_length=1, max_length=64)
    district: str = Field(min_length=1, max_length=64)
    address: str = Field(min_length=1, max_length=256)
    phone: str | None = Field(default=None, pattern=r"^\+7\d{10}$")
    alive: bool = True
    death_date: dt.date | None = Field(default=None, alias="deathDate")


def build_router(*, registry: Registry, admin: object) -> APIRouter:
    router = APIRouter(prefix="/admin/people", tags=["test support"], dependencies=[Depends(admin)])

    @router.get("/{iin}", summary="A person's record, as the registry answers it")
    async def get_person(iin: str) -> dict:
        return as_answer(await registry.get(iin)).model_dump(by_alias=True)

    @router.put("/{iin}", summary="Create or replace a person (the IIN must agree with birth date and sex)")
    async def put_person(iin: str, body: PersonIn) -> dict:
        person = Person(iin=iin, **body.model_dump())
        return as_answer(await registry.put(person)).model_dump(by_alias=True)

    @router.delete("/{iin}", status_code=204, response_class=Response, summary="Remove a person")
    async def delete_person(iin: str) -> Response:
        await registry.delete(iin)
        return Response(status_code=204)

    return router

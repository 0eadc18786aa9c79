"""ГБД ФЛ HTTP API: test support only (admin token). Other systems look people up through the gateway."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from services.gbd_fl.domain import as_answer, social_status
from services.gbd_fl.handlers import Registry, Wanted
from services.gbd_fl.store import Person, RegistryFacts
from shared.web.http_app import SQL_INT_MAX
from shared.web.openapi_errors import error_responses


class Body(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")


class PersonIn(Body):
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


class PersonChange(Body):
    """Only the fields given change: e.g. {"alive": false, "deathDate": "2026-11-20"}."""

    alive: bool | None = None
    death_date: dt.date | None = Field(default=None, alias="deathDate")
    phone: str | None = Field(default=None, pattern=r"^\+7\d{10}$")
    address: str | None = Field(default=None, min_length=1, max_length=256)
    region: str | None = None
    district: str | None = None


class Employment(Body):
    employer_bin: str = Field(alias="employerBin", pattern=r"^\d{12}$")
    employer_name: str = Field(alias="employerName", min_length=1, max_length=256)
    since: dt.date


class Study(Body):
    institution: str = Field(min_length=1, max_length=256)
    until: dt.date


class Pension(Body):
    kind: Literal["age", "disability"]
    since: dt.date


class FactsIn(Body):
    """Each registry's fact; null (or absent) means the registry has none."""

    employment: Employment | None = None
    study: Study | None = None
    pension: Pension | None = None


class WantedIn(Body):
    district: str | None = None
    region: str | None = None
    sex: Literal["M", "F"] | None = None
    min_age: int | None = Field(default=None, alias="minAge", ge=0, le=110)
    max_age: int | None = Field(default=None, alias="maxAge", ge=0, le=110)
    employed: bool | None = None
    jobless: bool | None = Field(default=None, description="true: neither employed, nor a full-time student, "
                                                              "nor a pensioner (free to register as unemployed)")

    def wanted(self) -> Wanted:
        return Wanted(district=self.district, region=self.region, sex=self.sex, min_age=self.min_age,
                      max_age=self.max_age, employed=self.employed, jobless=self.jobless)


class ResetIn(Body):
    seed: int | None = Field(default=None, ge=0, le=SQL_INT_MAX, description="the population's seed (kept in the "
                                                                           "database: 64-bit)")
    size: int | None = Field(default=None, ge=0, le=200_000)


def _out(person: Person, facts: RegistryFacts | None) -> dict:
    return {**as_answer(person).model_dump(by_alias=True, exclude_none=True)["person"],
            "registryFacts": social_status(facts, known=True).model_dump(by_alias=True, exclude_none=True),
            "origin": person.origin, "claimedAt": person.claimed_at.isoformat() if person.claimed_at else None}


def build_router(*, registry: Registry, admin: object, default_seed: int, default_size: int) -> APIRouter:
    router = APIRouter(tags=["test support"], dependencies=[Depends(admin)])

    @router.get("/admin/population", summary="The population's seed, size and spread")
    async def population() -> dict:
        return await registry.summary()

    @router.post("/admin/population/reset", summary="Regenerate the population from a seed (default: configured)")
    async def reset(body: ResetIn) -> dict:
        return await registry.reset(seed=body.seed if body.seed is not None else default_seed,
                                    size=body.size if body.size is not None else default_size)

    @router.post("/admin/people/claim", summary="A person no one else is using, matching the filters: a seeded "
                 "one if any is left, else a new one",
                 responses=error_responses("PERSON_NOT_FOUND", "NO_PERSON_FITS", "AGE_RANGE_EMPTY", "DISTRICT_UNKNOWN",
                                           "IIN_BAD_BIRTH_DATE", "IIN_BAD_CENTURY_DIGIT", "IIN_BAD_CHECK_DIGIT",
                                           "IIN_LENGTH", "IIN_NEVER_ISSUED", "IIN_NOT_DIGITS", "REGION_MISMATCH",
                                           "REGION_UNKNOWN", "WANTED_CONTRADICTS"))
    async def claim(body: WantedIn) -> dict:
        person, created = await registry.claim(body.wanted())
        _, facts = await registry.get(person.iin)
        return {**_out(person, facts), "created": created}

    @router.post("/admin/people", status_code=201, summary="A brand-new synthetic person matching the filters",
                 responses=error_responses("PERSON_NOT_FOUND", "NO_PERSON_FITS", "AGE_RANGE_EMPTY", "DISTRICT_UNKNOWN",
                                           "IIN_BAD_BIRTH_DATE", "IIN_BAD_CENTURY_DIGIT", "IIN_BAD_CHECK_DIGIT",
                                           "IIN_LENGTH", "IIN_NEVER_ISSUED", "IIN_NOT_DIGITS", "REGION_MISMATCH",
                                           "REGION_UNKNOWN", "WANTED_CONTRADICTS"))
    async def create(body: WantedIn) -> dict:
        person = await registry.create(body.wanted())
        return _out(*(await registry.get(person.iin)))

    @router.get("/admin/people/{iin}", summary="A person's record and registry facts",
                responses=error_responses("PERSON_NOT_FOUND", "IIN_BAD_BIRTH_DATE", "IIN_BAD_CENTURY_DIGIT",
                                          "IIN_BAD_CHECK_DIGIT", "IIN_LENGTH", "IIN_NEVER_ISSUED", "IIN_NOT_DIGITS"))
    async def get_person(iin: str) -> dict:
        return _out(*(await registry.get(iin)))

    @router.put("/admin/people/{iin}", summary="Create or replace a person (the IIN must agree with birth date "
                "and sex)",
                responses=error_responses("PERSON_NOT_FOUND", "DEATH_DATE_ON_LIVING", "DEATH_DATE_REQUIRED",
                                          "DISTRICT_UNKNOWN", "IIN_BAD_BIRTH_DATE", "IIN_BAD_CENTURY_DIGIT",
                                          "IIN_BAD_CHECK_DIGIT", "IIN_BIRTH_DATE_MISMATCH", "IIN_LENGTH",
                                          "IIN_NEVER_ISSUED", "IIN_NOT_DIGITS", "IIN_SEX_MISMATCH", "REGION_MISMATCH"))
    async def put_person(iin: str, body: PersonIn) -> dict:
        await registry.put(Person(iin=iin, **body.model_dump()))
        return _out(*(await registry.get(iin)))

    @router.patch("/admin/people/{iin}", summary="Change some fields, e.g. make the person deceased",
                  responses=error_responses("PERSON_NOT_FOUND", "DEATH_DATE_ON_LIVING", "DEATH_DATE_REQUIRED",
                                            "DISTRICT_UNKNOWN", "IIN_BAD_BIRTH_DATE", "IIN_BAD_CENTURY_DIGIT",
                                            "IIN_BAD_CHECK_DIGIT", "IIN_BIRTH_DATE_MISMATCH", "IIN_LENGTH",
                                            "IIN_NEVER_ISSUED", "IIN_NOT_DIGITS", "IIN_SEX_MISMATCH",
                                            "REGION_MISMATCH"))
    async def change_person(iin: str, body: PersonChange) -> dict:
        await registry.change(iin, changes=body.model_dump(exclude_unset=True))
        return _out(*(await registry.get(iin)))

    @router.put("/admin/people/{iin}/facts", summary="What the employment, education and pension registries say",
                responses=error_responses("PERSON_NOT_FOUND", "BIN_BAD_CHECK_DIGIT", "BIN_BAD_ENTITY_TYPE",
                                          "BIN_BAD_MONTH", "BIN_BAD_UNIT", "BIN_LENGTH", "BIN_NEVER_ISSUED",
                                          "BIN_NOT_DIGITS", "EMPLOYMENT_SINCE_REQUIRED", "IIN_BAD_BIRTH_DATE",
                                          "IIN_BAD_CENTURY_DIGIT", "IIN_BAD_CHECK_DIGIT", "IIN_LENGTH",
                                          "IIN_NEVER_ISSUED", "IIN_NOT_DIGITS"))
    async def put_facts(iin: str, body: FactsIn) -> dict:
        await registry.set_facts(RegistryFacts(
            iin=iin,
            employer_bin=body.employment.employer_bin if body.employment else None,
            employer_name=body.employment.employer_name if body.employment else None,
            employed_since=body.employment.since if body.employment else None,
            student_at=body.study.institution if body.study else None,
            study_until=body.study.until if body.study else None,
            pension_kind=body.pension.kind if body.pension else None,
            pension_since=body.pension.since if body.pension else None))
        return _out(*(await registry.get(iin)))

    @router.delete("/admin/people/{iin}", status_code=204, response_class=Response, summary="Remove a person",
                   responses=error_responses("PERSON_NOT_FOUND", "IIN_BAD_BIRTH_DATE", "IIN_BAD_CENTURY_DIGIT",
                                             "IIN_BAD_CHECK_DIGIT", "IIN_LENGTH", "IIN_NEVER_ISSUED", "IIN_NOT_DIGITS"))
    async def delete_person(iin: str) -> Response:
        await registry.delete(iin)
        return Response(status_code=204)

    return router

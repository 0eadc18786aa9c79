"""ГБД ФЛ's HTTP shapes: what the test-support API takes (``…In``, ``…Change``) and what it answers (``…Out``,
closed: a client generated from ``/openapi.json`` gets every field typed, and an answer with a field the model lacks
is a bug the API fuzz catches). Optional fields of a person are absent when empty, as the mesh's
``gbdfl.person-by-iin`` answer has them; ``claimedAt`` is always there (null: nobody took the person)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

from services.gbd_fl.domain import Wanted, as_answer, social_status
from services.gbd_fl.store import Person, RegistryFacts
from services.gbd_fl.usecases.seeding import PopulationSummary
from shared.web.http_app import SQL_INT_MAX
from shared.web.models import CamelModel


def _none(value: Any) -> bool:
    return value is None


def _absent_if_none(**kwargs: Any) -> Any:
    """An optional field left out of the answer when it has no value (not sent as null)."""
    return Field(default=None, exclude_if=_none, **kwargs)


# ---- requests -------------------------------------------------------------------------------------------------
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

    def row(self, iin: str) -> RegistryFacts:
        employment, study, pension = self.employment, self.study, self.pension
        return RegistryFacts(
            iin=iin,
            employer_bin=employment.employer_bin if employment else None,
            employer_name=employment.employer_name if employment else None,
            employed_since=employment.since if employment else None,
            student_at=study.institution if study else None, study_until=study.until if study else None,
            pension_kind=pension.kind if pension else None, pension_since=pension.since if pension else None)


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


# ---- answers ----------------------------------------------------------------------------------------------------
class PopulationOut(CamelModel):
    """The population's seed, size and spread (``seed`` and ``referenceDate`` null before the first seeding)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"seed": 2026, "size": 3000, "referenceDate": "2026-01-01",
         "byDistrict": {"almaty": 1010, "astana": 172, "kokshetau": 421}, "byOrigin": {"seed": 3000, "kit": 4},
         "claimed": 6}]})

    seed: int | None
    size: int
    reference_date: dt.date | None
    by_district: dict[str, int] = Field(description="people by district code")
    by_origin: dict[str, int] = Field(description="people by origin: seed, kit (made for the test kit), admin")
    claimed: int = Field(description="people the test kit has taken for a test")

    @classmethod
    def of(cls, summary: PopulationSummary) -> PopulationOut:
        return cls(seed=summary.seed, size=summary.size, reference_date=summary.reference_date,
                   by_district=summary.by_district, by_origin=summary.by_origin, claimed=summary.claimed)


class EmploymentFactOut(CamelModel):
    employed: bool
    employer_bin: str | None = _absent_if_none()
    employer_name: str | None = _absent_if_none()
    since: str | None = _absent_if_none(description="YYYY-MM-DD")
    source: str


class StudyFactOut(CamelModel):
    full_time_student: bool
    institution: str | None = _absent_if_none()
    until: str | None = _absent_if_none(description="YYYY-MM-DD")
    source: str


class PensionFactOut(CamelModel):
    pensioner: bool
    kind: Literal["age", "disability"] | None = _absent_if_none()
    since: str | None = _absent_if_none(description="YYYY-MM-DD")
    source: str


class RegistryFactsOut(CamelModel):
    """What the external registries say, as ``gbdfl.social-status-by-iin`` answers it for a known person."""

    found: bool
    employment: EmploymentFactOut
    study: StudyFactOut
    pension: PensionFactOut


_SOURCES = {"employment": "ЕСУТД — единая система учета трудовых договоров (симулятор)",
            "study": "НОБД — национальная образовательная база данных (симулятор)",
            "pension": "ГЦВП — государственный центр по выплате пенсий (симулятор)"}
PERSON_EXAMPLE: dict[str, Any] = {
    "iin": "850701300007", "surname": "Тестов", "name": "Тест", "patronymic": "Тестович", "surnameLatin": "TESTOV",
    "nameLatin": "TEST", "birthDate": "1985-07-01", "sex": "M", "citizenship": "KZ", "region": "almaty",
    "regionName": "город Алматы", "district": "almaty", "districtName": "город Алматы",
    "address": "г. Алматы, пр. Абая, д. 10, кв. 5", "phone": "+77011234567", "alive": True,
    "registryFacts": {"found": True, "employment": {"employed": False, "source": _SOURCES["employment"]},
                      "study": {"fullTimeStudent": False, "source": _SOURCES["study"]},
                      "pension": {"pensioner": False, "source": _SOURCES["pension"]}},
    "origin": "seed", "claimedAt": "2026-03-02T09:15:00.123456+00:00"}


class PersonOut(CamelModel):
    """A person's record as ГБД ФЛ holds it: the identity the mesh is told, the registries' facts, and the test
    kit's bookkeeping (where the person came from, when the kit took it)."""

    model_config = ConfigDict(json_schema_extra={"examples": [PERSON_EXAMPLE]})

    iin: str
    surname: str
    name: str
    patronymic: str | None = _absent_if_none()
    surname_latin: str | None = _absent_if_none()
    name_latin: str | None = _absent_if_none()
    birth_date: str = Field(description="YYYY-MM-DD")
    sex: Literal["M", "F"]
    citizenship: str
    region: str = Field(description="region code (the simulator's slug)")
    region_name: str | None = _absent_if_none()
    district: str = Field(description="district code; the routeId of the district's ИС МИО")
    district_name: str | None = _absent_if_none()
    address: str
    phone: str | None = _absent_if_none()
    alive: bool
    death_date: str | None = _absent_if_none(description="YYYY-MM-DD")
    registry_facts: RegistryFactsOut
    origin: Literal["seed", "kit", "admin"] = Field(description="seed: the seeded population; kit: made for the "
                                                                "test kit; admin: put through this API")
    claimed_at: str | None = Field(description="when the test kit took this person for a test (ISO 8601); null: "
                                               "nobody has", json_schema_extra={"format": "date-time"})

    @classmethod
    def of(cls, person: Person, facts: RegistryFacts | None, **more: Any) -> Self:
        """The identity exactly as the mesh's answer has it (``as_answer``), so the two never drift apart."""
        return cls.model_validate({
            **as_answer(person).model_dump(by_alias=True, exclude_none=True)["person"],
            "registryFacts": social_status(facts, known=True).model_dump(by_alias=True, exclude_none=True),
            "origin": person.origin, "claimedAt": person.claimed_at.isoformat() if person.claimed_at else None,
            **more})


class ClaimedPersonOut(PersonOut):
    """A person taken for one test, and whether it had to be made (no seeded person fitted)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{**PERSON_EXAMPLE, "created": False}]})

    created: bool

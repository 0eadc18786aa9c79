"""ГБД ФЛ rules: what a person record must satisfy, what the test kit may ask for, how records are answered to the
mesh, and turning a generated person into rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from services.gbd_fl.population import DISTRICT_BY_SLUG, PersonSeed, latin
from services.gbd_fl.store import Person, RegistryFacts
from shared.errors import MeshError
from shared.ids import parse_bin, parse_iin
from shared.mesh.contracts import (
    EmploymentFact,
    PensionFact,
    PersonByIinResponse,
    PersonData,
    SocialStatusResponse,
    StudyFact,
)

NO_DATA = "Сведения по указанному ИИН отсутствуют в ГБД ФЛ"


@dataclass(frozen=True)
class Wanted:
    """What the test kit asks for; None means "any"."""

    district: str | None = None
    region: str | None = None
    sex: str | None = None
    min_age: int | None = None
    max_age: int | None = None
    employed: bool | None = None
    jobless: bool | None = None  # True: neither employed, nor a full-time student, nor a pensioner

    def fits(self, facts: RegistryFacts) -> bool:
        """Whether a drawn person's facts are what was asked (the generator draws them at random)."""
        employed = facts.employer_bin is not None
        idle = not employed and facts.student_at is None and facts.pension_kind is None
        return (self.employed is None or employed == self.employed) and (self.jobless is None or idle == self.jobless)


def check_wanted(wanted: Wanted) -> None:
    """A wish no person can fit is refused by name before anything is drawn or claimed."""
    if wanted.district and wanted.district not in DISTRICT_BY_SLUG:
        raise MeshError("DISTRICT_UNKNOWN", f"no district {wanted.district!r}; known: "
                        f"{', '.join(sorted(DISTRICT_BY_SLUG))}")
    if wanted.region and wanted.region not in {d.region for d in DISTRICT_BY_SLUG.values()}:
        raise MeshError("REGION_UNKNOWN", f"no region {wanted.region!r}")
    if wanted.region and wanted.district and DISTRICT_BY_SLUG[wanted.district].region != wanted.region:
        raise MeshError("REGION_MISMATCH", f"district {wanted.district} is not in region {wanted.region}")
    if wanted.employed and wanted.jobless:
        raise MeshError("WANTED_CONTRADICTS", "a person cannot be both employed and jobless")
    if wanted.min_age is not None and wanted.max_age is not None and wanted.min_age > wanted.max_age:
        raise MeshError("AGE_RANGE_EMPTY", "minAge is greater than maxAge")


def check_person(person: Person) -> None:
    """The IIN must be valid and agree with the birth date and sex it encodes; the district must exist."""
    info = parse_iin(person.iin)
    if info.birth_date != person.birth_date:
        raise MeshError("IIN_BIRTH_DATE_MISMATCH", f"IIN encodes birth date {info.birth_date}, record says "
                        f"{person.birth_date}")
    if info.sex != person.sex:
        raise MeshError("IIN_SEX_MISMATCH", f"IIN encodes sex {info.sex}, record says {person.sex}")
    district = DISTRICT_BY_SLUG.get(person.district)
    if district is None:
        raise MeshError("DISTRICT_UNKNOWN", f"no district {person.district!r}; known: "
                        f"{', '.join(sorted(DISTRICT_BY_SLUG))}")
    if person.region != district.region:
        raise MeshError("REGION_MISMATCH", f"district {person.district} lies in region {district.region}")
    if not person.alive and person.death_date is None:
        raise MeshError("DEATH_DATE_REQUIRED", "a deceased person's record carries the date of death")
    if person.alive and person.death_date is not None:
        raise MeshError("DEATH_DATE_ON_LIVING", "a living person has no date of death")


def check_facts(facts: RegistryFacts) -> None:
    if facts.employer_bin is not None:
        parse_bin(facts.employer_bin)
        if facts.employed_since is None:
            raise MeshError("EMPLOYMENT_SINCE_REQUIRED", "employment needs the date it started")


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def person_data(person: Person) -> PersonData:
    district = DISTRICT_BY_SLUG.get(person.district)
    return PersonData(
        iin=person.iin, surname=person.surname, name=person.name, patronymic=person.patronymic,
        surname_latin=latin(person.surname), name_latin=latin(person.name), birth_date=person.birth_date.isoformat(),
        sex=person.sex,
        citizenship=person.citizenship, region=person.region, region_name=district.region_name if district else None,
        district=person.district, district_name=district.name if district else None, address=person.address,
        phone=person.phone, alive=person.alive, death_date=_iso(person.death_date))


def as_answer(person: Person | None) -> PersonByIinResponse:
    if person is None:
        return PersonByIinResponse(found=False, message=NO_DATA)
    return PersonByIinResponse(found=True, person=person_data(person))


def social_status(facts: RegistryFacts | None, *, known: bool) -> SocialStatusResponse:
    if not known:
        return SocialStatusResponse(found=False, message=NO_DATA)
    facts = facts or RegistryFacts(iin="")
    return SocialStatusResponse(
        found=True,
        employment=EmploymentFact(employed=facts.employer_bin is not None, employer_bin=facts.employer_bin,
                                  employer_name=facts.employer_name, since=_iso(facts.employed_since)),
        study=StudyFact(full_time_student=facts.student_at is not None, institution=facts.student_at,
                        until=_iso(facts.study_until)),
        pension=PensionFact(pensioner=facts.pension_kind is not None, kind=facts.pension_kind,
                            since=_iso(facts.pension_since)))


def rows_of(seed: PersonSeed, *, origin: str) -> tuple[Person, RegistryFacts]:
    person = Person(iin=seed.iin, surname=seed.surname, name=seed.name, patronymic=seed.patronymic,
                    birth_date=seed.birth_date, sex=seed.sex, region=seed.district.region,
                    district=seed.district.slug, address=seed.address, phone=seed.phone, alive=seed.alive,
                    death_date=seed.death_date, origin=origin)
    facts = RegistryFacts(iin=seed.iin, employer_bin=seed.employer_bin, employer_name=seed.employer_name,
                          employed_since=seed.employed_since, student_at=seed.student_at, study_until=seed.study_until,
                          pension_kind=seed.pension_kind, pension_since=seed.pension_since)
    return person, facts

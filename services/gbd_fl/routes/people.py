"""People: one claimed for a test, one made anew, a record read, put, changed or removed."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from services.gbd_fl.deps import ClaimsDep, NewPeopleDep, RecordsDep, admin_only
from services.gbd_fl.models import ClaimedPersonOut, PersonChange, PersonIn, PersonOut, WantedIn
from services.gbd_fl.store import Person
from shared.web.openapi_errors import error_responses

router = APIRouter(tags=["test support"], dependencies=[Depends(admin_only)])

IIN_CODES = ("IIN_BAD_BIRTH_DATE", "IIN_BAD_CENTURY_DIGIT", "IIN_BAD_CHECK_DIGIT", "IIN_LENGTH", "IIN_NEVER_ISSUED",
             "IIN_NOT_DIGITS")
WANTED_CODES = ("PERSON_NOT_FOUND", "NO_PERSON_FITS", "AGE_RANGE_EMPTY", "DISTRICT_UNKNOWN", *IIN_CODES,
                "REGION_MISMATCH", "REGION_UNKNOWN", "WANTED_CONTRADICTS")
RECORD_CODES = ("PERSON_NOT_FOUND", "DEATH_DATE_ON_LIVING", "DEATH_DATE_REQUIRED", "DISTRICT_UNKNOWN", *IIN_CODES,
                "IIN_BIRTH_DATE_MISMATCH", "IIN_SEX_MISMATCH", "REGION_MISMATCH")


@router.post("/admin/people/claim", summary="A person no one else is using, matching the filters: a seeded "
             "one if any is left, else a new one", responses=error_responses(*WANTED_CODES))
async def claim(body: WantedIn, claims: ClaimsDep, records: RecordsDep) -> ClaimedPersonOut:
    person, created = await claims.claim(body.wanted())
    _, facts = await records.get(person.iin)
    return ClaimedPersonOut.of(person, facts, created=created)


@router.post("/admin/people", status_code=201, summary="A brand-new synthetic person matching the filters",
             responses=error_responses(*WANTED_CODES))
async def create(body: WantedIn, new_people: NewPeopleDep, records: RecordsDep) -> PersonOut:
    person = await new_people.create(body.wanted())
    return PersonOut.of(*(await records.get(person.iin)))


@router.get("/admin/people/{iin}", summary="A person's record and registry facts",
            responses=error_responses("PERSON_NOT_FOUND", *IIN_CODES))
async def get_person(iin: str, records: RecordsDep) -> PersonOut:
    return PersonOut.of(*(await records.get(iin)))


@router.put("/admin/people/{iin}", summary="Create or replace a person (the IIN must agree with birth date and sex)",
            responses=error_responses(*RECORD_CODES))
async def put_person(iin: str, body: PersonIn, records: RecordsDep) -> PersonOut:
    await records.put(Person(iin=iin, **body.model_dump()))
    return PersonOut.of(*(await records.get(iin)))


@router.patch("/admin/people/{iin}", summary="Change some fields, e.g. make the person deceased",
              responses=error_responses(*RECORD_CODES))
async def change_person(iin: str, body: PersonChange, records: RecordsDep) -> PersonOut:
    await records.change(iin, changes=body.model_dump(exclude_unset=True))
    return PersonOut.of(*(await records.get(iin)))


@router.delete("/admin/people/{iin}", status_code=204, response_class=Response, summary="Remove a person",
               responses=error_responses("PERSON_NOT_FOUND", *IIN_CODES))
async def delete_person(iin: str, records: RecordsDep) -> Response:
    await records.delete(iin)
    return Response(status_code=204)

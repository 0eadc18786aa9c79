"""A person's registry facts: what the employment, education and pension registries say (all three at once)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from services.gbd_fl.deps import RecordsDep, admin_only
from services.gbd_fl.models import FactsIn, PersonOut
from services.gbd_fl.routes.people import IIN_CODES
from shared.web.openapi_errors import error_responses

router = APIRouter(tags=["test support"], dependencies=[Depends(admin_only)])

BIN_CODES = ("BIN_BAD_CHECK_DIGIT", "BIN_BAD_ENTITY_TYPE", "BIN_BAD_MONTH", "BIN_BAD_UNIT", "BIN_LENGTH",
             "BIN_NEVER_ISSUED", "BIN_NOT_DIGITS")


@router.put("/admin/people/{iin}/facts", summary="What the employment, education and pension registries say",
            responses=error_responses("PERSON_NOT_FOUND", *BIN_CODES, "EMPLOYMENT_SINCE_REQUIRED", *IIN_CODES))
async def put_facts(iin: str, body: FactsIn, records: RecordsDep) -> PersonOut:
    await records.set_facts(body.row(iin))
    return PersonOut.of(*(await records.get(iin)))

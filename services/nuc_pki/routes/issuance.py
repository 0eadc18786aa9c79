"""Issuance (admin): a person's signing and authentication certificates, an information system's signing one, and
deliberately faulty ones for negative tests."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from services.nuc_pki.deps import FaultyDep, IssuanceDep, KeysDep, admin_only
from services.nuc_pki.domain import PersonName, parse_csr
from services.nuc_pki.models import (
    EmployeeRequest,
    FaultyIssuedOut,
    FaultyRequest,
    IssuedOut,
    IssuedPairOut,
    PersonRequest,
    SystemRequest,
)
from services.nuc_pki.usecases.issuance import Issuance, Issued
from services.nuc_pki.usecases.keys import CaKeys
from shared.web.openapi_errors import error_responses

BIN_CODES = ("BIN_BAD_CHECK_DIGIT", "BIN_BAD_ENTITY_TYPE", "BIN_BAD_MONTH", "BIN_BAD_UNIT", "BIN_LENGTH",
             "BIN_NEVER_ISSUED", "BIN_NOT_DIGITS")
IIN_CODES = ("IIN_BAD_BIRTH_DATE", "IIN_BAD_CENTURY_DIGIT", "IIN_BAD_CHECK_DIGIT", "IIN_LENGTH", "IIN_NEVER_ISSUED",
             "IIN_NOT_DIGITS")
CSR_CODES = ("CSR_KEY_TOO_WEAK", "CSR_KEY_UNSUPPORTED", "CSR_MALFORMED", "CSR_SIGNATURE_INVALID")
PERSON_CODES = ("PKCS12_WITHOUT_KEY", *BIN_CODES, "CSR_KEY_REUSED", *CSR_CODES, *IIN_CODES, "NAME_TOO_LONG",
                "ROLE_UNKNOWN", "CA_NOT_READY")

router = APIRouter(tags=["issuance"], dependencies=[Depends(admin_only)])
test_router = APIRouter(tags=["test support"], dependencies=[Depends(admin_only)])


def _issued(issuance: Issuance, keys: CaKeys, issued: Issued, *, password: str | None) -> IssuedOut:
    """The certificate, the chain and — when НУЦ made the key and a password was given — the PKCS#12 file."""
    pkcs12 = issuance.pkcs12(issued, password=password) if password is not None and issued.key is not None else None
    return IssuedOut.issued(issued.record, chain=keys.chain(), pkcs12=pkcs12)


async def _person(body: PersonRequest, issuance: Issuance, keys: CaKeys, *, organisation: str | None,
                  bin_: str | None, role: str | None) -> IssuedPairOut:
    sign_key = parse_csr(body.signing_csr_pem) if body.signing_csr_pem else None
    auth_key = parse_csr(body.authentication_csr_pem) if body.authentication_csr_pem else None
    signing, auth = await issuance.issue_person_pair(
        iin=body.iin, person=PersonName(surname=body.surname, name=body.name, patronymic=body.patronymic),
        organisation=organisation, bin_=bin_, role=role, email=body.email, signing_key=sign_key, auth_key=auth_key)
    return IssuedPairOut(signing=_issued(issuance, keys, signing, password=body.pkcs12_password),
                         authentication=_issued(issuance, keys, auth, password=body.pkcs12_password))


@router.post("/certificates/individual", status_code=201,
             summary="Signing + authentication certificates for an individual",
             responses=error_responses(*PERSON_CODES))
async def issue_individual(body: PersonRequest, issuance: IssuanceDep, keys: KeysDep) -> IssuedPairOut:
    return await _person(body, issuance, keys, organisation=None, bin_=None, role=None)


@router.post("/certificates/employee", status_code=201,
             summary="Signing + authentication certificates for an employee of an organisation, with a role",
             responses=error_responses(*PERSON_CODES))
async def issue_employee(body: EmployeeRequest, issuance: IssuanceDep, keys: KeysDep) -> IssuedPairOut:
    return await _person(body, issuance, keys, organisation=body.organisation, bin_=body.bin, role=body.role)


@router.post("/certificates/system", status_code=201,
             summary="Signing certificate of an information system (a mesh member)",
             responses=error_responses("PKCS12_WITHOUT_KEY", *BIN_CODES, *CSR_CODES, "CA_NOT_READY"))
async def issue_system(body: SystemRequest, issuance: IssuanceDep, keys: KeysDep) -> IssuedOut:
    key = parse_csr(body.csr_pem) if body.csr_pem else None
    issued = await issuance.issue_system(member_id=body.member_id, organisation=body.organisation, bin_=body.bin,
                                         public_key=key)
    return _issued(issuance, keys, issued, password=body.pkcs12_password)


@test_router.post("/test/certificates", status_code=201,
                  summary="Deliberately faulty certificates: expired, not yet valid, wrong key usage, untrusted",
                  responses=error_responses("PKCS12_WITHOUT_KEY", *BIN_CODES, "CSR_KEY_REUSED", *IIN_CODES,
                                            "NAME_TOO_LONG", "ROLE_UNKNOWN", "CA_NOT_READY"))
async def issue_faulty(body: FaultyRequest, faulty: FaultyDep, issuance: IssuanceDep,
                       keys: KeysDep) -> FaultyIssuedOut:
    signing, auth = await faulty.issue_faulty(body.wish())
    return FaultyIssuedOut(
        signing=_issued(issuance, keys, signing, password=body.pkcs12_password),
        authentication=_issued(issuance, keys, auth, password=body.pkcs12_password) if auth else None)

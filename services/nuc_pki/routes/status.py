"""Status publication, open to everyone as a real CA's: the CRLs (DER and PEM) and the OCSP responder (RFC 6960,
POST and GET)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter, Header, Request

from services.nuc_pki.deps import CrlDep, OcspDep
from services.nuc_pki.models import PEM, CrlDerResponse, OcspDerResponse, PemResponse, served_as
from services.nuc_pki.usecases.ocsp import OcspResponder
from shared.errors import MeshError
from shared.mesh.scenarios import HTTP_HEADER
from shared.web.openapi_errors import error_responses

router = APIRouter(tags=["status"])

OCSP_ANSWER = served_as(
    OcspDerResponse.media_type, "a signed OCSP response (good, revoked or unknown); a request for another CA's "
    "certificate gets an unsigned «unauthorized» with X-Mesh-Error-Code OCSP_UNKNOWN_ISSUER, and one that is not an "
    "OCSP request 400 with «malformedRequest» and OCSP_MALFORMED_REQUEST", binary=True,
    headers={"X-Mesh-Error-Code": {"description": "why the request was refused, when it was",
                                   "schema": {"type": "string"}}})


@router.get("/ca/root.crl", response_class=CrlDerResponse,
            summary="The root's CRL of CA certificates (DER); the issuing CA's certificate names it",
            responses={**served_as(CrlDerResponse.media_type, "the root's CRL (DER)", binary=True),
                       **error_responses("CA_NOT_READY")})
async def root_crl_der(crls: CrlDep) -> CrlDerResponse:
    return CrlDerResponse(crls.root_crl().public_bytes(serialization.Encoding.DER))


@router.get("/ca/root.crl.pem", response_class=PemResponse, summary="The root's CRL (PEM)",
            responses={**served_as(PEM, "the root's CRL (PEM)", binary=False), **error_responses("CA_NOT_READY")})
async def root_crl_pem(crls: CrlDep) -> PemResponse:
    return PemResponse(crls.root_crl().public_bytes(serialization.Encoding.PEM))


@router.get("/crl", response_class=CrlDerResponse, summary="Full CRL (DER)",
            responses={**served_as(CrlDerResponse.media_type, "the issuing CA's CRL (DER)", binary=True),
                       **error_responses("CA_NOT_READY")})
async def crl_der(crls: CrlDep) -> CrlDerResponse:
    return CrlDerResponse((await crls.crl()).public_bytes(serialization.Encoding.DER))


@router.get("/crl.pem", response_class=PemResponse, summary="Full CRL (PEM)",
            responses={**served_as(PEM, "the issuing CA's CRL (PEM)", binary=False),
                       **error_responses("CA_NOT_READY")})
async def crl_pem(crls: CrlDep) -> PemResponse:
    return PemResponse((await crls.crl()).public_bytes(serialization.Encoding.PEM))


ScenarioHeader = Annotated[str | None, Header(alias=HTTP_HEADER, max_length=64, description=(
    "the scenario of the flow the certificate is checked in (docs/scenarios.md): `nuc:revoked` answers a person's "
    "certificate revoked for that flow alone"))]


async def _ocsp(ocsp: OcspResponder, der: bytes, scenario_id: str | None = None) -> OcspDerResponse:
    """A refusal is still an OCSP response, as RFC 6960 has it; the mesh's code rides in a header, and only a request
    that is not one at all is a 400."""
    answer, error = await ocsp.ocsp_response(der, scenario_id=scenario_id)
    headers = {"X-Mesh-Error-Code": error} if error else {}
    return OcspDerResponse(answer, status_code=400 if error == "OCSP_MALFORMED_REQUEST" else 200, headers=headers)


@router.post("/ocsp", response_class=OcspDerResponse,
             summary="OCSP responder (RFC 6960), body application/ocsp-request; nonce echoed",
             responses={**OCSP_ANSWER, **error_responses("OCSP_CONTENT_TYPE", "CA_NOT_READY")})
async def ocsp_post(request: Request, ocsp: OcspDep, scenario: ScenarioHeader = None) -> OcspDerResponse:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/ocsp-request":
        raise MeshError("OCSP_CONTENT_TYPE", "POST /ocsp needs Content-Type: application/ocsp-request")
    return await _ocsp(ocsp, await request.body(), scenario)


@router.get("/ocsp/{encoded:path}", response_class=OcspDerResponse,
            summary="OCSP over GET: base64 of the DER request, URL-encoded (RFC 6960 A.1)",
            responses={**OCSP_ANSWER, **error_responses("CA_NOT_READY")})
async def ocsp_get(encoded: str, ocsp: OcspDep) -> OcspDerResponse:
    try:
        der = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        der = b""
    return await _ocsp(ocsp, der)

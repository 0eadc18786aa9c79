"""The CA's own certificates, as relying parties fetch them to build their trust store (and the AIA URL names)."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter

from services.nuc_pki.deps import KeysDep
from services.nuc_pki.models import PEM, CertificateDerResponse, PemResponse, served_as
from shared.pki.signing import certificate_pem
from shared.web.openapi_errors import error_responses

router = APIRouter(tags=["ca"])


@router.get("/ca/root.pem", response_class=PemResponse, summary="Root CA certificate (PEM)",
            responses={**served_as(PEM, "the root CA's certificate", binary=False),
                       **error_responses("CA_NOT_READY")})
async def root_pem(keys: KeysDep) -> PemResponse:
    return PemResponse(certificate_pem(keys.chain()[1]))


@router.get("/ca/issuing.pem", response_class=PemResponse, summary="Issuing CA certificate (PEM)",
            responses={**served_as(PEM, "the issuing CA's certificate", binary=False),
                       **error_responses("CA_NOT_READY")})
async def issuing_pem(keys: KeysDep) -> PemResponse:
    return PemResponse(certificate_pem(keys.chain()[0]))


@router.get("/ca/issuing.cer", response_class=CertificateDerResponse, summary="Issuing CA (DER, for AIA)",
            responses={**served_as(CertificateDerResponse.media_type, "the issuing CA's certificate (DER)",
                                   binary=True), **error_responses("CA_NOT_READY")})
async def issuing_der(keys: KeysDep) -> CertificateDerResponse:
    return CertificateDerResponse(keys.chain()[0].public_bytes(serialization.Encoding.DER))


@router.get("/ca/chain.pem", response_class=PemResponse, summary="Issuing CA then root (PEM)",
            responses={**served_as(PEM, "the issuing CA's certificate, then the root's", binary=False),
                       **error_responses("CA_NOT_READY")})
async def chain_pem(keys: KeysDep) -> PemResponse:
    return PemResponse("".join(certificate_pem(c) for c in keys.chain()))

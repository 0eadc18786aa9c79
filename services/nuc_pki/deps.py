"""What a route needs, reached through the app (``app.state``, set by ``main.create_app``) rather than captured by
a closure: a route module is then plain module-level code, and a test can build the app with other objects."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.nuc_pki.handlers import CertificateAuthority
from services.nuc_pki.usecases.crl import CrlPublisher
from services.nuc_pki.usecases.faulty import FaultyIssuance
from services.nuc_pki.usecases.issuance import Issuance
from services.nuc_pki.usecases.keys import CaKeys
from services.nuc_pki.usecases.lookup import CertificateLookup
from services.nuc_pki.usecases.ocsp import OcspResponder
from services.nuc_pki.usecases.revocation import Revocation
from shared.web.admin_auth import ADMIN_REFUSALS, admin_guard, admin_or_anonymous
from shared.web.openapi_errors import raises
from shared.web.security import AdminCredentials


def ca_of(request: Request) -> CertificateAuthority:
    ca: CertificateAuthority = request.app.state.ca
    return ca


@raises(*ADMIN_REFUSALS)
def admin_only(request: Request, credentials: AdminCredentials) -> None:
    """Issuance, revocation and searches by person: the admin token (``adminToken``) or a catalogued refusal."""
    admin_guard(token=request.app.state.admin_token)(credentials)


@raises(*ADMIN_REFUSALS)
def caller_is_admin(request: Request, credentials: AdminCredentials) -> bool:
    """True with the admin token, False with none (a wrong one is 403): routes open to everyone tell the admin
    more than a stranger."""
    return admin_or_anonymous(token=request.app.state.admin_token)(credentials)


def keys_of(request: Request) -> CaKeys:
    return ca_of(request).keys


def issuance_of(request: Request) -> Issuance:
    return ca_of(request).issuance


def faulty_of(request: Request) -> FaultyIssuance:
    return ca_of(request).faulty


def revocation_of(request: Request) -> Revocation:
    return ca_of(request).revocation


def lookup_of(request: Request) -> CertificateLookup:
    return ca_of(request).lookup


def ocsp_of(request: Request) -> OcspResponder:
    return ca_of(request).ocsp


def crls_of(request: Request) -> CrlPublisher:
    return ca_of(request).crls


IsAdmin = Annotated[bool, Depends(caller_is_admin)]
KeysDep = Annotated[CaKeys, Depends(keys_of)]
IssuanceDep = Annotated[Issuance, Depends(issuance_of)]
FaultyDep = Annotated[FaultyIssuance, Depends(faulty_of)]
RevocationDep = Annotated[Revocation, Depends(revocation_of)]
LookupDep = Annotated[CertificateLookup, Depends(lookup_of)]
OcspDep = Annotated[OcspResponder, Depends(ocsp_of)]
CrlDep = Annotated[CrlPublisher, Depends(crls_of)]

"""The НУЦ РК certificate profile as relying parties read it: who a certificate names and what it may do.

Individual: CN=<SURNAME NAME>, SURNAME, SERIALNUMBER=IIN<12 digits>, C=KZ, GIVENNAME=<patronymic>.
Employee of an organisation: adds O=<organisation>, OU=BIN<12 digits>, a role OID in ExtendedKeyUsage.
Information system (a mesh member): CN=<member id>, O=<organisation>, OU=BIN<12 digits>, no IIN.
Signing certificates carry digitalSignature+nonRepudiation; authentication ones digitalSignature+keyEncipherment.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from shared.pki.signing import CERTIFICATES_KEPT

# Certificate policies
POLICY_LEGAL_SIGN = x509.ObjectIdentifier("1.2.398.3.3.2.1")
POLICY_LEGAL_AUTH = x509.ObjectIdentifier("1.2.398.3.3.2.2")
POLICY_PERSON_SIGN = x509.ObjectIdentifier("1.2.398.3.3.2.3")
POLICY_PERSON_AUTH = x509.ObjectIdentifier("1.2.398.3.3.2.4")

# Role OIDs carried in ExtendedKeyUsage
ROLE_INDIVIDUAL = x509.ObjectIdentifier("1.2.398.3.3.4.1.1")
ROLE_ORGANISATION = x509.ObjectIdentifier("1.2.398.3.3.4.1.2")
ROLE_OIDS: dict[str, x509.ObjectIdentifier] = {
    "head": x509.ObjectIdentifier("1.2.398.3.3.4.1.2.1"),
    "signer": x509.ObjectIdentifier("1.2.398.3.3.4.1.2.2"),
    "finance": x509.ObjectIdentifier("1.2.398.3.3.4.1.2.3"),
    "hr": x509.ObjectIdentifier("1.2.398.3.3.4.1.2.4"),
    "employee": x509.ObjectIdentifier("1.2.398.3.3.4.1.2.5"),
    # a service-centre operator of the State Corporation (the simulator's own arc, like the others)
    "operator": x509.ObjectIdentifier("1.2.398.3.3.4.1.2.6"),
}
_ROLE_NAMES = {oid.dotted_string: name for name, oid in ROLE_OIDS.items()}


class Usage(StrEnum):
    SIGN = "SIGN"
    AUTH = "AUTH"


class Holder(StrEnum):
    INDIVIDUAL = "individual"
    EMPLOYEE = "employee"
    SYSTEM = "system"


@dataclass(frozen=True)
class CertificateInfo:
    serial: str
    holder: Holder
    common_name: str
    usage: Usage | None
    not_before: dt.datetime
    not_after: dt.datetime
    iin: str | None = None
    bin: str | None = None
    organisation: str | None = None
    surname: str | None = None
    patronymic: str | None = None
    roles: tuple[str, ...] = field(default_factory=tuple)

    def public(self) -> dict:
        """A description safe to return to the certificate's holder or an operator (not to logs)."""
        return {
            "serial": self.serial, "holder": self.holder.value, "commonName": self.common_name,
            "usage": self.usage.value if self.usage else None, "iin": self.iin, "bin": self.bin,
            "organisation": self.organisation, "roles": list(self.roles),
            "notBefore": self.not_before.isoformat(), "notAfter": self.not_after.isoformat(),
        }


def serial_hex(cert: x509.Certificate) -> str:
    return format(cert.serial_number, "x")


def _attr(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else None


def _usage(cert: x509.Certificate) -> Usage | None:
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None
    if ku.digital_signature and ku.content_commitment:
        return Usage.SIGN
    if ku.digital_signature and ku.key_encipherment:
        return Usage.AUTH
    return None


def _roles(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return ()
    names = []
    for oid in eku:
        if oid.dotted_string in _ROLE_NAMES:
            names.append(_ROLE_NAMES[oid.dotted_string])
        elif oid == ExtendedKeyUsageOID.CLIENT_AUTH:
            names.append("clientAuth")
    return tuple(names)


@lru_cache(maxsize=CERTIFICATES_KEPT)
def describe_certificate(cert: x509.Certificate) -> CertificateInfo:
    subject = cert.subject
    serial_attr = _attr(subject, NameOID.SERIAL_NUMBER)
    ou = _attr(subject, NameOID.ORGANIZATIONAL_UNIT_NAME)
    iin = serial_attr[3:] if serial_attr and serial_attr.startswith("IIN") else None
    bin_ = ou[3:] if ou and ou.startswith("BIN") else None
    if iin and bin_:
        holder = Holder.EMPLOYEE
    elif iin:
        holder = Holder.INDIVIDUAL
    else:
        holder = Holder.SYSTEM
    return CertificateInfo(
        serial=serial_hex(cert), holder=holder, common_name=_attr(subject, NameOID.COMMON_NAME) or "",
        usage=_usage(cert), not_before=cert.not_valid_before_utc, not_after=cert.not_valid_after_utc,
        iin=iin, bin=bin_, organisation=_attr(subject, NameOID.ORGANIZATION_NAME),
        surname=_attr(subject, NameOID.SURNAME), patronymic=_attr(subject, NameOID.GIVEN_NAME), roles=_roles(cert),
    )

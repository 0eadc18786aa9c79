"""The НУЦ РК certificate profile as an issuer applies it: subjects, key usages, policies, role OIDs.

Pure functions: no database, no HTTP. The CA names are the real ones, with O=egov-mesh simulator (TEST), so a
certificate from the simulator is never mistaken for a real one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from shared.errors import MeshError
from shared.pki.cert_profile import (
    POLICY_LEGAL_AUTH,
    POLICY_LEGAL_SIGN,
    POLICY_PERSON_AUTH,
    POLICY_PERSON_SIGN,
    ROLE_INDIVIDUAL,
    ROLE_OIDS,
    ROLE_ORGANISATION,
    Holder,
    Usage,
)

CaKey = rsa.RSAPrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey
ROOT_NAME = "НЕГІЗГІ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ (RSA)"
ISSUING_NAME = "ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ (RSA)"
CA_ORGANISATION = "egov-mesh simulator (TEST)"
_MAX_CN_BYTES = 64  # X.520 ub-common-name, which cryptography enforces on the UTF-8 form


class BadKind(StrEnum):
    """Deliberately faulty certificates for negative tests."""

    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    WRONG_USAGE = "wrong_usage"
    UNTRUSTED = "untrusted"


@dataclass(frozen=True)
class PersonName:
    surname: str
    name: str
    patronymic: str | None = None

    @property
    def common_name(self) -> str:
        return f"{self.surname} {self.name}".upper()


@dataclass(frozen=True)
class Urls:
    ocsp: str
    crl: str
    issuer: str
    root_crl: str = ""  # the root's CRL (of CA certificates), named by the issuing CA's certificate


def crl_urls(certificate: x509.Certificate) -> list[str]:
    try:
        points = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return []
    return [name.value for point in points for name in (point.full_name or [])
            if isinstance(name, x509.UniformResourceIdentifier)]


def ca_subject(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, CA_ORGANISATION),
                      x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ")])


def _fits(*, field: str, value: str) -> str:
    if len(value.encode()) > _MAX_CN_BYTES:
        raise MeshError("NAME_TOO_LONG", f"{field} is {len(value.encode())} bytes in UTF-8; a certificate's common "
                        f"name holds at most {_MAX_CN_BYTES}")
    return value


def person_subject(*, iin: str, person: PersonName, organisation: str | None = None, bin_: str | None = None,
                   email: str | None = None) -> x509.Name:
    _fits(field="surname + name", value=person.common_name)
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, person.common_name),
             x509.NameAttribute(NameOID.SURNAME, person.surname.upper()),
             x509.NameAttribute(NameOID.SERIAL_NUMBER, f"IIN{iin}"),
             x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ")]
    if person.patronymic:
        attrs.append(x509.NameAttribute(NameOID.GIVEN_NAME, person.patronymic.upper()))
    if organisation and bin_:
        attrs += [x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
                  x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"BIN{bin_}")]
    if email:
        attrs.append(x509.NameAttribute(NameOID.EMAIL_ADDRESS, email))
    return x509.Name(attrs)


def system_subject(*, member_id: str, organisation: str, bin_: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, member_id),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
                      x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"BIN{bin_}"),
                      x509.NameAttribute(NameOID.COUNTRY_NAME, "KZ")])


def _key_usage(*, usage: Usage | None, agreement: bool = False) -> x509.KeyUsage:
    """``agreement``: an information system's EC key also agrees keys — payloads are encrypted to it hop by hop
    (ECDH-ES, ``shared.mesh.payload_crypto``), as RFC 5480 allows an EC key's certificate to say."""
    return x509.KeyUsage(
        digital_signature=usage is not None, content_commitment=usage is Usage.SIGN,
        key_encipherment=usage is not Usage.SIGN, data_encipherment=False, key_agreement=agreement,
        key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False)


def _policy(*, usage: Usage, holder: Holder) -> x509.ObjectIdentifier:
    if holder is Holder.INDIVIDUAL:
        return POLICY_PERSON_SIGN if usage is Usage.SIGN else POLICY_PERSON_AUTH
    return POLICY_LEGAL_SIGN if usage is Usage.SIGN else POLICY_LEGAL_AUTH


def _extended_usage(*, usage: Usage, holder: Holder, role: str | None) -> x509.ExtendedKeyUsage:
    oids = [ExtendedKeyUsageOID.EMAIL_PROTECTION if usage is Usage.SIGN else ExtendedKeyUsageOID.CLIENT_AUTH]
    if holder is Holder.INDIVIDUAL:
        oids.append(ROLE_INDIVIDUAL)
    else:
        oids.append(ROLE_ORGANISATION)
        if role is not None:
            oids.append(ROLE_OIDS[role])
    return x509.ExtendedKeyUsage(oids)


def check_role(role: str | None) -> None:
    if role is not None and role not in ROLE_OIDS:
        raise MeshError("ROLE_UNKNOWN", f"role must be one of {', '.join(sorted(ROLE_OIDS))}")


def leaf_certificate(*, subject: x509.Name, public_key: PublicKey, usage: Usage, holder: Holder, role: str | None,
                     issuer: x509.Certificate, issuer_key: CaKey, not_before: dt.datetime, not_after: dt.datetime,
                     urls: Urls, broken_usage: bool = False) -> x509.Certificate:
    """A certificate by the НУЦ profile. ``broken_usage`` gives it a key usage no verifier accepts."""
    key_usage = _key_usage(usage=None) if broken_usage else _key_usage(
        usage=usage, agreement=holder is Holder.SYSTEM and isinstance(public_key, ec.EllipticCurvePublicKey))
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer.subject).public_key(public_key)
               .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(key_usage, critical=True)
               .add_extension(_extended_usage(usage=usage, holder=holder, role=role), critical=False)
               .add_extension(x509.CertificatePolicies([x509.PolicyInformation(_policy(usage=usage, holder=holder),
                                                                               None)]), critical=False)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                              critical=False)
               .add_extension(_access(urls), critical=False)
               .add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
                   full_name=[x509.UniformResourceIdentifier(urls.crl)], relative_name=None, reasons=None,
                   crl_issuer=None)]), critical=False))
    return builder.sign(issuer_key, hashes.SHA256())


def _access(urls: Urls) -> x509.AuthorityInformationAccess:
    oid = x509.AuthorityInformationAccessOID
    return x509.AuthorityInformationAccess([
        x509.AccessDescription(oid.OCSP, x509.UniformResourceIdentifier(urls.ocsp)),
        x509.AccessDescription(oid.CA_ISSUERS, x509.UniformResourceIdentifier(urls.issuer))])


def ca_certificate(*, subject: x509.Name, key: CaKey, issuer: x509.Certificate | None, issuer_key: CaKey,
                   not_before: dt.datetime, not_after: dt.datetime, path_length: int | None,
                   crl_url: str | None = None) -> x509.Certificate:
    """A CA certificate; ``crl_url`` names where its issuer's CRL is (the issuing CA's points at the root's, so
    ``openssl verify -crl_check_all`` can check every certificate of a chain)."""
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(issuer.subject if issuer is not None else subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                            crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                              critical=False))
    if crl_url is not None:
        builder = builder.add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(crl_url)], relative_name=None, reasons=None, crl_issuer=None)]),
            critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def validity_for(*, kind: BadKind | None, now: dt.datetime, days: int,
                 earliest: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime]:
    """Validity period of a new certificate; the faulty kinds get theirs on purpose.

    A good certificate is valid from ``earliest`` (the earlier of mesh and real time, ``MeshClock.earliest_now``):
    issued while the mesh clock is ahead, it stays valid when the clock is reset to real time — before, a reset
    left every citizen, staff member and system made after a jump «not yet valid» (98 of them, measured)."""
    if kind is BadKind.EXPIRED:
        return now - dt.timedelta(days=days + 1), now - dt.timedelta(days=1)
    if kind is BadKind.NOT_YET_VALID:
        return now + dt.timedelta(days=30), now + dt.timedelta(days=30 + days)
    # A minute of back-dating absorbs clock differences between services.
    return min(now, earliest or now) - dt.timedelta(minutes=1), now + dt.timedelta(days=days)


def check_public_key(key: object) -> PublicKey:
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048:
            raise MeshError("CSR_KEY_TOO_WEAK", f"RSA keys must be at least 2048 bits, got {key.key_size}")
        return key
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in ("secp256r1", "secp384r1"):
            raise MeshError("CSR_KEY_UNSUPPORTED", f"EC curve {key.curve.name} is not accepted (P-256, P-384)")
        return key
    raise MeshError("CSR_KEY_UNSUPPORTED", f"{type(key).__name__} keys are not accepted (RSA or EC)")


def parse_csr(pem: str) -> PublicKey:
    """The public key of a well-formed, self-signed CSR; the subject is the CA's to set, not the requester's."""
    try:
        csr = x509.load_pem_x509_csr(pem.encode())
    except ValueError as exc:
        raise MeshError("CSR_MALFORMED", f"not a PEM certificate signing request: {exc}") from None
    if not csr.is_signature_valid:
        raise MeshError("CSR_SIGNATURE_INVALID", "the CSR is not signed by the key it carries")
    return check_public_key(csr.public_key())

"""НУЦ use cases: keep the CA, issue, revoke, answer OCSP, publish the CRL, look certificates up."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from asn1crypto import keys as asn1_keys
from asn1crypto.core import GeneralizedTime
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select

from services.nuc_pki.domain import (
    ISSUING_NAME,
    ROOT_NAME,
    BadKind,
    CaKey,
    PersonName,
    PublicKey,
    Urls,
    ca_certificate,
    ca_subject,
    check_role,
    crl_urls,
    leaf_certificate,
    person_subject,
    system_subject,
    validity_for,
)
from services.nuc_pki.settings import NucSettings
from services.nuc_pki.store import CaMaterial, IssuedCertificate
from shared.clock import MeshClock
from shared.db import Sessions
from shared.errors import MeshError
from shared.ids import parse_bin, parse_iin
from shared.logging import get_logger
from shared.pki.cert_profile import Holder, Usage, describe_certificate, serial_hex
from shared.pki.signing import SignerIdentity, certificate_pem

log = get_logger(__name__)

# X.509 (ITU-T, 2005 onwards) id-ce-expiredCertsOnCRL: "this CRL keeps the entries of certificates that expired
# since" (a GeneralizedTime), as a CA whose revocation records outlive the certificates says on its CRL.
EXPIRED_CERTS_ON_CRL = x509.ObjectIdentifier("2.5.29.60")
REVOCATION_REASONS = {flag.value: flag for flag in x509.ReasonFlags
                      if flag not in (x509.ReasonFlags.unspecified, x509.ReasonFlags.remove_from_crl)}
_OCSP_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"sha1": hashes.SHA1, "sha256": hashes.SHA256}


@dataclass(frozen=True)
class Issued:
    record: IssuedCertificate
    certificate: x509.Certificate
    key: rsa.RSAPrivateKey | None = None  # present when НУЦ generated the key


@dataclass(frozen=True)
class NotYetValid:
    at: dt.datetime
    count: int
    by_holder: dict[str, int]
    latest_not_before: dt.datetime | None


def _encrypt(key: CaKey, passphrase: str) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.BestAvailableEncryption(passphrase.encode()))


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class CertificateAuthority:
    def _holder_key(self) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
        """A key НУЦ makes for a holder: RSA-2048 as the real НУЦ («(RSA)» line), or P-256 where tests ask for
        speed (``NUC_HOLDER_KEYS=ec``); verifiers accept both, the profile is the same."""
        if self._settings.holder_keys == "ec":
            return ec.generate_private_key(ec.SECP256R1())
        return _rsa_key()

    def __init__(self, *, sessions: Sessions, clock: MeshClock, settings: NucSettings) -> None:
        self._sessions = sessions
        self._clock = clock
        self._settings = settings
        self._passphrase = settings.mesh.key_passphrase.get_secret_value()
        self.root: x509.Certificate | None = None
        self.issuing: x509.Certificate | None = None
        self._issuing_key: CaKey | None = None
        self._root_key: CaKey | None = None
        self._issuing_hashes: dict[str, tuple[bytes, bytes]] = {}

    # ---- the CA itself -----------------------------------------------------------------------------------
    async def load_or_create(self) -> None:
        """Load the root and issuing CA from the database, creating them on the very first start."""
        async with self._sessions() as session:
            rows = {r.name: r for r in (await session.exec(select(CaMaterial))).all()}
        if {"root", "issuing"} - rows.keys():
            rows = await self._create_ca()
        root_key = serialization.load_pem_private_key(rows["root"].key_pem, self._passphrase.encode())
        issuing_key = serialization.load_pem_private_key(rows["issuing"].key_pem, self._passphrase.encode())
        assert isinstance(root_key, rsa.RSAPrivateKey)
        assert isinstance(issuing_key, rsa.RSAPrivateKey)
        self.root = x509.load_pem_x509_certificate(rows["root"].certificate_pem.encode())
        self.issuing = x509.load_pem_x509_certificate(rows["issuing"].certificate_pem.encode())
        self._root_key, self._issuing_key = root_key, issuing_key
        if crl_urls(self.issuing) != [self.urls.root_crl]:
            self.issuing = await self._reissue_issuing(rows["issuing"])
        spki = asn1_keys.PublicKeyInfo.load(self.issuing.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
        name_der = self.issuing.subject.public_bytes()
        self._issuing_hashes = {"sha1": (hashlib.sha1(name_der).digest(), spki.sha1),  # noqa: S324 - RFC 6960 CertID
                                "sha256": (hashlib.sha256(name_der).digest(), spki.sha256)}
        log.info("ca_loaded", root_serial=serial_hex(self.root), issuing_serial=serial_hex(self.issuing))

    async def _reissue_issuing(self, row: CaMaterial) -> x509.Certificate:
        """The issuing CA's certificate again — same key, name and validity — naming where the root's CRL is
        (one made before it did, or before НУЦ's address changed). Certificates it issued verify as before."""
        assert self.root is not None
        assert self.issuing is not None
        issuing = ca_certificate(subject=self.issuing.subject, key=self._issuing_key, issuer=self.root,  # type: ignore[arg-type]
                                 issuer_key=self._root_key, not_before=self.issuing.not_valid_before_utc,  # type: ignore[arg-type]
                                 not_after=self.issuing.not_valid_after_utc, path_length=0,
                                 crl_url=self.urls.root_crl)
        async with self._sessions() as session, session.begin():
            row = await session.get(CaMaterial, row.name) or row
            row.certificate_pem = certificate_pem(issuing)
            session.add(row)
        log.info("issuing_ca_reissued", serial=serial_hex(issuing), reason="names the root CRL")
        return issuing

    async def _create_ca(self) -> dict[str, CaMaterial]:
        now = self._clock.now() - dt.timedelta(days=1)
        root_key, issuing_key = _rsa_key(), _rsa_key()
        root = ca_certificate(subject=ca_subject(ROOT_NAME), key=root_key, issuer=None, issuer_key=root_key,
                              not_before=now, not_after=now + dt.timedelta(days=365 * 20), path_length=1)
        issuing = ca_certificate(subject=ca_subject(ISSUING_NAME), key=issuing_key, issuer=root, issuer_key=root_key,
                                 not_before=now, not_after=now + dt.timedelta(days=365 * 10), path_length=0,
                                 crl_url=self.urls.root_crl)
        rows = {"root": CaMaterial(name="root", key_pem=_encrypt(root_key, self._passphrase),
                                   certificate_pem=certificate_pem(root), created_at=now),
                "issuing": CaMaterial(name="issuing", key_pem=_encrypt(issuing_key, self._passphrase),
                                      certificate_pem=certificate_pem(issuing), created_at=now)}
        try:
            async with self._sessions() as session, session.begin():
                session.add_all(rows.values())
        except IntegrityError:  # another replica created it first: use theirs
            async with self._sessions() as session:
                return {r.name: r for r in (await session.exec(select(CaMaterial))).all()}
        log.info("ca_created")
        return rows

    @property
    def urls(self) -> Urls:
        base = self._settings.base_url.rstrip("/")
        return Urls(ocsp=f"{base}/ocsp", crl=f"{base}/crl", issuer=f"{base}/ca/issuing.cer",
                    root_crl=f"{base}/ca/root.crl")

    def _ready(self) -> tuple[x509.Certificate, CaKey]:
        if self.issuing is None or self._issuing_key is None:
            raise MeshError("CA_NOT_READY", "the certification authority is still starting")
        return self.issuing, self._issuing_key

    def chain(self) -> list[x509.Certificate]:
        self._ready()
        assert self.root is not None
        assert self.issuing is not None
        return [self.issuing, self.root]

    # ---- issuance ----------------------------------------------------------------------------------------
    async def issue(self, *, subject: x509.Name, public_key: PublicKey | None, usage: Usage, holder: Holder,
                    role: str | None = None, member_id: str | None = None, defect: BadKind | None = None) -> Issued:
        issuer, issuer_key = self._ready()
        key = None
        if public_key is None:
            key = self._holder_key()
            public_key = key.public_key()
        not_before, not_after = validity_for(kind=defect, now=self._clock.now(),
                                             days=self._settings.leaf_validity_days)
        if defect is BadKind.UNTRUSTED:
            # A look-alike of the issuing CA that no root vouches for.
            rogue_key = _rsa_key()
            issuer = ca_certificate(subject=issuer.subject, key=rogue_key, issuer=None, issuer_key=rogue_key,
                                    not_before=not_before, not_after=not_after + dt.timedelta(days=1), path_length=0)
            issuer_key = rogue_key
        cert = leaf_certificate(subject=subject, public_key=public_key, usage=usage, holder=holder, role=role,
                                issuer=issuer, issuer_key=issuer_key, not_before=not_before, not_after=not_after,
                                urls=self.urls, broken_usage=defect is BadKind.WRONG_USAGE)
        info = describe_certificate(cert)
        record = IssuedCertificate(
            serial=info.serial, holder=holder.value, usage=usage.value, common_name=info.common_name, iin=info.iin,
            bin=info.bin, member_id=member_id, roles=list(info.roles), defect=defect.value if defect else None,
            not_before=not_before, not_after=not_after, issued_at=self._clock.now(),
            certificate_pem=certificate_pem(cert))
        async with self._sessions() as session, session.begin():
            session.add(record)
        log.info("certificate_issued", serial=info.serial, holder=holder.value, usage=usage.value,
                 defect=record.defect)
        return Issued(record=record, certificate=cert, key=key)

    async def issue_person_pair(self, *, iin: str, person: PersonName, organisation: str | None, bin_: str | None,
                                role: str | None, email: str | None, signing_key: PublicKey | None,
                                auth_key: PublicKey | None, defect: BadKind | None = None) -> tuple[Issued, Issued]:
        """A signing and an authentication certificate, as НУЦ issues them together."""
        parse_iin(iin)
        if bin_ is not None:
            parse_bin(bin_)
        check_role(role)
        if signing_key is not None and auth_key is not None and _spki(signing_key) == _spki(auth_key):
            raise MeshError("CSR_KEY_REUSED", "the signing and the authentication CSR carry the same key: a key "
                            "serves one purpose only — make a key pair for each")
        holder = Holder.EMPLOYEE if bin_ else Holder.INDIVIDUAL
        subject = person_subject(iin=iin, person=person, organisation=organisation, bin_=bin_, email=email)
        signing = await self.issue(subject=subject, public_key=signing_key, usage=Usage.SIGN, holder=holder,
                                   role=role, defect=defect)
        auth = await self.issue(subject=subject, public_key=auth_key, usage=Usage.AUTH, holder=holder, role=role,
                                defect=defect)
        return signing, auth

    async def issue_system(self, *, member_id: str, organisation: str, bin_: str, public_key: PublicKey | None,
                           defect: BadKind | None = None) -> Issued:
        parse_bin(bin_)
        return await self.issue(subject=system_subject(member_id=member_id, organisation=organisation, bin_=bin_),
                                public_key=public_key, usage=Usage.SIGN, holder=Holder.SYSTEM, member_id=member_id,
                                defect=defect)

    def pkcs12(self, issued: Issued, *, password: str) -> bytes:
        if issued.key is None:
            raise MeshError("PKCS12_WITHOUT_KEY", "the key of this certificate was made by its holder")
        identity = SignerIdentity(key=issued.key, certificate=issued.certificate, chain=tuple(self.chain()))
        return identity.to_pkcs12(password=password, friendly_name=issued.record.common_name)

    # ---- revocation and look-up ------------------------------------------------------------------------
    async def get(self, serial: str) -> IssuedCertificate:
        async with self._sessions() as session:
            record = await session.get(IssuedCertificate, serial.lower())
        if record is None:
            raise MeshError("CERTIFICATE_NOT_FOUND", f"no certificate with serial {serial}")
        return record

    async def revoke(self, *, serial: str, reason: str) -> IssuedCertificate:
        flag = REVOCATION_REASONS.get(reason)
        if flag is None:
            raise MeshError("REVOCATION_REASON_UNKNOWN",
                            f"reason must be one of {', '.join(sorted(REVOCATION_REASONS))}")
        async with self._sessions() as session, session.begin():
            record = await session.get(IssuedCertificate, serial.lower(), with_for_update=True)
            if record is None:
                raise MeshError("CERTIFICATE_NOT_FOUND", f"no certificate with serial {serial}")
            if record.revoked_at is not None:
                raise MeshError("CERTIFICATE_ALREADY_REVOKED",
                                f"certificate {serial} was revoked on {record.revoked_at.isoformat()}")
            record.revoked_at = self._clock.now()
            record.revocation_reason = flag.value
            session.add(record)
        log.info("certificate_revoked", serial=record.serial, reason=flag.value)
        return record

    async def search(self, *, iin: str | None, bin_: str | None, member_id: str | None) -> list[IssuedCertificate]:
        if not (iin or bin_ or member_id):
            raise MeshError("SEARCH_CRITERION_MISSING", "give iin, bin or memberId")
        query = select(IssuedCertificate).order_by(col(IssuedCertificate.issued_at))
        if iin:
            parse_iin(iin)
            query = query.where(IssuedCertificate.iin == iin)
        if bin_:
            parse_bin(bin_)
            query = query.where(IssuedCertificate.bin == bin_)
        if member_id:
            query = query.where(IssuedCertificate.member_id == member_id)
        async with self._sessions() as session:
            return list((await session.exec(query)).all())

    async def not_yet_valid(self, *, at: dt.datetime | None = None) -> NotYetValid:
        """The certificates a holder cannot use at mesh time ``at`` (default: now) because they begin later: what
        moving the mesh clock back (``reset``) leaves behind. Revoked and deliberately faulty test certificates are
        not counted."""
        at = at or self._clock.now()
        query = (select(IssuedCertificate.holder, func.count(), func.max(IssuedCertificate.not_before))
                 .where(col(IssuedCertificate.not_before) > at, col(IssuedCertificate.revoked_at).is_(None),
                        col(IssuedCertificate.defect).is_(None))
                 .group_by(IssuedCertificate.holder))
        async with self._sessions() as session:
            rows = (await session.exec(query)).all()  # type: ignore[call-overload]
        by_holder = {holder: int(count) for holder, count, _ in rows}
        latest = max((last for _, _, last in rows), default=None)
        return NotYetValid(at=at, count=sum(by_holder.values()), by_holder=by_holder, latest_not_before=latest)

    # ---- status publication ------------------------------------------------------------------------------
    async def ocsp_response(self, request_der: bytes) -> tuple[bytes, str | None]:
        """RFC 6960 answer for a DER request, and an error code when the request itself was refused."""
        issuer, issuer_key = self._ready()
        try:
            request = ocsp.load_der_ocsp_request(request_der)
        except ValueError as exc:
            log.info("ocsp_request_malformed", reason=str(exc)[:200])
            return (ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
                    .public_bytes(serialization.Encoding.DER), "OCSP_MALFORMED_REQUEST")
        algorithm = request.hash_algorithm
        ours = self._issuing_hashes.get(algorithm.name)
        if ours is None or ours != (request.issuer_name_hash, request.issuer_key_hash):
            return (ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
                    .public_bytes(serialization.Encoding.DER), "OCSP_UNKNOWN_ISSUER")
        async with self._sessions() as session:
            record = await session.get(IssuedCertificate, format(request.serial_number, "x"))
        now = self._clock.now()
        # Answered from the records whether or not the certificate has expired: НУЦ never forgets a revocation (the
        # CRL's ExpiredCertsOnCRL), so a verifier judging a signature made while the certificate was valid learns
        # that it was revoked, and when and why, after its end too.
        status, revoked_at, reason = ocsp.OCSPCertStatus.UNKNOWN, None, None
        if record is not None and record.defect != BadKind.UNTRUSTED.value:
            if record.revoked_at is not None:
                status, revoked_at = ocsp.OCSPCertStatus.REVOKED, record.revoked_at
                reason = x509.ReasonFlags(record.revocation_reason) if record.revocation_reason else None
            else:
                status = ocsp.OCSPCertStatus.GOOD
        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            issuer_name_hash=request.issuer_name_hash, issuer_key_hash=request.issuer_key_hash,
            serial_number=request.serial_number, algorithm=algorithm, cert_status=status, this_update=now,
            next_update=now + dt.timedelta(minutes=self._settings.ocsp_validity_minutes),
            revocation_time=revoked_at, revocation_reason=reason,
        ).responder_id(ocsp.OCSPResponderEncoding.HASH, issuer)
        try:
            nonce = request.extensions.get_extension_for_class(x509.OCSPNonce)
            builder = builder.add_extension(nonce.value, critical=False)
        except x509.ExtensionNotFound:
            pass
        return builder.sign(issuer_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER), None

    def root_crl(self) -> x509.CertificateRevocationList:
        """The root's CRL: the CA certificates it revoked (none — the simulator never revokes its issuing CA)."""
        self._ready()
        assert self.root is not None
        assert self._root_key is not None
        now = self._clock.now()
        return (x509.CertificateRevocationListBuilder().issuer_name(self.root.subject).last_update(now)
                .next_update(now + dt.timedelta(hours=self._settings.crl_validity_hours))
                .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._root_key.public_key()),
                               critical=False)
                .sign(self._root_key, hashes.SHA256()))

    async def crl(self) -> x509.CertificateRevocationList:
        """Every revocation НУЦ ever recorded, of expired certificates too: ExpiredCertsOnCRL names the issuing CA's
        first day, so relying parties know an expired certificate absent from it was never revoked."""
        issuer, issuer_key = self._ready()
        now = self._clock.now()
        async with self._sessions() as session:
            revoked = (await session.exec(select(IssuedCertificate).where(
                col(IssuedCertificate.revoked_at).is_not(None)))).all()
        builder = (x509.CertificateRevocationListBuilder().issuer_name(issuer.subject).last_update(now)
                   .next_update(now + dt.timedelta(hours=self._settings.crl_validity_hours))
                   .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                                  critical=False)
                   .add_extension(x509.UnrecognizedExtension(EXPIRED_CERTS_ON_CRL, _generalized_time(
                       issuer.not_valid_before_utc)), critical=False))
        for record in revoked:
            if record.defect == BadKind.UNTRUSTED.value:
                continue
            entry = (x509.RevokedCertificateBuilder().serial_number(int(record.serial, 16))
                     .revocation_date(record.revoked_at))
            if record.revocation_reason:
                entry = entry.add_extension(x509.CRLReason(x509.ReasonFlags(record.revocation_reason)), critical=False)
            builder = builder.add_revoked_certificate(entry.build())
        return builder.sign(issuer_key, hashes.SHA256())


def _generalized_time(moment: dt.datetime) -> bytes:
    return GeneralizedTime(moment.astimezone(dt.UTC).replace(microsecond=0)).dump()


def _spki(key: PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)

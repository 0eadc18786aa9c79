"""The root and the issuing CA: created on the very first start (keys encrypted with the mesh's passphrase), loaded
on every later one, so certificates issued before a restart still verify after it."""

from __future__ import annotations

import datetime as dt
import hashlib

from asn1crypto import keys as asn1_keys
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from services.nuc_pki.domain import ISSUING_NAME, ROOT_NAME, CaKey, Urls, ca_certificate, ca_subject, crl_urls
from services.nuc_pki.settings import NucSettings
from services.nuc_pki.store import CaMaterial
from shared.clock import MeshClock
from shared.db import Sessions
from shared.errors import MeshError
from shared.logging import get_logger
from shared.pki.cert_profile import serial_hex
from shared.pki.signing import certificate_pem

log = get_logger(__name__)


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _encrypt(key: CaKey, passphrase: str) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.BestAvailableEncryption(passphrase.encode()))


class CaKeys:
    """The CA's certificates and keys once loaded; until then every use of them is 503 ``CA_NOT_READY``."""

    def __init__(self, *, sessions: Sessions, clock: MeshClock, settings: NucSettings) -> None:
        self._sessions = sessions
        self._clock = clock
        self._settings = settings
        self._passphrase = settings.mesh.key_passphrase.get_secret_value()
        self.root: x509.Certificate | None = None
        self.issuing: x509.Certificate | None = None
        self._root_key: CaKey | None = None
        self._issuing_key: CaKey | None = None
        # the issuing CA's name and key hashes, by algorithm: what an OCSP request's CertID must carry
        self.issuing_hashes: dict[str, tuple[bytes, bytes]] = {}

    @property
    def urls(self) -> Urls:
        base = self._settings.base_url.rstrip("/")
        return Urls(ocsp=f"{base}/ocsp", crl=f"{base}/crl", issuer=f"{base}/ca/issuing.cer",
                    root_crl=f"{base}/ca/root.crl")

    def ready(self) -> tuple[x509.Certificate, CaKey]:
        """The issuing CA's certificate and key."""
        if self.issuing is None or self._issuing_key is None:
            raise MeshError("CA_NOT_READY", "the certification authority is still starting")
        return self.issuing, self._issuing_key

    def root_ready(self) -> tuple[x509.Certificate, CaKey]:
        """The root's certificate and key."""
        self.ready()
        assert self.root is not None
        assert self._root_key is not None
        return self.root, self._root_key

    def chain(self) -> list[x509.Certificate]:
        """The issuing CA, then the root."""
        issuing, _ = self.ready()
        root, _ = self.root_ready()
        return [issuing, root]

    async def load_or_create(self) -> None:
        """Load the root and issuing CA from the database, creating them on the very first start."""
        async with self._sessions() as session:
            rows = {r.name: r for r in (await session.exec(select(CaMaterial))).all()}
        if {"root", "issuing"} - rows.keys():
            rows = await self._create()
        root_key = serialization.load_pem_private_key(rows["root"].key_pem, self._passphrase.encode())
        issuing_key = serialization.load_pem_private_key(rows["issuing"].key_pem, self._passphrase.encode())
        assert isinstance(root_key, rsa.RSAPrivateKey)
        assert isinstance(issuing_key, rsa.RSAPrivateKey)
        root = x509.load_pem_x509_certificate(rows["root"].certificate_pem.encode())
        issuing = x509.load_pem_x509_certificate(rows["issuing"].certificate_pem.encode())
        if crl_urls(issuing) != [self.urls.root_crl]:
            issuing = await self._reissue_issuing(rows["issuing"], issuing=issuing, root=root, root_key=root_key,
                                                  issuing_key=issuing_key)
        spki = asn1_keys.PublicKeyInfo.load(issuing.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
        name_der = issuing.subject.public_bytes()
        self.issuing_hashes = {"sha1": (hashlib.sha1(name_der).digest(), spki.sha1),  # noqa: S324 - RFC 6960 CertID
                               "sha256": (hashlib.sha256(name_der).digest(), spki.sha256)}
        self.root, self.issuing, self._root_key, self._issuing_key = root, issuing, root_key, issuing_key
        log.info("ca_loaded", root_serial=serial_hex(root), issuing_serial=serial_hex(issuing))

    async def _reissue_issuing(self, row: CaMaterial, *, issuing: x509.Certificate, root: x509.Certificate,
                               root_key: CaKey, issuing_key: CaKey) -> x509.Certificate:
        """The issuing CA's certificate again — same key, name and validity — naming where the root's CRL is
        (one made before it did, or before НУЦ's address changed). Certificates it issued verify as before."""
        again = ca_certificate(subject=issuing.subject, key=issuing_key, issuer=root, issuer_key=root_key,
                               not_before=issuing.not_valid_before_utc, not_after=issuing.not_valid_after_utc,
                               path_length=0, crl_url=self.urls.root_crl)
        async with self._sessions() as session, session.begin():
            row = await session.get(CaMaterial, row.name) or row
            row.certificate_pem = certificate_pem(again)
            session.add(row)
        log.info("issuing_ca_reissued", serial=serial_hex(again), reason="names the root CRL")
        return again

    async def _create(self) -> dict[str, CaMaterial]:
        now = self._clock.earliest_now() - dt.timedelta(days=1)  # valid at real time too: a clock reset keeps it
        root_key, issuing_key = rsa_key(), rsa_key()
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

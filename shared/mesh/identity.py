"""A member system's own key and certificate: generated once, enrolled with НУЦ, kept in its database.

The private key is stored encrypted with the mesh key passphrase. A restart reuses the same key and
certificate; a certificate that no longer chains to НУЦ's current root, is near its end, or does not allow key
agreement (made before payloads were encrypted to it, ``shared.mesh.payload_crypto``) is renewed. The key it replaces
is kept (``RetiredIdentityRecord``): a sender may still have encrypted a payload to the old certificate.
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import Column, LargeBinary, Text
from sqlmodel import Field, SQLModel, select

from shared.clock import MeshClock
from shared.db import Sessions, UtcDateTime
from shared.mesh.control_clients import NucClient
from shared.mesh.payload_crypto import Keyring, can_agree_keys
from shared.pki.cert_check import CertificateVerifier
from shared.pki.cert_profile import serial_hex
from shared.pki.signing import SignerIdentity, certificate_pem, load_pem_certificates

RENEW_BEFORE = dt.timedelta(days=30)


class SystemIdentityRecord(SQLModel, table=True):
    __tablename__ = "system_identity"

    member_id: str = Field(primary_key=True, max_length=64)
    key_pem: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    certificate_pem: str = Field(sa_column=Column(Text, nullable=False))
    chain_pem: str = Field(sa_column=Column(Text, nullable=False))
    enrolled_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class RetiredIdentityRecord(SQLModel, table=True):
    """A key a member's certificate was renewed away from: kept to open payloads still encrypted to it."""

    __tablename__ = "system_identity_retired"

    serial: str = Field(primary_key=True, max_length=64)
    member_id: str = Field(index=True, max_length=64)
    key_pem: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    certificate_pem: str = Field(sa_column=Column(Text, nullable=False))
    retired_at: dt.datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


def _decode(record: SystemIdentityRecord, *, passphrase: str) -> SignerIdentity:
    key = serialization.load_pem_private_key(record.key_pem, password=passphrase.encode())
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise TypeError("system keys are EC P-256")
    return SignerIdentity(key=key, certificate=load_pem_certificates(record.certificate_pem)[0],
                          chain=tuple(load_pem_certificates(record.chain_pem)))


def _usable(identity: SignerIdentity, *, verifier: CertificateVerifier, clock: MeshClock) -> bool:
    cert = identity.certificate
    now = clock.now()
    return (verifier.chain_of(cert) is not None and cert.not_valid_before_utc <= now
            and cert.not_valid_after_utc - now > RENEW_BEFORE and can_agree_keys(cert))


async def load_keyring(*, sessions: Sessions, member_id: str, passphrase: str, current: SignerIdentity) -> Keyring:
    """The keys ``member_id`` opens payloads with: its current one and every one it was renewed away from."""
    async with sessions() as session:
        retired = (await session.exec(select(RetiredIdentityRecord).where(
            RetiredIdentityRecord.member_id == member_id))).all()
    keyring = Keyring()
    for record in retired:
        keyring.add(load_pem_certificates(record.certificate_pem)[0],
                    serialization.load_pem_private_key(record.key_pem, password=passphrase.encode()))
    keyring.add(current.certificate, current.key)
    return keyring


async def load_or_enroll(*, sessions: Sessions, member_id: str, organisation: str, bin_: str, nuc: NucClient,
                         passphrase: str, verifier: CertificateVerifier, clock: MeshClock) -> SignerIdentity:
    async with sessions() as session:
        record = await session.get(SystemIdentityRecord, member_id)
    if record is not None:
        identity = _decode(record, passphrase=passphrase)
        if _usable(identity, verifier=verifier, clock=clock):
            return identity
    # System keys are EC P-256: the НУЦ profile admits ECDSA, and the gateway signs every log record.
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, member_id)])).sign(key, hashes.SHA256()))
    cert, chain = await nuc.issue_system(member_id=member_id, organisation=organisation, bin_=bin_,
                                         csr_pem=csr.public_bytes(serialization.Encoding.PEM).decode())
    if cert.public_key() != key.public_key():
        raise ValueError("НУЦ returned a certificate for another key")
    fresh = SystemIdentityRecord(
        member_id=member_id,
        key_pem=key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.BestAvailableEncryption(passphrase.encode())),
        certificate_pem=certificate_pem(cert), chain_pem="".join(certificate_pem(c) for c in chain),
        enrolled_at=clock.now())
    async with sessions() as session, session.begin():
        if record is not None:
            old = load_pem_certificates(record.certificate_pem)[0]
            await session.merge(RetiredIdentityRecord(
                serial=serial_hex(old), member_id=member_id, key_pem=record.key_pem,
                certificate_pem=record.certificate_pem, retired_at=clock.now()))
        await session.merge(fresh)
    return SignerIdentity(key=key, certificate=cert, chain=tuple(chain))

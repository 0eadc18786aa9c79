"""The mesh's one signature format: detached CMS (PKCS#7 SignedData, DER, base64 in JSON) over RFC 8785 bytes.

Used alike for system signatures on envelopes, personal EDS signatures on forms and documents, and the
gateway's signatures on its log. It is the format NCALayer produces in Kazakhstan, and stock tools verify it:

    openssl cms -verify -binary -inform DER -in sig.p7s -content signed.json -CAfile nuc-chain.pem -purpose any

``verify_detached`` checks only the mathematics (digest and signature) and names the signer; whether that
signer's certificate is trustworthy is ``shared.cert_check``'s job.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from asn1crypto import cms
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12

from shared.canonical import canonical_bytes
from shared.envelope import signed_content
from shared.errors import MeshError

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512,
}


class SignatureError(MeshError):
    """The signature itself is wrong: malformed, over other content, or mathematically invalid."""

    status = 422


@dataclass(frozen=True)
class SignerIdentity:
    """A private key with its certificate and the chain up to (not including) the root."""

    key: SigningKey
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()

    @classmethod
    def from_pkcs12(cls, *, data: bytes, password: str | None) -> SignerIdentity:
        try:
            key, cert, extra = pkcs12.load_key_and_certificates(data, password.encode() if password else None)
        except ValueError as exc:
            raise MeshError("PKCS12_UNREADABLE", f"PKCS#12 could not be opened (wrong password or damaged): {exc}") \
                from None
        if key is None or cert is None:
            raise MeshError("PKCS12_INCOMPLETE", "PKCS#12 must hold a private key and its certificate")
        if not isinstance(key, SigningKey):
            raise MeshError("PKCS12_KEY_UNSUPPORTED", f"unsupported key type {type(key).__name__}")
        return cls(key=key, certificate=cert, chain=tuple(extra or ()))

    def to_pkcs12(self, *, password: str, friendly_name: str) -> bytes:
        return pkcs12.serialize_key_and_certificates(
            friendly_name.encode(), self.key, self.certificate, list(self.chain) or None,
            serialization.BestAvailableEncryption(password.encode()),
        )


@dataclass(frozen=True)
class VerifiedSignature:
    signer: x509.Certificate
    certificates: tuple[x509.Certificate, ...]
    signing_time: dt.datetime | None
    digest_algorithm: str


def sign_detached(*, content: bytes, signer: SignerIdentity, include_chain: bool = False) -> bytes:
    builder = (pkcs7.PKCS7SignatureBuilder().set_data(content)
               .add_signer(signer.certificate, signer.key, hashes.SHA256()))
    if include_chain:
        for cert in signer.chain:
            builder = builder.add_certificate(cert)
    return builder.sign(serialization.Encoding.DER,
                        [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary])


def sign_json(*, value: Any, signer: SignerIdentity) -> str:
    """Base64 detached CMS over the canonical form of ``value``."""
    return base64.b64encode(sign_detached(content=canonical_bytes(value), signer=signer)).decode()


def sign_wire(*, wire: dict[str, Any], signer: SignerIdentity) -> dict[str, Any]:
    """Return the envelope's wire form with its system signature set."""
    signature = base64.b64encode(sign_detached(content=signed_content(wire), signer=signer)).decode()
    return {**wire, "signature": signature}


@lru_cache(maxsize=4096)
def _load_certificate(der: bytes) -> x509.Certificate:
    return x509.load_der_x509_certificate(der)


def _decode_b64(signature_b64: str) -> bytes:
    try:
        return base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("SIGNATURE_MALFORMED", "signature is not valid base64") from None


def _signed_data(der: bytes) -> cms.SignedData:
    try:
        info = cms.ContentInfo.load(der)
        if info["content_type"].native != "signed_data":
            raise SignatureError("SIGNATURE_MALFORMED", "CMS content is not SignedData")
        signed = info["content"]
        if signed["encap_content_info"]["content"].native is not None:
            raise SignatureError("SIGNATURE_NOT_DETACHED", "signature must be detached (no encapsulated content)")
        return signed
    except SignatureError:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise SignatureError("SIGNATURE_MALFORMED", f"signature is not a DER CMS SignedData: {exc}") from None


def _find_signer(signed: cms.SignedData,
                 signer_info: cms.SignerInfo) -> tuple[x509.Certificate, list[x509.Certificate]]:
    certs = [_load_certificate(c.chosen.dump()) for c in signed["certificates"] if c.name == "certificate"]
    sid = signer_info["sid"]
    if sid.name != "issuer_and_serial_number":
        raise SignatureError("SIGNATURE_MALFORMED", "signer must be identified by issuer and serial number")
    serial = sid.chosen["serial_number"].native
    issuer_der = sid.chosen["issuer"].dump()
    for cert in certs:
        if cert.serial_number == serial and cert.issuer.public_bytes() == issuer_der:
            return cert, certs
    raise SignatureError("SIGNATURE_NO_SIGNER_CERTIFICATE", "the signer's certificate is not inside the signature")


def _signed_attribute(attrs: cms.CMSAttributes, name: str) -> Any:
    for attr in attrs:
        if attr["type"].native == name:
            return attr["values"][0]
    return None


def _check_public_key(*, cert: x509.Certificate, signature: bytes, data: bytes, algo: str, digest: str) -> None:
    key = cert.public_key()
    hash_alg = _HASHES[digest]()
    try:
        if isinstance(key, rsa.RSAPublicKey) and algo == "rsassa_pkcs1v15":
            key.verify(signature, data, padding.PKCS1v15(), hash_alg)
        elif isinstance(key, ec.EllipticCurvePublicKey) and algo == "ecdsa":
            key.verify(signature, data, ec.ECDSA(hash_alg))
        else:
            raise SignatureError("SIGNATURE_ALGORITHM_UNSUPPORTED", f"{algo} with a {type(key).__name__} key")
    except InvalidSignature:
        raise SignatureError("SIGNATURE_INVALID", "the signature value does not match the signer's key") from None


def verify_detached(*, content: bytes, signature_b64: str) -> VerifiedSignature:
    """Check a detached CMS signature over ``content``; raises SignatureError with the specific fault."""
    signed = _signed_data(_decode_b64(signature_b64))
    infos = signed["signer_infos"]
    if len(infos) != 1:
        raise SignatureError("SIGNATURE_MALFORMED", f"expected exactly one signer, found {len(infos)}")
    info = infos[0]
    digest = info["digest_algorithm"]["algorithm"].native
    if digest not in _HASHES:
        raise SignatureError("SIGNATURE_ALGORITHM_UNSUPPORTED", f"digest {digest} is not accepted")
    signer, certs = _find_signer(signed, info)
    attrs = info["signed_attrs"]
    signing_time = None
    if attrs.native is None or len(attrs) == 0:
        to_verify = content
    else:
        expected = _signed_attribute(attrs, "message_digest")
        if expected is None:
            raise SignatureError("SIGNATURE_MALFORMED", "signed attributes lack the message digest")
        if expected.native != hashlib.new(digest, content).digest():
            raise SignatureError("SIGNATURE_CONTENT_MISMATCH",
                                 "the signed content differs from the content presented (altered after signing)")
        when = _signed_attribute(attrs, "signing_time")
        signing_time = when.native if when is not None else None
        # Signed attributes are signed as a SET OF (tag 0x31), not with their implicit [0] tag.
        to_verify = b"\x31" + attrs.dump()[1:]
    algo = info["signature_algorithm"].signature_algo
    _check_public_key(cert=signer, signature=info["signature"].native, data=to_verify, algo=algo, digest=digest)
    return VerifiedSignature(signer=signer, certificates=tuple(certs), signing_time=signing_time,
                             digest_algorithm=digest)


def verify_json(*, value: Any, signature_b64: str) -> VerifiedSignature:
    return verify_detached(content=canonical_bytes(value), signature_b64=signature_b64)


def certificate_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def load_pem_certificates(pem: str | bytes) -> list[x509.Certificate]:
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise MeshError("CERTIFICATE_MALFORMED", f"not a PEM certificate: {exc}") from None

"""The mesh's one signature format: detached CMS (PKCS#7 SignedData, DER, base64 in JSON) over RFC 8785 bytes.

Used alike for system signatures on envelopes, personal EDS signatures on forms and documents, and the
gateway's signatures on its log. It is the format NCALayer produces in Kazakhstan, and stock tools verify it:

    openssl cms -verify -binary -inform DER -in sig.p7s -content signed.json -CAfile nuc-chain.pem -purpose any

``verify_detached`` checks only the mathematics (digest and signature) and names the signer; whether that
signer's certificate is trustworthy is ``shared.pki.cert_check``'s job.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from asn1crypto import core, parser
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from shared.errors import MeshError
from shared.pki.canonical import canonical_bytes, signed_content

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512,
}


class SignatureError(MeshError):
    """The signature itself is wrong: malformed, over other content, or mathematically invalid."""


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
    digest_algorithm: str
    signing_time_value: Any = None  # the raw CMS attribute; decoded only when someone asks

    @property
    def signing_time(self) -> dt.datetime | None:
        """The signer's claimed signing time (a signed attribute): the mesh's own signers write the mesh clock's
        time; a result document is judged at it, an envelope on the mesh clock now."""
        value = self.signing_time_value
        if value is None:
            return None
        kind = core.UTCTime if value.tag == 23 else core.GeneralizedTime
        try:
            moment = kind.load(value.der).native
        except (ValueError, TypeError) as exc:
            raise SignatureError("SIGNING_TIME_MALFORMED", f"the signingTime attribute is not a time: {exc}") from None
        if not isinstance(moment, dt.datetime) or moment.tzinfo is None:  # RFC 5652 §11.3: UTC, with its «Z»
            raise SignatureError("SIGNING_TIME_MALFORMED", "the signingTime attribute is not a UTC time (no «Z»): "
                                 "when it was made cannot be told")
        return moment


SIGNING_TIME_TOLERANCE = dt.timedelta(minutes=5)  # a signer's tool and the mesh clock agree within moments


def refuse_signing_time(verified: VerifiedSignature, *, now: dt.datetime, what: str) -> None:
    """A result document handed in signed (by staff in manual mode, by a ЦОН operator) is later judged at its CMS
    signingTime: one without it, or one far from the mesh clock's now (a tool signing on the machine's clock while
    the mesh clock is days ahead), would be refused by every verifier (``SIGNING_TIME_MISSING``,
    ``DOCUMENT_DATED_AFTER_SIGNING``). Refuse it while the signer can still sign again (``meshctl sign`` and the SDK
    write the mesh clock's time)."""
    try:
        signed_at = verified.signing_time
    except SignatureError as exc:
        raise MeshError(exc.code, f"{what}: {exc.message}") from None
    if signed_at is None:
        raise MeshError("SIGNING_TIME_MISSING", f"{what}: the signature carries no signingTime (a signed attribute); "
                        "sign with a tool that writes it (meshctl sign, the SDK, openssl cms -sign)")
    if abs(signed_at - now) > SIGNING_TIME_TOLERANCE:
        raise MeshError("SIGNING_TIME_SKEWED", f"{what}: the signature says it was made at {signed_at.isoformat()}, "
                        f"but the mesh clock reads {now.isoformat()}; sign again on the mesh clock (meshctl sign "
                        "uses it)", details={"signingTime": signed_at.isoformat(),
                                                        "meshTime": now.isoformat()})


# ---- writing CMS ----------------------------------------------------------------------------------------------------
# The SignedData is written here, not by cryptography's PKCS7SignatureBuilder, because that builder stamps the
# machine's real clock as the signingTime, and the mesh has its own clock (shared.clock: offsets, jumps of days):
# a result document is judged at its signingTime (signed attribute), so the signer must be able to say which
# time it means. The layout is the one the builder wrote (and `openssl cms -verify` checks): version 1, one
# SHA-256 digest algorithm, id-data without content (detached), the signer's certificate (and chain on request),
# one SignerInfo by issuer and serial with the signed attributes contentType, signingTime and messageDigest.
def _der(tag: int, body: bytes) -> bytes:
    size = len(body)
    if size < 0x80:
        return bytes((tag, size)) + body
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(octets))) + octets + body


_ID_DATA = core.ObjectIdentifier("1.2.840.113549.1.7.1").dump()
_SHA256_ALGORITHM = _der(0x30, core.ObjectIdentifier("2.16.840.1.101.3.4.2.1").dump() + b"\x05\x00")
_RSA_ALGORITHM = _der(0x30, core.ObjectIdentifier("1.2.840.113549.1.1.1").dump() + b"\x05\x00")
_ECDSA_SHA256_ALGORITHM = _der(0x30, core.ObjectIdentifier("1.2.840.10045.4.3.2").dump())
_CONTENT_TYPE_ATTRIBUTE = _der(0x30, core.ObjectIdentifier("1.2.840.113549.1.9.3").dump() + _der(0x31, _ID_DATA))


def _time_der(at: dt.datetime) -> bytes:
    """RFC 5652 §11.3: UTCTime for 1950-2049, GeneralizedTime otherwise; whole seconds, UTC."""
    if at.tzinfo is None:
        raise ValueError("a signing time must be timezone-aware")
    moment = at.astimezone(dt.UTC)
    if 1950 <= moment.year < 2050:
        return _der(0x17, moment.strftime("%y%m%d%H%M%SZ").encode())
    return _der(0x18, moment.strftime("%Y%m%d%H%M%SZ").encode())


@lru_cache(maxsize=256)
def _signer_parts(certificate: x509.Certificate, chain: tuple[x509.Certificate, ...]) -> tuple[bytes, bytes, bytes]:
    """What does not change between one signer's signatures: the certificates field ([0] IMPLICIT SET OF), the
    signer identifier (issuer and serial) and the signature algorithm."""
    certificates = b"".join(c.public_bytes(serialization.Encoding.DER) for c in (certificate, *chain))
    serial = certificate.serial_number
    serial_der = _der(0x02, serial.to_bytes(serial.bit_length() // 8 + 1, "big", signed=True))
    sid = _der(0x30, certificate.issuer.public_bytes() + serial_der)
    algorithm = _RSA_ALGORITHM if isinstance(certificate.public_key(), rsa.RSAPublicKey) else _ECDSA_SHA256_ALGORITHM
    return _der(0xA0, certificates), sid, algorithm


def sign_detached(*, content: bytes, signer: SignerIdentity, at: dt.datetime | None = None,
                  include_chain: bool = False) -> bytes:
    """A detached CMS SignedData over ``content`` whose signingTime is ``at`` — the time the signer means: the
    mesh clock for everything the mesh signs. None takes the machine's clock: a signer outside the mesh (a
    citizen's own tool, as NCALayer stamps the computer's time)."""
    certificates, sid, algorithm = _signer_parts(signer.certificate, signer.chain if include_chain else ())
    at = at if at is not None else dt.datetime.now(dt.UTC)
    attributes = sorted((
        _CONTENT_TYPE_ATTRIBUTE,
        _der(0x30, _SIGNING_TIME + _der(0x31, _time_der(at))),
        _der(0x30, _MESSAGE_DIGEST + _der(0x31, _der(0x04, hashlib.sha256(content).digest()))),
    ))  # DER orders a SET OF by the encodings
    to_sign = _der(0x31, b"".join(attributes))
    if isinstance(signer.key, rsa.RSAPrivateKey):
        value = signer.key.sign(to_sign, padding.PKCS1v15(), hashes.SHA256())
    else:
        value = signer.key.sign(to_sign, ec.ECDSA(hashes.SHA256()))
    signer_info = _der(0x30, b"\x02\x01\x01" + sid + _SHA256_ALGORITHM + b"\xa0" + to_sign[1:] + algorithm
                       + _der(0x04, value))
    signed_data = _der(0x30, b"\x02\x01\x01" + _der(0x31, _SHA256_ALGORITHM) + _der(0x30, _ID_DATA) + certificates
                       + _der(0x31, signer_info))
    return _der(0x30, _SIGNED_DATA + _der(0xA0, signed_data))


def sign_json(*, value: Any, signer: SignerIdentity, at: dt.datetime | None = None) -> str:
    """Base64 detached CMS over the canonical form of ``value``, signed at ``at`` (see ``sign_detached``)."""
    return base64.b64encode(sign_detached(content=canonical_bytes(value), signer=signer, at=at)).decode()


def sign_wire(*, wire: dict[str, Any], signer: SignerIdentity, at: dt.datetime | None = None) -> dict[str, Any]:
    """Return the envelope's wire form with its system signature set (signed at ``at``, the mesh time)."""
    signature = base64.b64encode(sign_detached(content=signed_content(wire), signer=signer, at=at)).decode()
    return {**wire, "signature": signature}


CERTIFICATES_KEPT = 1024
"""How many certificates a process keeps parsed, described and chained (each cache its own least recently used):
a member's few stay, and a citizen's lasts while their application is worked on. Each one kept costs tens of KB
(the parsed certificate with its extensions): at 4096 a mesh under load grew for its first four thousand
applications before it levelled off."""


@lru_cache(maxsize=CERTIFICATES_KEPT)
def _load_certificate(der: bytes) -> x509.Certificate:
    return x509.load_der_x509_certificate(der)


def _decode_b64(signature_b64: str) -> bytes:
    try:
        return base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("SIGNATURE_MALFORMED", "signature is not valid base64") from None


def _oid(dotted: str) -> bytes:
    return core.ObjectIdentifier(dotted).dump()


_SIGNED_DATA = _oid("1.2.840.113549.1.7.2")
_MESSAGE_DIGEST = _oid("1.2.840.113549.1.9.4")
_SIGNING_TIME = _oid("1.2.840.113549.1.9.5")
_DIGEST_OIDS = {_oid("2.16.840.1.101.3.4.2.1"): "sha256", _oid("2.16.840.1.101.3.4.2.2"): "sha384",
                _oid("2.16.840.1.101.3.4.2.3"): "sha512"}
_SIGNATURE_OIDS = {
    _oid("1.2.840.113549.1.1.1"): "rsassa_pkcs1v15",   # rsaEncryption, hash from the digest algorithm
    _oid("1.2.840.113549.1.1.11"): "rsassa_pkcs1v15",  # sha256WithRSAEncryption
    _oid("1.2.840.113549.1.1.12"): "rsassa_pkcs1v15",
    _oid("1.2.840.113549.1.1.13"): "rsassa_pkcs1v15",
    _oid("1.2.840.10045.4.3.2"): "ecdsa",               # ecdsa-with-SHA256
    _oid("1.2.840.10045.4.3.3"): "ecdsa",
    _oid("1.2.840.10045.4.3.4"): "ecdsa",
}
_UNIVERSAL, _CONTEXT = 0, 2
_INTEGER, _OCTET_STRING, _SEQUENCE, _SET = 2, 4, 16, 17


@dataclass(frozen=True, slots=True)
class _Tlv:
    cls: int
    tag: int
    header: bytes
    body: bytes

    @property
    def der(self) -> bytes:
        return self.header + self.body

    def children(self) -> list[_Tlv]:
        return _tlvs(self.body)

    def expect(self, cls: int, tag: int, what: str) -> _Tlv:
        if (self.cls, self.tag) != (cls, tag):
            raise SignatureError("SIGNATURE_MALFORMED", f"{what} is not where CMS puts it")
        return self


def _tlvs(data: bytes) -> list[_Tlv]:
    out = []
    while data:
        length = parser.peek(data)
        cls, _method, tag, header, body, _trailer = parser.parse(data[:length], strict=True)
        out.append(_Tlv(cls=cls, tag=tag, header=header, body=body))
        data = data[length:]
    return out


@dataclass(frozen=True)
class _SignerInfo:
    certificates: list[bytes]
    issuer: bytes
    serial: int
    digest: str
    signed_attrs: _Tlv | None
    algorithm: str
    signature: bytes


def _parse_cms(der: bytes) -> _SignerInfo:
    """The parts of a detached CMS SignedData with one signer that verification needs.

    CMS signatures in the mesh have one fixed shape (RFC 5652 §5), so they are read with asn1crypto's DER
    parser field by field instead of its generic lazy schema machinery, which cost more than the ECDSA check.
    """
    top = _tlvs(der)
    if len(top) != 1:
        raise SignatureError("SIGNATURE_MALFORMED", "trailing data after the CMS structure")
    content_info = top[0].expect(_UNIVERSAL, _SEQUENCE, "ContentInfo").children()
    if len(content_info) != 2 or content_info[0].der != _SIGNED_DATA:
        raise SignatureError("SIGNATURE_MALFORMED", "CMS content is not SignedData")
    signed = content_info[1].expect(_CONTEXT, 0, "SignedData").children()[0].expect(_UNIVERSAL, _SEQUENCE,
                                                                                    "SignedData").children()
    if len(signed[2].expect(_UNIVERSAL, _SEQUENCE, "EncapsulatedContentInfo").children()) != 1:
        raise SignatureError("SIGNATURE_NOT_DETACHED", "signature must be detached (no encapsulated content)")
    certificates = [c.der for f in signed[3:-1] if (f.cls, f.tag) == (_CONTEXT, 0) for c in f.children()]
    infos = signed[-1].expect(_UNIVERSAL, _SET, "SignerInfos").children()
    if len(infos) != 1:
        raise SignatureError("SIGNATURE_MALFORMED", f"expected exactly one signer, found {len(infos)}")
    fields = infos[0].expect(_UNIVERSAL, _SEQUENCE, "SignerInfo").children()
    if (fields[1].cls, fields[1].tag) != (_UNIVERSAL, _SEQUENCE):
        raise SignatureError("SIGNATURE_MALFORMED", "signer must be identified by issuer and serial number")
    issuer, serial = fields[1].children()
    digest = _DIGEST_OIDS.get(fields[2].children()[0].der)
    if digest is None:
        raise SignatureError("SIGNATURE_ALGORITHM_UNSUPPORTED", "only SHA-256/384/512 digests are accepted")
    signed_attrs = fields[3] if (fields[3].cls, fields[3].tag) == (_CONTEXT, 0) else None
    rest = fields[4:] if signed_attrs is not None else fields[3:]
    algorithm = _SIGNATURE_OIDS.get(rest[0].children()[0].der)
    if algorithm is None:
        raise SignatureError("SIGNATURE_ALGORITHM_UNSUPPORTED",
                             "only RSA PKCS#1 v1.5 and ECDSA signatures are accepted")
    return _SignerInfo(certificates=certificates, issuer=issuer.der,
                       serial=int.from_bytes(serial.expect(_UNIVERSAL, _INTEGER, "serial").body, "big", signed=True),
                       digest=digest, signed_attrs=signed_attrs, algorithm=algorithm,
                       signature=rest[1].expect(_UNIVERSAL, _OCTET_STRING, "signature").body)


def _attributes(attrs: _Tlv) -> dict[bytes, _Tlv]:
    """The first value of each signed attribute, by encoded OID."""
    out = {}
    for attribute in attrs.children():
        oid, values = attribute.children()[:2]
        out[oid.der] = values.children()[0]
    return out


def _find_signer(info: _SignerInfo) -> tuple[x509.Certificate, list[x509.Certificate]]:
    certs = [_load_certificate(der) for der in info.certificates]
    for cert in certs:
        if cert.serial_number == info.serial and cert.issuer.public_bytes() == info.issuer:
            return cert, certs
    raise SignatureError("SIGNATURE_NO_SIGNER_CERTIFICATE", "the signer's certificate is not inside the signature")


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
    try:
        info = _parse_cms(_decode_b64(signature_b64))
        signer, certs = _find_signer(info)
        signing_time = None
        if info.signed_attrs is None:  # no signed attributes: the signature is over the content itself
            to_verify = content
        else:
            found = _attributes(info.signed_attrs)
            expected = found.get(_MESSAGE_DIGEST)
            if expected is None:
                raise SignatureError("SIGNATURE_MALFORMED", "signed attributes lack the message digest")
            if expected.body != hashlib.new(info.digest, content).digest():
                raise SignatureError("SIGNATURE_CONTENT_MISMATCH",
                                     "the signed content differs from the content presented (altered after signing)")
            signing_time = found.get(_SIGNING_TIME)
            # Signed attributes are signed as a SET OF (tag 0x31), not with their implicit [0] tag.
            to_verify = b"\x31" + info.signed_attrs.header[1:] + info.signed_attrs.body
    except SignatureError:
        raise
    except (ValueError, TypeError, IndexError) as exc:
        raise SignatureError("SIGNATURE_MALFORMED", f"signature is not a DER CMS SignedData: {exc}") from None
    _check_public_key(cert=signer, signature=info.signature, data=to_verify, algo=info.algorithm, digest=info.digest)
    return VerifiedSignature(signer=signer, certificates=tuple(certs), digest_algorithm=info.digest,
                             signing_time_value=signing_time)


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

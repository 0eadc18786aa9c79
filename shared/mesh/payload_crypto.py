"""Payloads encrypted hop by hop: sender → gateway, gateway → recipient, so the broker never carries them readable.

The broker's administrator can bind a queue of its own to any exchange and read any queue (that is what an
administrator is), and TLS to the broker would not change that: it ends at the broker. So what is personal — the
payload (``data``: IINs, names, the copies of documents) and the sender's signature over it (its digest would let
anyone confirm a guessed IIN) — travels as one JWE (RFC 7516, compact serialisation) to the next hop's system
certificate: the sender encrypts to the gateway's, the gateway, after its checks, to the recipient's.

The construction is JWA's ECDH-ES in direct key agreement mode with A256GCM (RFC 7518 §4.6, §5.3): one ephemeral
P-256 key per message, one ECDH with the recipient's certificate key, Concat KDF (SHA-256) to a 256-bit content key,
AES-GCM with the protected header as additional data. System keys are EC P-256 (``shared.mesh.identity``), for which
CMS EnvelopedData would need KeyAgreeRecipientInfo (RFC 5753), which ``cryptography`` does not build; JWE's is the
same agreement, standard, one ECDH and one AES-GCM per hop, and any JOSE library reads it. ``kid`` is the serial
(hex) of the recipient's certificate, so a recipient whose key was renewed still opens what was sealed to its
previous one (``Keyring``). Built on ``cryptography``'s primitives: no JOSE library on the hot path.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash

from shared.errors import MeshError
from shared.mesh.envelope import (
    ENCRYPTED,
    SECRET_FIELDS,
    EnvelopeHeader,
    ParsedEnvelope,
    checked,
    envelope_of,
    load_wire,
    parse_encrypted,
)
from shared.pki.cert_profile import serial_hex

ALG = "ECDH-ES"
ENC = "A256GCM"
_OTHER_INFO = (len(ENC).to_bytes(4, "big") + ENC.encode()  # AlgorithmID: the "enc" value in direct mode
               + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")  # PartyUInfo, PartyVInfo: empty
               + (256).to_bytes(4, "big"))  # SuppPubInfo: the key length in bits

NOT_ENCRYPTED = "Client.NotEncrypted"
DECRYPTION_FAILED = "Client.DecryptionFailed"
KEY_UNKNOWN = "Client.EncryptionKeyUnknown"


class DecryptionError(MeshError):
    """The payload cannot be opened here: not JWE, not for a key this member has, or altered."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def can_agree_keys(certificate: x509.Certificate) -> bool:
    """An EC certificate whose key usage allows key agreement (НУЦ's system profile)."""
    if not isinstance(certificate.public_key(), ec.EllipticCurvePublicKey):
        return False
    try:
        return bool(certificate.extensions.get_extension_for_class(x509.KeyUsage).value.key_agreement)
    except x509.ExtensionNotFound:
        return False


def _content_key(private: ec.EllipticCurvePrivateKey, public: ec.EllipticCurvePublicKey) -> bytes:
    shared = private.exchange(ec.ECDH(), public)
    return ConcatKDFHash(algorithm=hashes.SHA256(), length=32, otherinfo=_OTHER_INFO).derive(shared)


def encrypt(plaintext: bytes, *, recipient: x509.Certificate) -> str:
    """JWE compact serialisation of ``plaintext`` for the holder of ``recipient``'s key."""
    public = recipient.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey) or not isinstance(public.curve, ec.SECP256R1):
        raise MeshError("ENCRYPTION_KEY_UNSUITABLE", f"certificate {serial_hex(recipient)} has no P-256 key")
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    numbers = ephemeral.public_key().public_numbers()
    header = {"alg": ALG, "enc": ENC, "kid": serial_hex(recipient),
              "epk": {"kty": "EC", "crv": "P-256", "x": _b64(numbers.x.to_bytes(32, "big")),
                      "y": _b64(numbers.y.to_bytes(32, "big"))}}
    protected = _b64(orjson.dumps(header))
    iv = os.urandom(12)
    sealed = AESGCM(_content_key(ephemeral, public)).encrypt(iv, plaintext, protected.encode())
    return ".".join((protected, "", _b64(iv), _b64(sealed[:-16]), _b64(sealed[-16:])))


def key_id(token: str) -> str | None:
    """The ``kid`` a JWE names (the serial of the certificate it was encrypted to), or None if unreadable."""
    try:
        header = orjson.loads(_unb64(token.split(".", 1)[0]))
    except (ValueError, orjson.JSONDecodeError):
        return None
    kid = header.get("kid") if isinstance(header, dict) else None
    return kid if isinstance(kid, str) else None


class Keyring:
    """The private keys a member opens payloads with, by the serial of their certificate: the current one and
    those it had before a renewal (a sender may still have encrypted to the previous certificate)."""

    def __init__(self, keys: Iterable[tuple[x509.Certificate, ec.EllipticCurvePrivateKey]] = ()) -> None:
        self._keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        for certificate, key in keys:
            self.add(certificate, key)

    def add(self, certificate: x509.Certificate, key: object) -> None:
        if isinstance(key, ec.EllipticCurvePrivateKey):
            self._keys[serial_hex(certificate)] = key

    def __contains__(self, kid: str) -> bool:
        return kid in self._keys

    def decrypt(self, token: str) -> bytes:
        parts = token.split(".") if isinstance(token, str) else []
        if len(parts) != 5 or parts[1] != "":
            raise DecryptionError(DECRYPTION_FAILED, "the payload is not a JWE in compact form with direct key "
                                  "agreement")
        try:
            header = orjson.loads(_unb64(parts[0]))
            iv, ciphertext, tag = _unb64(parts[2]), _unb64(parts[3]), _unb64(parts[4])
        except (ValueError, orjson.JSONDecodeError):
            raise DecryptionError(DECRYPTION_FAILED, "the JWE's parts are not base64url") from None
        if not isinstance(header, dict) or header.get("alg") != ALG or header.get("enc") != ENC:
            raise DecryptionError(DECRYPTION_FAILED, f"the JWE must be alg {ALG}, enc {ENC}")
        key = self._keys.get(str(header.get("kid")))
        if key is None:
            raise DecryptionError(KEY_UNKNOWN, f"encrypted to certificate {header.get('kid')!r}, which is not one "
                                  "of this member's")
        epk = header.get("epk")
        try:
            if not isinstance(epk, dict) or epk.get("kty") != "EC" or epk.get("crv") != "P-256":
                raise ValueError("epk")
            point = ec.EllipticCurvePublicNumbers(int.from_bytes(_unb64(epk["x"]), "big"),
                                                  int.from_bytes(_unb64(epk["y"]), "big"), ec.SECP256R1())
            ephemeral = point.public_key()  # refuses a point that is not on the curve
        except (ValueError, KeyError, TypeError):
            raise DecryptionError(DECRYPTION_FAILED, "the JWE's ephemeral key is not a P-256 point") from None
        if len(iv) != 12 or len(tag) != 16:
            raise DecryptionError(DECRYPTION_FAILED, "the JWE's IV or tag has the wrong length")
        try:
            return AESGCM(_content_key(key, ephemeral)).decrypt(iv, ciphertext + tag, parts[0].encode())
        except InvalidTag:
            raise DecryptionError(DECRYPTION_FAILED, "the encrypted payload was altered, or is not for this "
                                  "key") from None


# ---- envelopes on the wire --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Wire:
    """An envelope as it arrived: its header, and either the JWE of its data and signature (``encrypted``) or, for
    a broadcast the gateway makes in clear (the mesh clock), the envelope itself (``plain``)."""

    header: EnvelopeHeader
    raw: dict[str, Any]
    encrypted: str | None = None
    plain: ParsedEnvelope | None = None


def read_wire(body: bytes) -> Wire:
    """The envelope's header, checked as strictly as a whole envelope; ``Client.InvalidEnvelope`` naming the field."""
    raw = load_wire(body)
    if ENCRYPTED in raw:
        header = parse_encrypted(raw)
        return Wire(header=header, raw=raw, encrypted=header.encrypted)
    plain = envelope_of(raw)
    return Wire(header=plain.envelope, raw=plain.raw, plain=plain)


def open_wire(wire: Wire, keyring: Keyring) -> ParsedEnvelope:
    """The envelope as its sender signed it: the JWE opened with this member's key and put back in place, then
    parsed like any envelope (so every check of ``parse_envelope`` holds for what was encrypted)."""
    if wire.plain is not None:
        return wire.plain
    assert wire.encrypted is not None
    try:
        secret = orjson.loads(keyring.decrypt(wire.encrypted))
    except orjson.JSONDecodeError:
        raise DecryptionError(DECRYPTION_FAILED, "the decrypted payload is not JSON") from None
    if not isinstance(secret, dict) or set(secret) != set(SECRET_FIELDS):
        raise DecryptionError(DECRYPTION_FAILED, f"the decrypted payload must hold exactly {', '.join(SECRET_FIELDS)}")
    checked(secret, what="the decrypted payload")  # the header was held to the limit as it arrived (load_wire)
    return envelope_of({k: v for k, v in wire.raw.items() if k != ENCRYPTED} | secret)


def seal_wire(wire: dict[str, Any], *, recipient: x509.Certificate) -> dict[str, Any]:
    """A signed envelope (its wire form) for the next hop: ``data`` and ``signature`` encrypted to ``recipient``."""
    secret = orjson.dumps({name: wire[name] for name in SECRET_FIELDS})
    return {k: v for k, v in wire.items() if k not in SECRET_FIELDS} | {ENCRYPTED: encrypt(secret, recipient=recipient)}


def is_encrypted(body: bytes) -> bool:
    """Whether ``body`` is an envelope whose payload is encrypted (what a dead letter may keep whole)."""
    try:
        raw = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    return isinstance(raw, dict) and isinstance(raw.get(ENCRYPTED), str) and not any(k in raw for k in SECRET_FIELDS)

"""The gateway's seal on what it delivers, and the recipient's check of it.

A member's signature says who wrote a message; it does not say the message went through the gateway — that
it was authorised by the registry, checked against НУЦ and written to the signed message log. Anyone with
broker access could otherwise put a genuine (or replayed, or forged-but-signed) envelope straight on a
member's queue. So, as X-Road's security servers do, the gateway signs, for every delivery, the digest of
the exact bytes it delivers, the member it delivers them to, and the sequence number of the log record that
routed them; a recipient takes nothing without that seal, and records the log sequence it names.

The seal is a detached CMS signature (the same format as envelopes) made with the gateway's system key, so
a recipient checks it as it checks any signer: chain to НУЦ, a system signing certificate issued to the
gateway's member id, not revoked.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

from cryptography import x509

from shared.mesh.failures import OutageFailure, PermanentFailure
from shared.mesh.topology import GATEWAY_ID
from shared.pki.canonical import canonical_bytes
from shared.pki.cert_check import CertificateVerifier, Expectation, is_transient, refusal_code
from shared.pki.cert_profile import Holder, Usage
from shared.pki.signing import SignerIdentity, sign_detached

H_SEAL = "x-shep-seal"          # base64 CMS signature of the gateway over ``Seal.content()``
H_SEAL_SEQ = "x-shep-log-seq"   # the gateway's message-log record that routed (or refused) this delivery

NOT_SEALED = "Client.NotSealed"
SEAL_INVALID = "Client.SealInvalid"


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


@dataclass(frozen=True)
class Seal:
    log_seq: int
    recipient: str
    envelope_digest: str
    # the gateway's certificate the seal was verified with: the one a member encrypts its payloads to
    signer: x509.Certificate | None = field(default=None, compare=False)

    def content(self) -> bytes:
        return canonical_bytes({"envelopeDigest": self.envelope_digest, "logSeq": self.log_seq,
                                "recipient": self.recipient})


def seal_headers(*, body: bytes, log_seq: int, recipient: str, signer: SignerIdentity,
                 at: dt.datetime | None = None) -> dict[str, Any]:
    """Headers that seal ``body`` as delivered to ``recipient`` under log record ``log_seq`` (signed at ``at``, the
    gateway's mesh time)."""
    seal = Seal(log_seq=log_seq, recipient=recipient, envelope_digest=body_digest(body))
    signature = base64.b64encode(sign_detached(content=seal.content(), signer=signer, at=at)).decode()
    return {H_SEAL: signature, H_SEAL_SEQ: log_seq}


async def check_seal(*, body: bytes, headers: dict[str, Any], member_id: str,
                     verifier: CertificateVerifier) -> Seal:
    """The seal on a delivery to ``member_id``, verified; a missing or wrong one is a permanent refusal."""
    signature, seq = headers.get(H_SEAL), headers.get(H_SEAL_SEQ)
    if not isinstance(signature, str) or isinstance(seq, bool) or not isinstance(seq, int):
        raise PermanentFailure(NOT_SEALED, "the message carries no gateway seal: it did not come through the "
                               "gateway (its checks and its log), so it is not taken")
    seal = Seal(log_seq=seq, recipient=member_id, envelope_digest=body_digest(body))
    result, verified = await verifier.verify_signed(content=seal.content(), signature_b64=signature,
                                                    expect=Expectation(usage=Usage.SIGN, holder=Holder.SYSTEM,
                                                                       common_name=GATEWAY_ID))
    if result.ok:
        return replace(seal, signer=verified.signer if verified is not None else None)
    if is_transient(result):
        raise OutageFailure(refusal_code(result), f"cannot check the gateway's seal now: {result.message}",
                            details={"failedAt": "nuc"})
    raise PermanentFailure(SEAL_INVALID, f"the gateway seal does not match this delivery to {member_id} "
                           f"(another body, another recipient or another signer): {result.message}")

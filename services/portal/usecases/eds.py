"""Condition 2 of the regulations, as registration and login by EDS both need it: the signed challenge, and a valid,
unrevoked authentication certificate of this person — or of the organisation named."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization

from shared.employment.logins import Logins, organisation_refusal
from shared.logging import get_logger
from shared.pki.cert_check import Expectation
from shared.pki.cert_profile import CertificateInfo, Holder, Usage, describe_certificate

log = get_logger(__name__)


async def confirm_citizen(logins: Logins, *, challenge_id: str, signature: str, purpose: str,
                          iin: str | None) -> tuple[str, str]:
    """The IIN and certificate serial of an individual's authentication certificate that signed the challenge (of
    ``iin``, when one is named)."""
    info = await logins.confirm_eds(challenge_id=challenge_id, signature=signature, purpose=purpose,
                                    expect=Expectation(usage=Usage.AUTH, holder=Holder.INDIVIDUAL, iin=iin))
    assert info.iin is not None
    return info.iin, info.serial


async def confirm_organisation(logins: Logins, *, challenge_id: str, signature: str, purpose: str,
                               bin_: str) -> tuple[CertificateInfo, str]:
    """The organisation certificate the challenge was signed with (its description and PEM), if it is one of the
    BIN named."""
    certificate = await logins.confirm_eds_certificate(
        challenge_id=challenge_id, signature=signature, purpose=purpose, expect=Expectation(usage=Usage.AUTH))
    info = describe_certificate(certificate)
    refusal = organisation_refusal(info, bin_=bin_)
    if refusal is not None:
        log.info("organisation_eds_refused", reason=refusal.code, purpose=purpose)
        raise refusal
    assert info.iin is not None
    return info, certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")

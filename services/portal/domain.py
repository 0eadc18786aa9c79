"""Portal rules, free of I/O: the password policy, lock-out, what an EDS challenge says, and the codes an
EDS refusal is given."""

from __future__ import annotations

import datetime as dt
import string
from dataclasses import dataclass

from shared.cert_check import CertCheckResult, CertFailure

PASSWORD_RULES: tuple[tuple[str, str], ...] = (
    ("length", "8 to 128 characters"),
    ("lowercase", "a lowercase Latin letter"),
    ("uppercase", "an uppercase Latin letter"),
    ("digit", "a digit"),
    ("special", "a character that is not a letter or a digit"),
    ("no_iin", "not the IIN, nor containing it"),
)
_LOWER, _UPPER = set(string.ascii_lowercase), set(string.ascii_uppercase)


def password_faults(password: str, *, iin: str) -> list[str]:
    """The rules a password breaks (empty when it is acceptable)."""
    checks = {
        "length": 8 <= len(password) <= 128,
        "lowercase": any(c in _LOWER for c in password),
        "uppercase": any(c in _UPPER for c in password),
        "digit": any(c.isdigit() for c in password),
        "special": any(not c.isalnum() for c in password),
        "no_iin": iin not in password,
    }
    return [rule for rule, _ in PASSWORD_RULES if not checks[rule]]


def describe_faults(faults: list[str]) -> str:
    wanted = dict(PASSWORD_RULES)
    return "the password must have " + "; ".join(wanted[f] for f in faults)


@dataclass(frozen=True)
class LockState:
    failed: int
    locked_until: dt.datetime | None


def after_failure(*, failed: int, now: dt.datetime, limit: int, lock: dt.timedelta) -> LockState:
    failed += 1
    return LockState(failed=failed, locked_until=now + lock if failed >= limit else None)


def is_locked(locked_until: dt.datetime | None, *, now: dt.datetime) -> bool:
    return locked_until is not None and now < locked_until


def challenge_content(*, challenge_id: str, nonce: str, purpose: str, issued: dt.datetime,
                      expires: dt.datetime) -> dict[str, str]:
    """The object signed (as RFC 8785 JSON) with the authentication certificate."""
    return {"audience": "egov-mesh portal", "challengeId": challenge_id, "nonce": nonce, "purpose": purpose,
            "issuedAt": issued.isoformat(), "expiresAt": expires.isoformat()}


_EDS_CODES = {
    CertFailure.BAD_SIGNATURE: "EDS_SIGNATURE_INVALID",
    CertFailure.UNTRUSTED_CHAIN: "EDS_CERTIFICATE_UNTRUSTED",
    CertFailure.NOT_YET_VALID: "EDS_CERTIFICATE_NOT_YET_VALID",
    CertFailure.EXPIRED: "EDS_CERTIFICATE_EXPIRED",
    CertFailure.WRONG_KEY_USAGE: "EDS_WRONG_KEY_USAGE",
    CertFailure.IIN_MISMATCH: "EDS_IIN_MISMATCH",
    CertFailure.BIN_MISMATCH: "EDS_BIN_MISMATCH",
    CertFailure.HOLDER_MISMATCH: "EDS_NOT_A_PERSONAL_CERTIFICATE",
    CertFailure.ROLE_MISSING: "EDS_ROLE_MISSING",
    CertFailure.REVOKED: "EDS_CERTIFICATE_REVOKED",
    CertFailure.STATUS_UNKNOWN: "EDS_CERTIFICATE_STATUS_UNKNOWN",
    CertFailure.RESPONDER_UNREACHABLE: "EDS_OCSP_UNREACHABLE",
}


def eds_refusal(result: CertCheckResult) -> tuple[str, int]:
    """Code and HTTP status for an EDS that was not confirmed (seed process 4: refusal, with its reason)."""
    assert result.failure is not None
    code = _EDS_CODES[result.failure]
    return code, 503 if result.failure is CertFailure.RESPONDER_UNREACHABLE else 401

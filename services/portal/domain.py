"""Portal rules, free of I/O: the password policy."""

from __future__ import annotations

import string

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

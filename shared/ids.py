"""IIN (individual) and BIN (legal entity) numbers: structure, dates, check digit.

Rules: Government decree No. 406 of 22.05.2007; the check digit uses weights 1..11 mod 11 and, when that
gives 10, weights 3,4,5,6,7,8,9,10,11,1,2; a number whose second pass gives 10 again is never issued.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from shared.errors import MeshError

_FIRST_WEIGHTS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
_SECOND_WEIGHTS = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)

# digit 7 of an IIN: century of birth and sex (odd = male)
_CENTURY_SEX: dict[str, tuple[int, Literal["M", "F"]]] = {
    "1": (1800, "M"), "2": (1800, "F"),
    "3": (1900, "M"), "4": (1900, "F"),
    "5": (2000, "M"), "6": (2000, "F"),
}
_BIN_ENTITY_TYPES = {"4": "resident legal entity", "5": "non-resident legal entity",
                     "6": "joint individual entrepreneurship"}
_BIN_UNITS = {"0": "head office", "1": "branch", "2": "representative office", "3": "peasant farm"}


class IdentifierError(MeshError):
    """An IIN or a BIN that breaks the identifier rules (the code says which)."""


@dataclass(frozen=True)
class IinInfo:
    iin: str
    birth_date: dt.date
    sex: Literal["M", "F"]


@dataclass(frozen=True)
class BinInfo:
    bin: str
    registered_year: int
    registered_month: int
    entity_type: str
    unit: str


def check_digit(*, first_eleven: str) -> int | None:
    """The 12th digit for these eleven, or None when the number can never be issued."""
    digits = [int(c) for c in first_eleven]
    for weights in (_FIRST_WEIGHTS, _SECOND_WEIGHTS):
        value = sum(d * w for d, w in zip(digits, weights, strict=True)) % 11
        if value != 10:
            return value
    return None


# The faults an IIN and a BIN share: the code each is refused with, for either kind.
_IIN_CODES = {"length": "IIN_LENGTH", "digits": "IIN_NOT_DIGITS", "never": "IIN_NEVER_ISSUED",
              "check": "IIN_BAD_CHECK_DIGIT"}
_BIN_CODES = {"length": "BIN_LENGTH", "digits": "BIN_NOT_DIGITS", "never": "BIN_NEVER_ISSUED",
              "check": "BIN_BAD_CHECK_DIGIT"}


def _check_shape(*, value: str, kind: Literal["IIN", "BIN"], codes: dict[str, str]) -> None:
    if not isinstance(value, str) or len(value) != 12:
        raise IdentifierError(codes["length"], f"{kind} must be exactly 12 digits, got {len(str(value))} characters")
    if not value.isascii() or not value.isdigit():
        raise IdentifierError(codes["digits"], f"{kind} must contain digits only")


def _check_control(*, value: str, kind: Literal["IIN", "BIN"], codes: dict[str, str]) -> None:
    expected = check_digit(first_eleven=value[:11])
    if expected is None:
        raise IdentifierError(codes["never"], f"{kind} {value[:11]}… cannot be issued: both check passes give 10")
    if int(value[11]) != expected:
        raise IdentifierError(codes["check"], f"{kind} check digit is {value[11]}, expected {expected}")


def parse_iin(value: str) -> IinInfo:
    """Validate an IIN and read the birth date and sex it encodes; raises IdentifierError naming the fault."""
    _check_shape(value=value, kind="IIN", codes=_IIN_CODES)
    century_sex = _CENTURY_SEX.get(value[6])
    if century_sex is None:
        raise IdentifierError("IIN_BAD_CENTURY_DIGIT", f"IIN digit 7 must be 1-6 (century and sex), got {value[6]}")
    century, sex = century_sex
    try:
        birth = dt.date(century + int(value[0:2]), int(value[2:4]), int(value[4:6]))
    except ValueError:
        raise IdentifierError("IIN_BAD_BIRTH_DATE",
                              f"IIN digits 1-6 ({value[:6]}) are not a valid date YYMMDD") from None
    _check_control(value=value, kind="IIN", codes=_IIN_CODES)
    return IinInfo(iin=value, birth_date=birth, sex=sex)


def parse_bin(value: str) -> BinInfo:
    """Validate a BIN: registration YYMM, entity type, unit and check digit."""
    _check_shape(value=value, kind="BIN", codes=_BIN_CODES)
    month = int(value[2:4])
    if not 1 <= month <= 12:
        raise IdentifierError("BIN_BAD_MONTH", f"BIN digits 3-4 must be the registration month 01-12, got {value[2:4]}")
    entity = _BIN_ENTITY_TYPES.get(value[4])
    if entity is None:
        raise IdentifierError("BIN_BAD_ENTITY_TYPE", f"BIN digit 5 must be 4, 5 or 6 (entity type), got {value[4]}")
    unit = _BIN_UNITS.get(value[5])
    if unit is None:
        raise IdentifierError("BIN_BAD_UNIT", f"BIN digit 6 must be 0-3 (head office, branch, …), got {value[5]}")
    _check_control(value=value, kind="BIN", codes=_BIN_CODES)
    year = int(value[:2])
    return BinInfo(bin=value, registered_year=(2000 + year) if year < 90 else (1900 + year),
                   registered_month=month, entity_type=entity, unit=unit)


def make_iin(*, birth_date: dt.date, sex: Literal["M", "F"], serial: int) -> str | None:
    """The IIN for this person and 4-digit serial, or None when that serial gives an unissuable number."""
    if not 0 <= serial <= 9999:
        raise ValueError("serial must be 0..9999")
    base_century = (birth_date.year // 100) * 100
    digit = next(d for d, (c, s) in _CENTURY_SEX.items() if c == base_century and s == sex)
    first = f"{birth_date:%y%m%d}{digit}{serial:04d}"
    control = check_digit(first_eleven=first)
    return None if control is None else first + str(control)


def make_bin(*, year: int, month: int, serial: int, entity_digit: str = "4", unit_digit: str = "0") -> str | None:
    """A BIN for a legal entity registered in year/month, or None when the serial gives an unissuable number."""
    first = f"{year % 100:02d}{month:02d}{entity_digit}{unit_digit}{serial:05d}"
    control = check_digit(first_eleven=first)
    return None if control is None else first + str(control)


def folded_name(text: object) -> str:
    """A person's name as the mesh compares names (a form's against ГБД ФЛ's, a document's signer against the
    certificate): letter case, «ё»/«е» and runs of spaces do not make another name."""
    return " ".join(str(text or "").casefold().replace("ё", "е").split())

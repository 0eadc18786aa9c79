import datetime as dt

import pytest

from services.portal.domain import describe_faults, password_faults
from shared.employment.logins import eds_refusal
from shared.errors import status_of
from shared.pki.cert_check import CertCheckResult, CertFailure

IIN = "850701300007"


@pytest.mark.parametrize(("password", "faults"), [
    ("Kz-2026-secure", []),
    ("short1!", ["length", "uppercase"]),
    ("alllowercase1!", ["uppercase"]),
    ("ALLUPPERCASE1!", ["lowercase"]),
    ("NoDigitsHere!", ["digit"]),
    ("NoSpecials2026", ["special"]),
    (f"Aa!{IIN}", ["no_iin"]),
    ("Пароль-2026-Zz", []),
])
def test_password_policy_names_each_broken_rule(password, faults):
    assert password_faults(password, iin=IIN) == faults


def test_fault_description_is_readable():
    assert describe_faults(["digit", "special"]) == ("the password must have a digit; a character that is not a "
                                                     "letter or a digit")


@pytest.mark.parametrize(("failure", "code", "status"), [
    (CertFailure.EXPIRED, "EDS_CERTIFICATE_EXPIRED", 401),
    (CertFailure.WRONG_KEY_USAGE, "EDS_WRONG_KEY_USAGE", 401),
    (CertFailure.IIN_MISMATCH, "EDS_IIN_MISMATCH", 401),
    (CertFailure.RESPONDER_UNREACHABLE, "EDS_OCSP_UNREACHABLE", 503),
])
def test_every_eds_failure_has_its_code(failure, code, status):
    result = CertCheckResult(ok=False, checked_at=dt.datetime.now(dt.UTC), failure=failure)
    assert (eds_refusal(result), status_of(eds_refusal(result))) == (code, status)
    assert all(eds_refusal(CertCheckResult(ok=False, checked_at=result.checked_at, failure=f)).startswith("EDS_")
               for f in CertFailure)

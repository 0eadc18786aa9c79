"""People and logins, end to end: the kit mints a citizen (ГБД ФЛ person, НУЦ certificates, portal account),
who logs in with a password and with EDS and sees their own profile; every bad input has its own code."""

from __future__ import annotations

import base64
import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12

from meshkit.sdk import Citizen, KitError, Mesh
from shared.ids import make_iin
from shared.pki.signing import SignerIdentity, sign_json

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def kit(mesh):
    with mesh.kit() as k:
        yield k


def _post(kit: Mesh, path: str, body: dict, headers: dict | None = None) -> httpx.Response:
    return kit.http.post(f"{kit.info.portal}{path}", json=body, headers=headers)


def _code(reply: httpx.Response) -> str:
    return reply.json()["code"]


def _no_account(kit: Mesh, iin: str) -> bool:
    return kit.http.get(f"{kit.info.portal}/admin/accounts/{iin}", headers=kit._admin).status_code == 404


def _eds(kit: Mesh, *, p12: bytes, password: str, purpose: str = "login", iin: str | None = None,
         challenge: dict | None = None) -> httpx.Response:
    challenge = challenge or kit.challenge(purpose=purpose)
    signature = sign_json(value=challenge, signer=SignerIdentity.from_pkcs12(data=p12, password=password))
    body = {"challengeId": challenge["challengeId"], "signature": signature}
    if iin:
        body["iin"] = iin
    return _post(kit, "/auth/login/eds" if purpose == "login" else "/auth/register/eds", body)


def test_a_minted_citizen_logs_in_both_ways_and_sees_their_own_profile(kit):
    citizen = kit.new_citizen(district="mamlyut", min_age=25, max_age=55, employed=False)
    by_password = kit.login(citizen.iin, citizen.password)
    by_eds = kit.login_eds(citizen)
    assert (by_password.method, by_eds.method) == ("password", "eds")
    assert by_eds.me()["session"]["certificateSerial"]
    profile = by_eds.profile()
    registry = kit.http.get(f"{kit.info.gbd_fl}/admin/people/{citizen.iin}", headers=kit._admin).json()
    for field in ("iin", "surname", "name", "patronymic", "birthDate", "sex", "district", "address", "phone"):
        assert profile[field] == registry[field], field
    assert profile["district"] == "mamlyut"
    assert registry["registryFacts"]["employment"]["employed"] is False


@pytest.mark.parametrize(("iin", "code"), [
    ("85070130000", "IIN_LENGTH"),
    ("85070130000x", "IIN_NOT_DIGITS"),
    ("850701900007", "IIN_BAD_CENTURY_DIGIT"),
    ("851341300007", "IIN_BAD_BIRTH_DATE"),
    ("850701300008", "IIN_BAD_CHECK_DIGIT"),
])
def test_each_structural_iin_fault_is_named(kit, iin, code):
    reply = _post(kit, "/auth/register", {"iin": iin, "password": "Kz-2026-secure"})
    assert (reply.status_code, _code(reply)) == (422, code)


def test_registration_refusals_change_nothing(kit):
    unknown = next(i for s in range(9999, 9000, -1)
                   if (i := make_iin(birth_date=dt.date(1999, 9, 9), sex="M", serial=s))
                   and kit.http.get(f"{kit.info.gbd_fl}/admin/people/{i}", headers=kit._admin).status_code == 404)
    reply = _post(kit, "/auth/register", {"iin": unknown, "password": "Kz-2026-secure"}, headers=kit._admin)
    assert (reply.status_code, _code(reply)) == (404, "PERSON_NOT_FOUND")
    assert _no_account(kit, unknown)

    deceased = kit.new_citizen(register=False, min_age=40)
    kit.http.patch(f"{kit.info.gbd_fl}/admin/people/{deceased.iin}", headers=kit._admin,
                   json={"alive": False, "deathDate": "2026-01-15"}).raise_for_status()
    reply = _post(kit, "/auth/register", {"iin": deceased.iin, "password": "Kz-2026-secure"}, headers=kit._admin)
    assert (reply.status_code, _code(reply)) == (422, "PERSON_DECEASED")
    assert _no_account(kit, deceased.iin)

    fresh = kit.new_citizen(register=False)
    weak = _post(kit, "/auth/register", {"iin": fresh.iin, "password": "password"})
    assert (weak.status_code, _code(weak)) == (422, "PASSWORD_WEAK")
    assert set(weak.json()["details"]["rules"]) == {"uppercase", "digit", "special"}
    assert _no_account(kit, fresh.iin)

    registered = kit.new_citizen()
    again = _post(kit, "/auth/register", {"iin": registered.iin, "password": "Another-2026-pass"}, headers=kit._admin)
    assert (again.status_code, _code(again)) == (409, "ACCOUNT_EXISTS")
    assert kit.login(registered.iin, registered.password).iin == registered.iin  # the old password still works

    # Anonymous callers are told the same for every one of them: registration does not say who exists.
    quiet = [_post(kit, "/auth/register", {"iin": iin, "password": "Another-2026-pass"})
             for iin in (unknown, deceased.iin, registered.iin)]
    assert {(r.status_code, r.text) for r in quiet} == {(202, quiet[0].text)}
    assert _no_account(kit, unknown)
    assert _no_account(kit, deceased.iin)
    assert kit.login(registered.iin, registered.password).iin == registered.iin


def test_wrong_passwords_lead_to_a_lock_out_that_an_admin_can_lift(kit):
    citizen, stranger = kit.new_citizen(), kit.new_citizen(register=False)
    unknown = _post(kit, "/auth/login", {"iin": stranger.iin, "password": "Kz-2026-secure"}, headers=kit._admin)
    assert (unknown.status_code, _code(unknown)) == (404, "ACCOUNT_NOT_FOUND")
    anonymous = _post(kit, "/auth/login", {"iin": stranger.iin, "password": "Kz-2026-secure"})
    assert (anonymous.status_code, _code(anonymous)) == (401, "PASSWORD_WRONG"), "to a stranger, as a wrong password"
    lefts = []
    for _ in range(5):
        wrong = _post(kit, "/auth/login", {"iin": citizen.iin, "password": "Wrong-2026-pass"})
        assert (wrong.status_code, _code(wrong)) == (401, "PASSWORD_WRONG")
        lefts.append(wrong.json()["details"]["attemptsLeft"])
    assert lefts == [4, 3, 2, 1, 0]
    locked = _post(kit, "/auth/login", {"iin": citizen.iin, "password": citizen.password})
    assert (locked.status_code, _code(locked)) == (423, "ACCOUNT_LOCKED")
    assert locked.json()["details"]["lockedUntil"]
    kit.http.post(f"{kit.info.portal}/admin/accounts/{citizen.iin}/unlock", headers=kit._admin).raise_for_status()
    assert kit.login(citizen.iin, citizen.password).method == "password"


def _faulty(kit: Mesh, citizen: Citizen, kind: str) -> bytes:
    body = kit.http.post(f"{kit.info.nuc}/test/certificates", headers=kit._admin, json={
        "kind": kind, "holder": "individual", "iin": citizen.iin, "surname": citizen.surname, "name": citizen.name,
        "pkcs12Password": citizen.pkcs12_password}).json()
    return base64.b64decode(body["authentication"]["pkcs12Base64"])


@pytest.mark.parametrize(("kind", "code"), [
    ("expired", "EDS_CERTIFICATE_EXPIRED"),
    ("not_yet_valid", "EDS_CERTIFICATE_NOT_YET_VALID"),
    ("wrong_usage", "EDS_WRONG_KEY_USAGE"),
    ("untrusted", "EDS_CERTIFICATE_UNTRUSTED"),
])
def test_eds_login_with_a_faulty_certificate_is_refused(kit, kind, code):
    citizen = kit.new_citizen()
    reply = _eds(kit, p12=_faulty(kit, citizen, kind), password=citizen.pkcs12_password)
    assert (reply.status_code, _code(reply)) == (401, code)
    assert reply.json()["message"]


def test_eds_login_refusals_by_certificate(kit):
    alice, bob = kit.new_citizen(), kit.new_citizen()
    signing_key = _eds(kit, p12=alice.signing_p12, password=alice.pkcs12_password)
    assert _code(signing_key) == "EDS_WRONG_KEY_USAGE"
    someone_else = _eds(kit, p12=bob.auth_p12, password=bob.pkcs12_password, iin=alice.iin)
    assert _code(someone_else) == "EDS_IIN_MISMATCH"

    _, cert, _ = pkcs12.load_key_and_certificates(alice.auth_p12, alice.pkcs12_password.encode())
    assert isinstance(cert, x509.Certificate)
    kit.http.post(f"{kit.info.nuc}/certificates/{format(cert.serial_number, 'x')}/revoke", headers=kit._admin,
                  json={"reason": "keyCompromise"}).raise_for_status()
    time.sleep(1.5)  # the portal's OCSP answers are fresh for one second in this mesh
    revoked = _eds(kit, p12=alice.auth_p12, password=alice.pkcs12_password)
    assert (revoked.status_code, _code(revoked)) == (401, "EDS_CERTIFICATE_REVOKED")
    assert kit.login(alice.iin, alice.password).method == "password"  # the password still works


def test_eds_challenges_are_single_use_fresh_and_known(kit, mesh):
    citizen = kit.new_citizen()
    challenge = kit.challenge()
    assert _eds(kit, p12=citizen.auth_p12, password=citizen.pkcs12_password, challenge=challenge).status_code == 200
    replayed = _eds(kit, p12=citizen.auth_p12, password=citizen.pkcs12_password, challenge=challenge)
    assert (replayed.status_code, _code(replayed)) == (401, "CHALLENGE_REPLAYED")

    unknown = _post(kit, "/auth/login/eds", {"challengeId": "00000000-0000-0000-0000-000000000000",
                                             "signature": citizen.sign({"x": 1}, usage="auth")})
    assert _code(unknown) == "CHALLENGE_UNKNOWN"
    garbage = _post(kit, "/auth/login/eds", {"challengeId": kit.challenge()["challengeId"], "signature": "AAAA"})
    assert _code(garbage) == "EDS_SIGNATURE_INVALID"

    stale = kit.challenge()
    admin = {"Authorization": f"Bearer {mesh.admin_token}"}
    httpx.post(f"{mesh.gateway}/admin/clock", headers=admin, json={"advanceSeconds": 301}).raise_for_status()
    try:
        for _ in range(50):
            clock = kit.http.get(f"{kit.info.portal}/mesh").json()["clock"]["now"]
            if clock > stale["expiresAt"]:
                break
            time.sleep(0.1)
        expired = _eds(kit, p12=citizen.auth_p12, password=citizen.pkcs12_password, challenge=stale)
        assert (expired.status_code, _code(expired)) == (401, "CHALLENGE_EXPIRED")
    finally:
        httpx.post(f"{mesh.gateway}/admin/clock", headers=admin, json={"reset": True}).raise_for_status()


def test_registration_with_eds_takes_the_iin_from_the_certificate(kit):
    citizen = kit.new_citizen(register=False, district="almaty")
    reply = _eds(kit, p12=citizen.auth_p12, password=citizen.pkcs12_password, purpose="register")
    assert reply.status_code == 201
    assert (reply.json()["iin"], reply.json()["registeredBy"], reply.json()["passwordSet"]) == (
        citizen.iin, "eds", False)
    no_password = _post(kit, "/auth/login", {"iin": citizen.iin, "password": "Kz-2026-secure"}, headers=kit._admin)
    assert (no_password.status_code, _code(no_password)) == (401, "PASSWORD_NOT_SET")
    assert kit.login_eds(citizen).iin == citizen.iin


def test_a_citizen_sees_only_their_own_data(kit):
    alice, bob = kit.new_citizen(), kit.new_citizen()
    session = kit.login(alice.iin, alice.password)
    mine = kit.http.get(f"{kit.info.portal}/citizens/{alice.iin}/profile", headers=session.headers)
    theirs = kit.http.get(f"{kit.info.portal}/citizens/{bob.iin}/profile", headers=session.headers)
    anonymous = kit.http.get(f"{kit.info.portal}/citizens/{alice.iin}/profile")
    assert mine.status_code == 200
    assert (theirs.status_code, _code(theirs)) == (403, "NOT_YOUR_DATA")
    assert (anonymous.status_code, _code(anonymous)) == (401, "SESSION_MISSING")
    session.logout()
    after = kit.http.get(f"{kit.info.portal}/me", headers=session.headers)
    assert (after.status_code, _code(after)) == (401, "SESSION_INVALID")


def test_the_kits_citizens_never_collide_when_tests_run_in_parallel(mesh):
    def mint(_: int) -> str:
        with mesh.kit() as own:
            return own.new_citizen(district="kyzylorda").iin

    with ThreadPoolExecutor(max_workers=6) as pool:
        iins = list(pool.map(mint, range(12)))
    assert len(set(iins)) == len(iins)


def test_kit_errors_carry_the_services_code(kit):
    with pytest.raises(KitError) as caught:
        kit.new_citizen(district="atlantis")
    assert caught.value.code == "DISTRICT_UNKNOWN"

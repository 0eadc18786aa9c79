"""Seed 001 п. 9 «ИИН/БИН»: an organisation at the portal — its representative registers with the organisation's
EDS, logs in by BIN (with IIN and password, or EDS), and applies for an Akmola referral
(akmola.active-measures-referral.portal admits organisations) with a form signed by the organisation's
certificate (condition 2: the BIN and IIN of the request are the certificate's). Every refusal has its own code and
leaves nothing behind.

The kit (meshkit.sdk: ``new_representative``, ``login_organisation``, ``Representative.signed_request``…) is driven
here against the in-process mesh through a synchronous bridge onto its ASGI router, as scripts drive a real mesh."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml

from meshkit.load import Person
from meshkit.sdk import KitError, Mesh, MeshInfo, OrganisationSession, Representative, attachments_for, new_bin
from services.mio_workstation.domain import IDENTITY_NOT_CONFIRMED
from shared.employment.case_tracking import submit_once
from shared.employment.regulations import REGULATIONS_DIR, RegulationError, load_file
from shared.ids import make_iin
from shared.mesh.contracts import ApplicationRequest
from shared.pki.signing import sign_json
from tests.support.inprocess import ADMIN_TOKEN, InProcessMesh, url
from tests.usecases.helpers import bearer, final_cases

REFERRAL = "employment.active-measures-referral"
T = TypeVar("T")


class _Bridge(httpx.BaseTransport):
    """The kit's synchronous HTTP, carried onto the in-process mesh's event loop (the kit runs in a worker thread)."""

    def __init__(self, inproc: InProcessMesh, loop: asyncio.AbstractEventLoop) -> None:
        self._inproc, self._loop = inproc, loop

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def send() -> httpx.Response:
            reply = await self._inproc.router.handle_async_request(httpx.Request(
                request.method, request.url, headers=request.headers, content=request.read()))
            return httpx.Response(reply.status_code, headers=reply.headers, content=await reply.aread())
        return asyncio.run_coroutine_threadsafe(send(), self._loop).result(timeout=60)


@pytest.fixture
async def kit(inproc: InProcessMesh) -> Mesh:
    mesh = Mesh(MeshInfo(gateway=url("shep_gateway"), nuc=url("nuc_pki"), portal=url("portal"), gbd_fl=url("gbd_fl"),
                         con=url("con_operator"), mio=url("mio_workstation"), admin_token=ADMIN_TOKEN))
    mesh.http.close()
    mesh.http = httpx.Client(transport=_Bridge(inproc, asyncio.get_running_loop()), timeout=60)
    return mesh


async def _run(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """A kit call, in a worker thread: it blocks on HTTP that this loop's services answer."""
    return await asyncio.to_thread(call, *args, **kwargs)


async def _refused(call: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[int, str]:
    with pytest.raises(KitError) as refused:
        await _run(call, *args, **kwargs)
    return refused.value.status, refused.value.code


async def _count(inproc: InProcessMesh, name: str, statement: str, *params: Any) -> int:
    return int((await inproc.sql(name, statement, *params))[0][0])


def _other_bin(bin_: str) -> str:
    while (other := new_bin()) == bin_:
        pass
    return other


async def _anonymous(inproc: InProcessMesh) -> httpx.AsyncClient:
    client = inproc.client("portal")
    client.headers.pop("Authorization")
    return client


async def _challenge(portal: httpx.AsyncClient, purpose: str) -> dict[str, Any]:
    return (await portal.post("/auth/challenges", json={"purpose": purpose})).json()


async def test_an_organisation_registers_with_its_eds_and_logs_in_by_bin_with_a_password_or_eds(
        inproc: InProcessMesh, kit: Mesh):
    rep: Representative = await _run(kit.new_representative, organisation="ТОО «Бірлік»")
    accounts = (await _get(inproc, f"/admin/organisations/{rep.bin}/accounts"))["accounts"]
    assert [(a["bin"], a["iin"], a["organisation"], a["registeredBy"], a["passwordSet"]) for a in accounts] == \
        [(rep.bin, rep.iin, "ТОО «Бірлік»", "eds", True)]

    assert rep.password is not None
    by_password: OrganisationSession = await _run(kit.login_organisation, rep.bin, rep.iin, rep.password)
    by_eds: OrganisationSession = await _run(kit.login_organisation_eds, rep)
    assert (by_password.bin, by_password.iin, by_password.method) == (rep.bin, rep.iin, "password")
    assert (by_eds.bin, by_eds.iin, by_eds.method) == (rep.bin, rep.iin, "eds")
    me = await _run(by_eds.me)
    assert (me["bin"], me["iin"], me["session"]["bin"], me["session"]["iin"]) == (rep.bin, rep.iin, rep.bin, rep.iin)
    assert me["session"]["certificateSerial"]

    async with inproc.client("portal") as portal:  # an organisation's login opens no citizen's data, not even its
        profile = await portal.get(f"/citizens/{rep.iin}/profile", headers=bearer(by_eds.token))  # representative's
    assert (profile.status_code, profile.json()["code"]) == (403, "NOT_YOUR_DATA")
    assert await _refused(kit.register_organisation, rep, password=rep.password) == (409, "ACCOUNT_EXISTS")


async def test_wrong_passwords_lock_an_organisations_account_out_and_a_revoked_certificate_shuts_it(
        inproc: InProcessMesh, kit: Mesh):
    rep: Representative = await _run(kit.new_representative)
    limit = inproc.settings["portal"].max_failed_logins  # type: ignore[attr-defined]
    async with await _anonymous(inproc) as portal:
        wrong = {"bin": rep.bin, "iin": rep.iin, "password": "Wrong-password-1"}
        answers = [(await portal.post("/auth/login/organisation", json=wrong)) for _ in range(limit)]
        assert [(a.status_code, a.json()["code"]) for a in answers] == [(401, "PASSWORD_WRONG")] * limit
        assert answers[0].json()["details"]["attemptsLeft"] == limit - 1
        locked = await portal.post("/auth/login/organisation", json=wrong | {"password": rep.password})
        assert (locked.status_code, locked.json()["code"]) == (423, "ACCOUNT_LOCKED")
        # a representative the organisation never registered answers as a wrong password, not "no such account"
        stranger = await portal.post("/auth/login/organisation", json=wrong | {"bin": _other_bin(rep.bin)})
        assert (stranger.status_code, stranger.json()["code"]) == (401, "PASSWORD_WRONG")
    async with inproc.client("portal") as admin:
        (await admin.post(f"/admin/organisations/{rep.bin}/accounts/{rep.iin}/unlock")).raise_for_status()
    assert rep.password is not None
    assert (await _run(kit.login_organisation, rep.bin, rep.iin, rep.password)).method == "password"

    # the certificate that proved the BIN revoked (the representative left): the password lets them in no more
    serial = format(rep.signer(usage="auth").certificate.serial_number, "x")
    async with inproc.client("nuc_pki") as nuc:
        (await nuc.post(f"/certificates/{serial}/revoke", json={"reason": "affiliationChanged"})).raise_for_status()
    await inproc.advance_clock(seconds=120)  # past the portal's cached OCSP answer: НУЦ is asked again
    async with await _anonymous(inproc) as portal:
        revoked = await portal.post("/auth/login/organisation", json=wrong | {"password": rep.password})
    assert (revoked.status_code, revoked.json()["code"]) == (401, "EDS_CERTIFICATE_REVOKED"), revoked.text


async def test_a_personal_certificate_another_organisations_or_a_malformed_bin_is_refused_and_changes_nothing(
        inproc: InProcessMesh, kit: Mesh):
    person = await inproc.person(district="kokshetau")
    rep: Representative = await _run(kit.new_representative)
    unregistered: Representative = await _run(kit.new_representative, register=False)
    other_bin = _other_bin(rep.bin)
    sessions_before = await _count(inproc, "portal", "SELECT count(*) FROM login_session")
    async with inproc.client("portal") as portal:
        for purpose, path in (("register", "/auth/register/organisation"), ("login", "/auth/login/organisation/eds")):
            challenge = await _challenge(portal, purpose)
            personal = await portal.post(path, json={"bin": rep.bin, "challengeId": challenge["challengeId"],
                                                     "signature": sign_json(value=challenge, signer=person.auth)})
            assert (personal.status_code, personal.json()["code"]) == (401, "EDS_NOT_ORGANISATION"), personal.text
            challenge = await _challenge(portal, purpose)
            theirs = await portal.post(path, json={"bin": other_bin, "challengeId": challenge["challengeId"],
                                                   "signature": rep.sign(challenge, usage="auth")})
            assert (theirs.status_code, theirs.json()["code"]) == (401, "EDS_BIN_MISMATCH"), theirs.text
            challenge = await _challenge(portal, purpose)
            signing_key = await portal.post(path, json={"bin": rep.bin, "challengeId": challenge["challengeId"],
                                                        "signature": rep.sign(challenge)})
            assert (signing_key.status_code, signing_key.json()["code"]) == (401, "EDS_WRONG_KEY_USAGE")
            for bad, code in ((rep.bin[:11] + str((int(rep.bin[11]) + 1) % 10), "BIN_BAD_CHECK_DIGIT"),
                              (rep.bin[:11], "BIN_LENGTH"), (rep.bin[:4] + "9" + rep.bin[5:], "BIN_BAD_ENTITY_TYPE")):
                challenge = await _challenge(portal, purpose)
                malformed = await portal.post(path, json={"bin": bad, "challengeId": challenge["challengeId"],
                                                          "signature": rep.sign(challenge, usage="auth")})
                assert (malformed.status_code, malformed.json()["code"]) == (422, code), bad
        by_password = await portal.post("/auth/login/organisation", json={
            "bin": rep.bin[:11] + "x", "iin": rep.iin, "password": rep.password})
        assert (by_password.status_code, by_password.json()["code"]) == (422, "BIN_NOT_DIGITS")
        challenge = await _challenge(portal, "login")  # certificate right, account never registered
        unknown = await portal.post("/auth/login/organisation/eds", json={
            "bin": unregistered.bin, "challengeId": challenge["challengeId"],
            "signature": unregistered.sign(challenge, usage="auth")})
        assert (unknown.status_code, unknown.json()["code"]) == (404, "ACCOUNT_NOT_FOUND")
    for bin_ in (rep.bin, other_bin, unregistered.bin):
        stored = await _count(inproc, "portal", "SELECT count(*) FROM organisation_account WHERE bin = ? AND iin != ?",
                              bin_, rep.iin if bin_ == rep.bin else "")
        assert stored == 0, bin_
    assert await _count(inproc, "portal", "SELECT count(*) FROM login_session") == sessions_before


async def test_an_organisation_applies_for_an_akmola_referral_and_its_cabinet_shows_the_result(
        inproc: InProcessMesh, kit: Mesh):
    """akmola.active-measures-referral.portal in auto mode: the organisation's application for a person of
    Kokshetau runs to «Исполнено»; the organisation's history and notices have it, signed result included."""
    await inproc.set_mode("kokshetau", share=0.00001)
    person = await inproc.person(district="kokshetau")
    rep: Representative = await _run(kit.new_representative)
    assert rep.password is not None
    session: OrganisationSession = await _run(kit.login_organisation, rep.bin, rep.iin, rep.password)
    request = rep.signed_request(REFERRAL, person, referralKind="youth-practice")
    assert (request["form"]["applicantBin"], request["form"]["representativeIin"]) == (rep.bin, rep.iin)
    key = str(uuid.uuid4())
    sent = await _run(session.apply, request, district="kokshetau", idempotency_key=key)
    assert (sent["status"], sent["applicantIin"], sent["channel"]) == ("SENT", person.iin, "portal")
    again = await _run(session.apply, request, district="kokshetau", idempotency_key=key)  # the same case again
    assert again["correlationId"] == sent["correlationId"]

    final = (await final_cases(inproc, [sent["correlationId"]], timeout_s=60))[sent["correlationId"]]
    assert final["status"] == "COMPLETED", final
    history = await _run(session.applications)
    assert [(c["correlationId"], c["status"], c["district"]) for c in history] == \
        [(sent["correlationId"], "COMPLETED", "kokshetau")]
    notices = await _run(session.notifications)
    assert [n["status"] for n in notices] == ["RECEIVED", "IN_PROGRESS", "COMPLETED"]
    assert notices[-1]["document"]["content"]["applicantIin"] == person.iin
    signed_by = await inproc.sql("mio_workstation", "SELECT signed_by, form FROM application WHERE correlation_id = ?",
                                 sent["correlationId"])
    assert signed_by[0][0] == "organisation"


async def test_an_organisation_is_refused_what_its_login_form_or_eds_do_not_allow_and_nothing_is_sent(
        inproc: InProcessMesh, kit: Mesh):
    kokshetau = await inproc.person(district="kokshetau")
    zhezkazgan = await inproc.person(district="zhezkazgan")
    kyzylorda = await inproc.person(district="kyzylorda")
    rep: Representative = await _run(kit.new_representative)
    stranger: Representative = await _run(kit.new_representative)  # another organisation's representative
    assert rep.password is not None
    token = (await _run(kit.login_organisation, rep.bin, rep.iin, rep.password)).token
    citizen_token = await inproc.citizen_session(kokshetau)
    url_ = f"/organisations/{rep.bin}/applications"

    def body(request: dict[str, Any], **form: Any) -> dict[str, Any]:
        return request | {"form": request["form"] | form} if form else request

    referral = rep.signed_request(REFERRAL, kokshetau, referralKind="public-works")
    by_person = referral | {"formSignature": sign_json(value=referral["form"], signer=kokshetau.signing)}
    by_stranger = referral | {"formSignature": stranger.sign(referral["form"])}  # another organisation's EDS
    unnamed_form = {k: v for k, v in referral["form"].items() if k != "applicantBin"}
    cases_before = await _count(inproc, "portal", "SELECT count(*) FROM tracked_case")
    async with inproc.client("portal") as portal:
        async def refused(path: str, payload: dict[str, Any], auth: str) -> tuple[int, str]:
            reply = await portal.post(path, json=payload, headers=bearer(auth))
            return reply.status_code, reply.json()["code"]

        assert await refused(url_, rep.signed_request("employment.job-seeker-registration", zhezkazgan) | {
            "district": "zhezkazgan"}, token) == (403, "SERVICE_NOT_FOR_ORGANISATIONS")
        assert await refused(url_, rep.signed_request(REFERRAL, kyzylorda, referralKind="public-works") | {
            "district": "kyzylorda"}, token) == (403, "SERVICE_NOT_FOR_ORGANISATIONS")  # admits persons only there
        assert await refused(url_, by_person, token) == (401, "EDS_NOT_ORGANISATION")
        assert await refused(url_, by_stranger, token) == (401, "EDS_BIN_MISMATCH")
        assert await refused(url_, referral | {"form": unnamed_form, "formSignature": rep.sign(unnamed_form)},
                             token) == (422, "ORGANISATION_NOT_NAMED")
        assert await refused(url_, body(referral, representativeIin=stranger.iin), token) == \
            (403, "REPRESENTATIVE_MISMATCH")
        assert await refused(f"/organisations/{stranger.bin}/applications", by_stranger, token) == \
            (403, "NOT_YOUR_DATA")
        assert await refused(url_, referral, citizen_token) == (403, "ORGANISATION_LOGIN_REQUIRED")
        citizen_form = kokshetau.request(REFERRAL, referralKind="public-works", applicantBin=rep.bin)
        assert await refused(f"/citizens/{kokshetau.iin}/applications", citizen_form, citizen_token) == \
            (403, "ORGANISATION_LOGIN_REQUIRED")
        # an organisation's login is no citizen's: not even under its own BIN as the «IIN» of a citizen route
        for path in ("applications", "notifications", "notifications/unread"):
            reply = await portal.get(f"/citizens/{rep.bin}/{path}", headers=bearer(token))
            assert (reply.status_code, reply.json()["code"]) == (403, "NOT_YOUR_DATA"), (path, reply.text)
    assert await _count(inproc, "portal", "SELECT count(*) FROM tracked_case") == cases_before


async def _send_as_portal(inproc: InProcessMesh, request: ApplicationRequest, *, district: str) -> str:
    """Straight into the portal's outbox, past the portal's own checks: what ИС МИО does with what it is sent."""
    node = inproc.app("portal").state.node
    sent = await submit_once(node.sessions, runtime=node.runtime("portal"), request=request, route_id=district,
                             now=node.clock.now(), scope="test", key=None)
    return sent.case.correlation_id


@pytest.mark.parametrize("case", ["citizen-signs-for-organisation", "another-organisations-eds",
                                  "organisations-not-admitted"])
async def test_mio_accepts_an_organisations_form_only_with_that_organisations_eds_where_its_file_admits_it(
        inproc: InProcessMesh, kit: Mesh, case: str):
    """ИС МИО's own condition 2, whatever a sender checked: a form naming a BIN is accepted only signed with a
    certificate of that BIN and the representative it names, and only where the district's file admits
    organisations (its signers)."""
    district = "kyzylorda" if case == "organisations-not-admitted" else "stepnogorsk"
    person: Person = await inproc.person(district=district)
    rep: Representative = await _run(kit.new_representative, register=False)
    stranger: Representative = await _run(kit.new_representative, register=False)
    form = rep.application_form(REFERRAL, person, referralKind="public-works")
    signature, signed_by = {"citizen-signs-for-organisation": (sign_json(value=form, signer=person.signing),
                                                               "applicant"),
                            "another-organisations-eds": (stranger.sign(form), "organisation"),
                            "organisations-not-admitted": (rep.sign(form), "organisation")}[case]
    request = ApplicationRequest.model_validate({"form": form, "formSignature": signature, "signedBy": signed_by,
                                                 "attachments": attachments_for(form)})
    correlation_id = await _send_as_portal(inproc, request, district=district)
    final = (await final_cases(inproc, [correlation_id], timeout_s=30))[correlation_id]
    assert final["status"] == "NOT_ACCEPTED", final
    reason = (await inproc.sql("mio_workstation", "SELECT reason FROM application WHERE correlation_id = ?",
                               correlation_id))[0][0]
    expected = {"citizen-signs-for-organisation": "applicantBin", "another-organisations-eds": "ЭЦП на заявлении",
                "organisations-not-admitted": "organisation"}[case]
    assert expected in reason, reason


async def _get(inproc: InProcessMesh, path: str) -> dict[str, Any]:
    async with inproc.client("portal") as portal:
        reply = await portal.get(path)
    assert reply.status_code == 200, reply.text
    return reply.json()



async def test_the_catalogue_says_which_regulations_admit_organisations(inproc: InProcessMesh):
    services = {s["id"]: s for s in (await _get(inproc, "/services"))["services"]}
    files = {r["id"]: r["applicants"] for region in services[REFERRAL]["regions"] for r in region["regulations"]}
    assert files["akmola.active-measures-referral.portal"] == ["individual", "organisation"]
    assert files["kyzylorda.active-measures-referral.portal"] == ["individual"]
    assert services[REFERRAL]["form"]["properties"]["applicantBin"]["x-label-kk"]


@pytest.mark.parametrize(("applicants", "channel", "says"), [
    (["organisation"], "portal", "applicants include individual"),
    (["individual", "individual"], "portal", "applicants repeat"),
    (["individual", "company"], "portal", "field applicants.1"),
    (["individual", "organisation"], "con", "not through ЦОН"),
])
def test_a_regulation_file_naming_applicants_wrongly_does_not_load(tmp_path: Path, applicants: list[str],
                                                                    channel: str, says: str):
    name = "akmola.active-measures-referral.portal"
    data = yaml.safe_load((REGULATIONS_DIR / f"{name}.yaml").read_text()) | {"applicants": applicants}
    if channel == "con":  # a ЦОН file as the ЦОН files of the seeds have it, then organisations on it
        data = yaml.safe_load((REGULATIONS_DIR / "mamlyut.unemployed-certificate.con.yaml").read_text()) | {
            "applicants": applicants}
        name = data["id"]
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    with pytest.raises(RegulationError, match=re.escape(says)):
        load_file(path)


# ---- issue 17: what an organisation learns of the person it names, and whose name its result carries ------------
@dataclass(frozen=True)
class _Named:
    """Whoever a form names: a person ГБД ФЛ holds under another name, or nobody it holds."""

    iin: str
    surname: str
    name: str
    patronymic: str | None = None


def _unknown_iin() -> str:
    """A valid IIN ГБД ФЛ has never heard of: born in 1901 (nobody it holds, or the kit makes, is that old)."""
    return next(iin for serial in range(9980, 10000)
                if (iin := make_iin(birth_date=dt.date(1901, 3, 4), sex="F", serial=serial)) is not None)


def _masked(reply: httpx.Response) -> bytes:
    """The answer with what is the case's own — its id, the IIN it was for, the mesh times it was made at — replaced."""
    text = reply.text
    body = reply.json()
    for key in ("correlationId", "applicantIin", "submittedAt", "updatedAt"):
        if isinstance(body.get(key), str):
            text = text.replace(body[key], f"<{key}>")
    return text.encode()


async def test_an_organisations_application_answers_alike_whoever_it_names(inproc: InProcessMesh, kit: Mesh):
    """Issue 17 item 7: an organisation that has signed its form correctly still learns nothing about the person it
    names from the portal's answer — a person of a district whose portal does not take the referral (Zhezkazgan), a
    person of one where organisations may apply (Kokshetau) and an IIN ГБД ФЛ does not know are answered byte for
    byte alike (ids and times apart): the organisation names the district it applies to, and the portal looks up
    nobody's address for it."""
    await inproc.set_mode("kokshetau", share=0.00001)
    zhezkazgan, kokshetau = await asyncio.gather(inproc.person(district="zhezkazgan"),
                                                 inproc.person(district="kokshetau"))
    nobody = _Named(iin=_unknown_iin(), surname="Белгісіз", name="Адам")
    rep: Representative = await _run(kit.new_representative)
    assert rep.password is not None
    token = (await _run(kit.login_organisation, rep.bin, rep.iin, rep.password)).token
    cases_before = await _count(inproc, "portal", "SELECT count(*) FROM tracked_case")
    async with inproc.client("portal") as portal:
        async def answers(**extra: Any) -> list[httpx.Response]:
            return [await portal.post(f"/organisations/{rep.bin}/applications", headers=bearer(token),
                                      json=rep.signed_request(REFERRAL, who, referralKind="youth-practice") | extra)
                    for who in (zhezkazgan, kokshetau, nobody)]

        unnamed = await answers()
        assert [(r.status_code, r.json().get("code")) for r in unnamed] == [(422, "DISTRICT_REQUIRED")] * 3, \
            unnamed[0].text
        assert len({r.content for r in unnamed}) == 1, [r.text for r in unnamed]
        elsewhere = await answers(district="zhezkazgan")  # a district whose portal does not take the referral
        assert [(r.status_code, r.json().get("code")) for r in elsewhere] == [(422, "CHANNEL_NOT_OFFERED")] * 3
        assert len({r.content for r in elsewhere}) == 1, [r.text for r in elsewhere]
        assert await _count(inproc, "portal", "SELECT count(*) FROM tracked_case") == cases_before, "nothing sent"
        sent = await answers(district="kokshetau")
    assert [r.status_code for r in sent] == [202] * 3, [r.text for r in sent]
    assert len({_masked(r) for r in sent}) == 1, [r.text for r in sent]

    # what ИС МИО then decides is the service's answer: an IIN it does not know is refused for the same reason as a
    # name that is not the one ГБД ФЛ holds, and no result names anyone but as ГБД ФЛ does
    ids = [r.json()["correlationId"] for r in sent]
    final = await final_cases(inproc, ids, timeout_s=60)
    assert [final[i]["status"] for i in ids] == ["COMPLETED", "COMPLETED", "REFUSED"], final
    assert {final[i]["district"] for i in ids} == {"kokshetau"}, "each went where the organisation applied"
    session = OrganisationSession(mesh=kit, bin=rep.bin, iin=rep.iin, token=token, method="password", expires_at="")
    documents = {n["correlationId"]: n["document"]["content"] for n in await _run(session.notifications)
                 if n["document"]}
    assert [(documents[i]["applicant"], documents[i]["applicantIin"]) for i in ids[:2]] == [
        (" ".join(filter(None, (p.surname, p.name, p.patronymic))), p.iin) for p in (zhezkazgan, kokshetau)]
    assert "applicant" not in documents[ids[2]], documents[ids[2]]
    assert documents[ids[2]]["applicantIin"] == nobody.iin
    assert documents[ids[2]]["reason"] == IDENTITY_NOT_CONFIRMED


async def test_an_organisations_form_naming_a_person_otherwise_than_gbd_fl_is_refused_and_names_nobody(
        inproc: InProcessMesh, kit: Mesh):
    """Issue 17 item 6: the referral for a person the form calls «X Y» is refused with the reason, not signed in
    that name; the refusal names the person by the IIN the organisation gave, not by ГБД ФЛ's name either (which
    the organisation would otherwise learn). The same name in capitals is the same name: the result spells it as
    ГБД ФЛ does."""
    await inproc.set_mode("stepnogorsk", share=0.00001)
    person = await inproc.person(district="stepnogorsk")
    rep: Representative = await _run(kit.new_representative)
    session: OrganisationSession = await _run(kit.login_organisation_eds, rep)
    wrong = _Named(iin=person.iin, surname="X", name="Y")
    capitals = _Named(iin=person.iin, surname=person.surname.upper(), name=person.name.upper(),
                      patronymic=person.patronymic.upper() if person.patronymic else None)
    ids = [(await _run(session.apply, rep.signed_request(REFERRAL, who, referralKind="public-works"),
                       district="stepnogorsk"))["correlationId"] for who in (wrong, capitals)]
    final = await final_cases(inproc, ids, timeout_s=60)
    assert [final[i]["status"] for i in ids] == ["REFUSED", "COMPLETED"], final
    documents = {n["correlationId"]: n["document"]["content"] for n in await _run(session.notifications)
                 if n["document"]}
    refusal, referral = documents[ids[0]], documents[ids[1]]
    assert (refusal["result"], refusal["reason"], refusal["applicantIin"]) == (
        "refused", IDENTITY_NOT_CONFIRMED, person.iin)
    assert "applicant" not in refusal, refusal
    assert person.surname not in str(refusal)
    assert "X Y" not in str(refusal)
    assert referral["applicant"] == " ".join(filter(None, (person.surname, person.name, person.patronymic)))

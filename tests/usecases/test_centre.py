"""ИС ЦОН at work, in process: the queue, operators, intake with the ГБД ФЛ look-up, representatives, the
operator's EDS, statuses, the result formed and handed out — and every bad input with its code, changing nothing.
(The same visits on real processes and RabbitMQ: tests/e2e/test_centre.py.)"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from meshkit.load import Person
from meshkit.sdk import attachments_for, identity_document
from shared.ids import make_iin
from shared.mesh.contracts import MAX_DOCUMENT_BYTES
from shared.pki.signing import SignerIdentity, sign_json
from tests.support.inprocess import InProcessMesh
from tests.usecases.helpers import bearer, final_cases

CERTIFICATE = "employment.unemployed-certificate"
JOB_SEEKER = "employment.job-seeker-registration"
PERIOD = {"periodFrom": "2026-01-01", "periodTo": "2026-06-30"}


@dataclass
class Operator:
    """A logged-in operator, driving the desk over HTTP."""

    mesh: InProcessMesh
    account: dict[str, Any]
    token: str

    @property
    def iin(self) -> str:
        return self.account["iin"]

    @property
    def signer(self) -> SignerIdentity:
        return SignerIdentity.from_pkcs12(data=base64.b64decode(self.account["signingP12Base64"]),
                                          password=self.account["pkcs12Password"])

    async def call(self, path: str, body: Any = None, *, method: str = "POST") -> httpx.Response:
        async with self.mesh.client("con_operator") as con:
            if path.endswith("/intake") and isinstance(body, dict) and "scans" not in body:
                body = body | {"scans": [await self._identity_scan(con, str(body.get("iin")))]}
            return await con.request(method, path, json=body, headers=bearer(self.token))

    async def _identity_scan(self, con: httpx.AsyncClient, iin: str) -> dict[str, Any]:
        """The identity card presented at the desk, scanned (Standard п. 9), as the kit's intake does."""
        card = identity_document(iin=iin if len(iin) == 12 else "0" * 12)
        await con.post("/scans", content=base64.b64decode(attachments_for({"documents": [card]})[0]["contentBase64"]),
                       headers=bearer(self.token) | {"Content-Type": "application/pdf"})
        return {k: card[k] for k in ("name", "sha256", "kind", "number", "validUntil")}

    async def ok(self, path: str, body: Any = None, *, method: str = "POST") -> dict[str, Any]:
        reply = await self.call(path, body, method=method)
        assert reply.status_code < 300, reply.text
        return reply.json()

    async def sign_and_send(self, visit: dict[str, Any], *, signer: SignerIdentity | None = None,
                            signed_by: str = "operator") -> httpx.Response:
        signature = sign_json(value=visit["form"], signer=signer or self.signer)
        return await self.call(f"/visits/{visit['id']}/sign", {"signature": signature, "signedBy": signed_by})


async def operator(mesh: InProcessMesh, branch: str, index: int = 0) -> Operator:
    async with mesh.client("con_operator") as con:
        accounts = (await con.get("/admin/operators", params={"branch": branch})).json()["operators"]
        account = accounts[index]
        login = await con.post("/operators/login", json={"iin": account["iin"], "password": account["password"]})
    assert login.status_code == 200, login.text
    return Operator(mesh=mesh, account=account, token=login.json()["token"])


async def ticket(mesh: InProcessMesh, branch: str, service: str, purpose: str = "apply") -> dict[str, Any]:
    async with mesh.client("con_operator") as con:
        reply = await con.post(f"/branches/{branch}/tickets", json={"serviceId": service, "purpose": purpose},
                               headers={"Authorization": ""})
    assert reply.status_code == 201, reply.text
    return reply.json()


async def served(mesh: InProcessMesh, desk: Operator, service: str) -> dict[str, Any]:
    """A fresh ticket, called by ``desk``."""
    taken = await ticket(mesh, desk.account["branch"], service)
    return await desk.ok("/tickets/call", {"ticketId": taken["id"]})


async def served_fresh(mesh: InProcessMesh, desk: Operator, service: str) -> dict[str, Any]:
    """A fresh ticket called by ``desk`` — which an earlier test of the session may have left serving one: closed
    first (``OPERATOR_BUSY`` names it)."""
    taken = await ticket(mesh, desk.account["branch"], service)
    reply = await desk.call("/tickets/call", {"ticketId": taken["id"]})
    if reply.status_code == 409 and reply.json()["code"] == "OPERATOR_BUSY":
        await desk.ok(f"/tickets/{reply.json()['details']['ticketId']}/close")
        reply = await desk.call("/tickets/call", {"ticketId": taken["id"]})
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


async def settled(mesh: InProcessMesh, visit_id: str, *, timeout_s: float = 30.0) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout_s
    async with mesh.client("con_operator") as con:
        while True:
            visit = (await con.get(f"/visits/{visit_id}")).json()
            if visit["status"] in ("COMPLETED", "REFUSED", "NOT_ACCEPTED", "FAILED"):
                return visit
            assert asyncio.get_running_loop().time() < deadline, visit
            await asyncio.sleep(0.1)


async def open_card(mesh: InProcessMesh, district: str, iin: str, kind: str) -> None:
    async with mesh.client("mio_workstation") as mio:
        (await mio.post(f"/admin/districts/{district}/register/cards", json={"iin": iin, "kind": kind})
         ).raise_for_status()


def _poa(principal: str, attorney: str, *, services: list[str], until: str = "2099-12-31",
         issued: str = "2026-01-10", number: str = "ДОВ-0001") -> dict[str, Any]:
    return {"number": number, "issuedOn": issued, "validUntil": until, "principalIin": principal,
            "attorneyIin": attorney, "services": services}


def _code(reply: httpx.Response) -> tuple[int, str]:
    return reply.status_code, reply.json().get("code")


# ---- whole visits ----------------------------------------------------------------------------------------------
async def test_a_certificate_through_a_visit_signed_by_the_operator_handed_out_in_person(inproc: InProcessMesh):
    await inproc.set_mode("mamlyut", share=0.00001)
    person = await inproc.person(district="mamlyut")
    await open_card(inproc, "mamlyut", person.iin, "unemployed")
    desk = await operator(inproc, "mamlyut")
    serving = await served(inproc, desk, CERTIFICATE)
    visit = await desk.ok(f"/tickets/{serving['id']}/intake", {"iin": person.iin, **PERIOD})
    assert (visit["form"]["surname"], visit["form"]["operatorIin"], visit["state"]) == (
        person.surname, desk.iin, "FILLED"), "filled from ГБД ФЛ's answer"
    sent = await desk.sign_and_send(visit)
    assert sent.status_code == 200, sent.text
    done = await settled(inproc, visit["id"])
    assert done["status"] == "COMPLETED", done
    assert [s["status"] for s in done["statuses"]] == ["RECEIVED", "IN_PROGRESS", "COMPLETED"]
    assert done["statuses"][0]["statusText"] == "Поступившие из ЦОН"
    assert done["document"]["content"]["result"] == "approved"

    early = await desk.call(f"/visits/{visit['id']}/hand-out", {"delivery": "in_person", "ticketId": serving["id"],
                                                                 "presentedIin": "1" * 12})
    assert _code(early) == (403, "IDENTITY_MISMATCH")
    handed = await desk.ok(f"/visits/{visit['id']}/hand-out", {"delivery": "in_person", "ticketId": serving["id"],
                                                                "presentedIin": person.iin})
    assert (handed["state"], handed["statusText"], handed["delivery"]) == ("HANDED_OUT", "Выдано", "in_person")
    again = await desk.call(f"/visits/{visit['id']}/hand-out", {"delivery": "email", "email": "a@example.kz"})
    assert _code(again) == (409, "RESULT_ALREADY_HANDED_OUT")
    closed = await desk.ok(f"/tickets/{serving['id']}/close")
    assert (closed["status"], closed["serviceMinutes"] is not None) == ("CLOSED", True)
    steps = {s["step"]: s for s in handed["timeline"]}
    assert set(steps) == {"reception", "request-form", "completion-shown", "hand-out"}
    assert all(s["finishedAt"] and s["overdue"] is False for s in steps.values()), steps


async def test_a_job_seeker_registration_is_entered_at_the_centre_and_its_notice_formed_and_mailed(
        inproc: InProcessMesh):
    person = await inproc.person(district="almaty")
    desk = await operator(inproc, "almaty-almaly")
    serving = await served(inproc, desk, JOB_SEEKER)
    visit = await desk.ok(f"/tickets/{serving['id']}/intake", {"iin": person.iin, "email": "citizen@example.kz"})
    sent = await desk.sign_and_send(visit, signer=person.signing, signed_by="applicant")  # 004: citizen's EDS too
    assert sent.status_code == 200, sent.text
    done = await settled(inproc, visit["id"])
    assert done["status"] == "COMPLETED", done
    not_formed = await desk.call(f"/visits/{visit['id']}/hand-out", {"delivery": "email"})
    assert _code(not_formed) == (409, "RESULT_NOT_FORMED")
    early = await desk.call(f"/visits/{visit['id']}/result", {"signature": "MIIB"})
    assert _code(early) == (409, "RESULT_NOT_DRAFTED"), "nothing is drafted by a signature"
    draft = (await desk.ok(f"/visits/{visit['id']}/result/draft"))["content"]
    assert draft["title"] == "уведомление о регистрации в качестве лица, ищущего работу"
    colleague = await operator(inproc, "almaty-almaly", 1)  # signs the draft that names the desk: refused, unchanged
    theirs = await colleague.call(f"/visits/{visit['id']}/result", {"signature": sign_json(value=draft,
                                                                                          signer=colleague.signer)})
    assert _code(theirs) == (409, "RESULT_DRAFTED_FOR_ANOTHER")
    assert (await desk.ok(f"/visits/{visit['id']}/result/draft"))["content"] == draft
    assert (draft["applicant"], draft["applicantIin"]) == (  # as ИС МИО's record has it: ГБД ФЛ's at the decision
        " ".join(filter(None, (person.surname, person.name, person.patronymic))), person.iin)
    ahead = inproc.clock_of("con_operator").now() + dt.timedelta(hours=1)  # signed on another clock: refused now
    skewed = await desk.call(f"/visits/{visit['id']}/result", {"signature": sign_json(value=draft, signer=desk.signer,
                                                                                       at=ahead)})
    assert _code(skewed) == (422, "SIGNING_TIME_SKEWED")
    formed = await desk.ok(f"/visits/{visit['id']}/result", {"signature": sign_json(value=draft,
                                                                                      signer=desk.signer)})
    assert formed["result"]["signerIin"] == desk.iin
    twice = await desk.call(f"/visits/{visit['id']}/result", {"signature": sign_json(value=draft, signer=desk.signer)})
    assert _code(twice) == (409, "RESULT_ALREADY_FORMED")
    elsewhere = await desk.call(f"/visits/{visit['id']}/hand-out", {"delivery": "email", "email": "other@example.kz"})
    assert _code(elsewhere) == (422, "IDENTITY_REQUIRED"), "another address only from the citizen at the desk"
    mixed = await desk.call(f"/visits/{visit['id']}/hand-out", {"delivery": "in_person", "email": "a@example.kz"})
    assert _code(mixed) == (422, "REQUEST_INVALID")
    handed = await desk.ok(f"/visits/{visit['id']}/hand-out", {"delivery": "email"})
    assert handed["deliveredTo"] == "citizen@example.kz"
    mail = await _mail(inproc, done["applicationNumber"])
    assert [(m["kind"], m["to"], m["sender"]) for m in mail] == [("email", "citizen@example.kz", "con")]
    assert all(s["overdue"] is False for s in handed["timeline"]), handed["timeline"]
    await desk.ok(f"/tickets/{serving['id']}/close")


async def _mail(mesh: InProcessMesh, number: str) -> list[dict[str, Any]]:
    for _ in range(100):
        async with mesh.client("portal") as portal:
            found = (await portal.get("/admin/mail", params={"applicationNumber": number})).json()
        if found["mail"]:
            return found["mail"]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no mail for {number}")


async def test_a_representative_with_a_valid_power_of_attorney_applies_for_the_citizen(inproc: InProcessMesh):
    await inproc.set_mode("mamlyut", share=0.00001)
    person, agent = await inproc.person(district="mamlyut"), await inproc.person(district="mamlyut")
    await open_card(inproc, "mamlyut", person.iin, "unemployed")
    desk = await operator(inproc, "mamlyut", 1)
    serving = await served(inproc, desk, CERTIFICATE)
    intake = {"iin": person.iin, **PERIOD}
    refusals = {
        "POWER_OF_ATTORNEY_EXPIRED": _poa(person.iin, agent.iin, services=[CERTIFICATE], until="2020-01-01",
                                          issued="2019-01-01"),
        "POWER_OF_ATTORNEY_FOREIGN": _poa(agent.iin, agent.iin, services=[CERTIFICATE]),
        "POWER_OF_ATTORNEY_NOT_THIS_REPRESENTATIVE": _poa(person.iin, person.iin[:-1] + "0", services=[CERTIFICATE]),
        "POWER_OF_ATTORNEY_SCOPE": _poa(person.iin, agent.iin, services=[JOB_SEEKER]),
        "REQUEST_INVALID": _poa(person.iin, agent.iin, services=[CERTIFICATE], issued="2026-02-30"),
    }
    for code, poa in refusals.items():
        reply = await desk.call(f"/tickets/{serving['id']}/intake", intake | {
            "representative": {"iin": agent.iin, "name": agent.surname, "powerOfAttorney": poa}})
        assert _code(reply) == (422, code), reply.text
    visit = await desk.ok(f"/tickets/{serving['id']}/intake", intake | {
        "representative": {"iin": agent.iin, "name": agent.surname,
                           "powerOfAttorney": _poa(person.iin, agent.iin, services=[CERTIFICATE])}})
    assert (visit["form"]["representativeIin"], visit["form"]["powerOfAttorney"]["principalIin"]) == (
        agent.iin, person.iin), "the form records who acted for whom"
    assert (await desk.sign_and_send(visit)).status_code == 200
    done = await settled(inproc, visit["id"])
    assert done["status"] == "COMPLETED", done
    handed = await desk.ok(f"/visits/{visit['id']}/hand-out", {"delivery": "in_person", "ticketId": serving["id"],
                                                                "presentedIin": agent.iin})
    assert handed["state"] == "HANDED_OUT"
    await desk.ok(f"/tickets/{serving['id']}/close")


# ---- ГБД ФЛ --------------------------------------------------------------------------------------------------
async def test_gbd_fl_no_data_stops_the_intake_and_gbd_fl_down_can_be_retried(inproc: InProcessMesh):
    desk = await operator(inproc, "almaty-almaly", 1)
    serving = await served(inproc, desk, JOB_SEEKER)
    unknown = next(i for i in (make_iin(birth_date=dt.date(1999, 1, d), sex="M", serial=9949) for d in range(1, 28))
                   if i)  # a valid IIN no one in ГБД ФЛ has (serials 9900-9949 are operators', who are not there)
    reply = await desk.call(f"/tickets/{serving['id']}/intake", {"iin": unknown})
    assert _code(reply) == (422, "GBD_FL_NO_DATA"), reply.text
    assert "отсутствуют в ГБД ФЛ" in reply.json()["message"]
    person = await inproc.person(district="almaty")
    async with inproc.outage("gbd_fl"):
        down = await desk.call(f"/tickets/{serving['id']}/intake", {"iin": person.iin})
    assert _code(down) == (503, "REGISTRY_UNAVAILABLE"), down.text
    assert "repeat the intake" in down.json()["message"]
    visits = await desk.ok("/visits", method="GET")
    assert not [v for v in visits["visits"] if v["ticketId"] == serving["id"]], "nothing kept"
    visit = await desk.ok(f"/tickets/{serving['id']}/intake", {"iin": person.iin})
    assert visit["form"]["applicantIin"] == person.iin
    await desk.ok(f"/tickets/{serving['id']}/close")


# ---- bad input -------------------------------------------------------------------------------------------------
async def test_operator_logins_refuse_with_reasons_and_lock_out(inproc: InProcessMesh):
    async with inproc.client("con_operator") as con:
        account = (await con.get("/admin/operators", params={"branch": "kyzylorda"})).json()["operators"][0]
        replies = [await con.post("/operators/login", json={"iin": account["iin"], "password": "wrong-Password1!"})
                   for _ in range(6)]
        assert [r.json()["code"] for r in replies[:4]] == ["PASSWORD_WRONG"] * 4
        assert replies[-1].json()["code"] == "ACCOUNT_LOCKED"
        malformed = await con.post("/operators/login", json={"iin": "123", "password": "x"})
        assert malformed.status_code == 422
        await con.post(f"/admin/operators/{account['iin']}/unlock")
        challenge = (await con.post("/operators/login/eds/challenge")).json()
        person = await inproc.person(district="kyzylorda")
        citizen = await con.post("/operators/login/eds", json={
            "challengeId": challenge["challengeId"], "signature": sign_json(value=challenge,
                                                                            signer=person.auth)})
        assert (citizen.status_code, citizen.json()["code"]) == (401, "EDS_WRONG_HOLDER"), citizen.text
        challenge = (await con.post("/operators/login/eds/challenge")).json()
        auth = SignerIdentity.from_pkcs12(data=base64.b64decode(account["authP12Base64"]),
                                          password=account["pkcs12Password"])
        eds = await con.post("/operators/login/eds", json={
            "challengeId": challenge["challengeId"], "signature": sign_json(value=challenge, signer=auth)})
        assert (eds.status_code, eds.json()["method"]) == (200, "eds"), eds.text


async def test_the_queue_refuses_what_it_must(inproc: InProcessMesh):
    async with inproc.client("con_operator") as con:
        nowhere = await con.post("/branches/zhezkazgan/tickets", json={"serviceId": CERTIFICATE})
        assert _code(nowhere) == (422, "SERVICE_NOT_OFFERED_AT_CON")
        assert _code(await con.post("/branches/atlantis/tickets", json={"serviceId": CERTIFICATE})) == (
            404, "BRANCH_NOT_FOUND")
    mamlyut, almaty = await operator(inproc, "mamlyut"), await operator(inproc, "almaty-almaly")
    theirs = await ticket(inproc, "almaty-almaly", JOB_SEEKER)
    assert _code(await mamlyut.call("/tickets/call", {"ticketId": theirs["id"]})) == (403, "NOT_YOUR_BRANCH")
    serving = await almaty.ok("/tickets/call", {"ticketId": theirs["id"]})
    assert _code(await almaty.call("/tickets/call", {"ticketId": theirs["id"]})) == (409, "OPERATOR_BUSY")
    other = await operator(inproc, "almaty-almaly", 1)
    assert _code(await other.call("/tickets/call", {"ticketId": theirs["id"]})) == (409, "TICKET_ALREADY_CALLED")
    assert _code(await mamlyut.call(f"/tickets/{serving['id']}/intake", {"iin": "1" * 12})) == (
        403, "NOT_YOUR_BRANCH")
    bad_iin = await almaty.call(f"/tickets/{serving['id']}/intake", {"iin": "123456789012"})
    assert (bad_iin.status_code, bad_iin.json()["code"][:4]) == (422, "IIN_"), bad_iin.text
    other_service = await almaty.call(f"/tickets/{serving['id']}/intake", {"iin": "1" * 12,
                                                                          "serviceId": CERTIFICATE})
    assert _code(other_service) == (422, "SERVICE_NOT_OFFERED_AT_CON")
    waiting = await almaty.ok("/branches/almaty-almaly/tickets?status=WAITING", method="GET")
    assert all(t["waitMinutes"] >= 0 for t in waiting["tickets"])
    await almaty.ok(f"/tickets/{serving['id']}/close")
    assert _code(await almaty.call(f"/tickets/{serving['id']}/close")) == (409, "TICKET_CLOSED")


async def test_the_form_is_refused_unless_signed_by_the_logged_in_operators_valid_signing_key(inproc: InProcessMesh):
    person = await inproc.person(district="mamlyut")
    desk, colleague = await operator(inproc, "mamlyut"), await operator(inproc, "mamlyut", 1)
    serving = await served(inproc, desk, CERTIFICATE)
    visit = await desk.ok(f"/tickets/{serving['id']}/intake", {"iin": person.iin, **PERIOD})
    auth = SignerIdentity.from_pkcs12(data=base64.b64decode(desk.account["authP12Base64"]),
                                      password=desk.account["pkcs12Password"])
    expired = await _faulty_operator_signer(inproc, desk, "expired")
    cases = [
        ("another operator's", colleague.signer, "operator", "EDS_IIN_MISMATCH"),
        ("the citizen's (not allowed here)", person.signing, "applicant", "SIGNER_NOT_ALLOWED"),
        ("the operator's authentication key", auth, "operator", "EDS_WRONG_KEY_USAGE"),
        ("a citizen's authentication key", person.auth, "operator", "EDS_WRONG_KEY_USAGE"),
        ("a citizen's signing key as the operator's", person.signing, "operator", "EDS_WRONG_HOLDER"),
        ("an expired certificate", expired, "operator", "EDS_CERTIFICATE_EXPIRED"),
    ]
    for what, signer, signed_by, code in cases:
        reply = await desk.sign_and_send(visit, signer=signer, signed_by=signed_by)
        assert _code(reply) == (401 if code.startswith("EDS_") else 422, code), (what, reply.text)
    async with inproc.client("con_operator") as con:
        minted = (await con.post("/admin/operators", json={"branch": "mamlyut"})).json()
        token = (await con.post("/operators/login", json={"iin": minted["iin"], "password": minted["password"]})
                 ).json()["token"]
    revoked = Operator(mesh=inproc, account=minted, token=token)
    serial = format(revoked.signer.certificate.serial_number, "x")
    visit_b = await _fresh_visit(inproc, revoked, person)
    async with inproc.client("nuc_pki") as nuc:
        (await nuc.post(f"/certificates/{serial}/revoke", json={"reason": "keyCompromise"})).raise_for_status()
    assert _code(await revoked.sign_and_send(visit_b)) == (401, "EDS_CERTIFICATE_REVOKED")
    async with inproc.client("con_operator") as con:
        assert (await con.get(f"/visits/{visit['id']}")).json()["state"] == "FILLED", "nothing sent"
    assert (await desk.sign_and_send(visit)).status_code == 200
    assert _code(await desk.sign_and_send(visit)) == (409, "VISIT_ALREADY_SENT")
    early = await desk.call(f"/visits/{visit['id']}/hand-out", {"delivery": "email", "email": "x@example.kz"})
    assert _code(early) == (409, "RESULT_NOT_READY"), early.text
    await desk.ok(f"/tickets/{serving['id']}/close")


async def _fresh_visit(mesh: InProcessMesh, desk: Operator, person: Person) -> dict[str, Any]:
    serving = await served(mesh, desk, CERTIFICATE)
    return await desk.ok(f"/tickets/{serving['id']}/intake", {"iin": person.iin, **PERIOD})


async def _faulty_operator_signer(mesh: InProcessMesh, desk: Operator, kind: str) -> SignerIdentity:
    async with mesh.client("shep_gateway") as gateway:
        con = next(m for m in (await gateway.get("/members")).json()["members"] if m["id"] == "con")
    async with mesh.client("nuc_pki") as nuc:
        body = (await nuc.post("/test/certificates", json={
            "kind": kind, "holder": "employee", "iin": desk.iin, "surname": desk.account["surname"],
            "name": desk.account["name"], "organisation": con["organisation"], "bin": con["bin"], "role": "operator",
            "pkcs12Password": "secret-123"})).json()
    return SignerIdentity.from_pkcs12(data=base64.b64decode(body["signing"]["pkcs12Base64"]), password="secret-123")


@pytest.mark.parametrize("size", [0, MAX_DOCUMENT_BYTES + 1])
async def test_scans_are_kept_once_by_digest_within_their_limits(inproc: InProcessMesh, size: int):
    desk = await operator(inproc, "kokshetau")
    async with inproc.client("con_operator") as con:
        headers = bearer(desk.token)
        pdf = b"%PDF-1.4 scan " + dt.datetime.now().isoformat().encode()
        first = await con.post("/scans", content=pdf, headers=headers | {"Content-Type": "application/pdf"})
        second = await con.post("/scans", content=pdf, headers=headers | {"Content-Type": "application/pdf"})
        assert (first.status_code, second.status_code, first.json()) == (201, 201, second.json())
        wrong = await con.post("/scans", content=b"MZ\x90",
                               headers=headers | {"Content-Type": "application/x-dos"})
        assert _code(wrong) == (415, "SCAN_TYPE_NOT_ALLOWED")
        odd = await con.post("/scans", content=b"x" * size, headers=headers | {"Content-Type": "image/png"})
        assert _code(odd) == ((422, "SCAN_EMPTY") if size == 0 else (413, "SCAN_TOO_LARGE"))


async def test_another_branchs_scans_are_not_found(inproc: InProcessMesh):
    kokshetau, mamlyut = await operator(inproc, "kokshetau"), await operator(inproc, "mamlyut")
    async with inproc.client("con_operator") as con:
        uploaded = (await con.post("/scans", content=b"%PDF-1.4 kokshetau only",
                                   headers=bearer(kokshetau.token) | {"Content-Type": "application/pdf"})).json()
    assert (await kokshetau.call(f"/scans/{uploaded['sha256']}", method="GET")).status_code == 200
    assert _code(await mamlyut.call(f"/scans/{uploaded['sha256']}", method="GET")) == (404, "SCAN_NOT_FOUND")
    person = await inproc.person(district="mamlyut")
    serving = await served(inproc, mamlyut, CERTIFICATE)
    attached = await mamlyut.call(f"/tickets/{serving['id']}/intake", {
        "iin": person.iin, **PERIOD, "scans": [{"name": "passport", "sha256": uploaded["sha256"]}]})
    assert _code(attached) == (404, "SCAN_NOT_FOUND")
    await mamlyut.ok(f"/tickets/{serving['id']}/close")


async def test_two_operators_calling_the_next_ticket_at_once_get_one_each(inproc: InProcessMesh):
    first = await operator(inproc, "almaty-almaly")
    async with inproc.client("con_operator") as con:
        minted = (await con.post("/admin/operators", json={"branch": "almaty-almaly"})).json()
        token = (await con.post("/operators/login", json={"iin": minted["iin"], "password": minted["password"]})
                 ).json()["token"]
    second = Operator(mesh=inproc, account=minted, token=token)
    taken = {(await ticket(inproc, "almaty-almaly", JOB_SEEKER))["id"] for _ in range(2)}
    replies = await asyncio.gather(first.call("/tickets/call"), second.call("/tickets/call"))
    assert [r.status_code for r in replies] == [200, 200], [r.text for r in replies]
    called = {r.json()["id"] for r in replies}
    assert called == taken, "one each, none twice"
    for desk, reply in zip((first, second), replies, strict=True):
        await desk.ok(f"/tickets/{reply.json()['id']}/close")


async def test_mio_refuses_an_operator_signed_form_whose_signer_is_not_that_state_corporation_operator(
        inproc: InProcessMesh):
    """Before: ИС МИО took any employee certificate as «the operator's» (a Zhezkazgan МИО clerk's key: COMPLETED)."""
    await inproc.set_mode("mamlyut", share=0.00001)
    person = await inproc.person(district="mamlyut")
    await open_card(inproc, "mamlyut", person.iin, "unemployed")
    async with inproc.client("mio_workstation") as mio:
        clerk = next(s for s in (await mio.get("/admin/staff")).json()["staff"] if s["district"] == "zhezkazgan")
    signer = SignerIdentity.from_pkcs12(data=base64.b64decode(clerk["signingP12Base64"]),
                                        password=clerk["pkcs12Password"])
    request = person.request(CERTIFICATE, **PERIOD)
    form = request["form"] | {"operatorIin": clerk["iin"]}
    async with inproc.client("con_operator") as con:
        sent = (await con.post("/admin/applications", json={
            "form": form, "formSignature": sign_json(value=form, signer=signer), "signedBy": "operator",
            "district": "mamlyut", "attachments": request["attachments"]})).json()
    final = await final_cases(inproc, [sent["correlationId"]], service="con_operator")
    assert final[sent["correlationId"]]["status"] == "NOT_ACCEPTED"
    async with inproc.client("mio_workstation") as mio:
        number = final[sent["correlationId"]]["applicationNumber"]
        reason = (await mio.get(f"/applications/{number}")).json()["reason"]
    assert "the BIN in the certificate is not the expected one" in reason, reason

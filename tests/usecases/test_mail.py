"""The mesh's SMS and e-mail outbox: the member ``mail``, hosted by the portal, reached only through the gateway.

ИС МИО hands an office application's result out by e-mail (seed: «выдача сотрудником МИО нарочно или посредством
отправки на электронную почту потребителя результата»): the signed document goes with the issue, once, and the
outbox names the sender the gateway proved.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import Any

import httpx
from cryptography.x509.oid import NameOID

from shared.mesh.envelope import MessageType
from shared.pki.signing import SignerIdentity, sign_json, verify_json
from tests.support.inprocess import InProcessMesh
from tests.usecases.helpers import apply, bearer

JOB_SEEKER = "employment.job-seeker-registration"
CERTIFICATE = "employment.unemployed-certificate"


async def _mail(mesh: InProcessMesh, **params: str) -> list[dict[str, Any]]:
    async with mesh.client("portal") as portal:
        reply = await portal.get("/admin/mail", params=params)
    assert reply.status_code == 200, reply.text
    return reply.json()["mail"]


async def _mail_once(mesh: InProcessMesh, *, timeout_s: float = 20.0, **params: str) -> list[dict[str, Any]]:
    """The outbox's messages matching ``params`` once one has come, and after a while for any second copy."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await _mail(mesh, **params):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"no mail for {params}")
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.3)
    return await _mail(mesh, **params)


async def _final(mio: httpx.AsyncClient, number: str, *, timeout_s: float = 30.0) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        application = (await mio.get(f"/applications/{number}")).json()
        if application["status"] not in ("RECEIVED", "IN_PROGRESS"):
            return application
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{number} stayed {application['status']}")
        await asyncio.sleep(0.1)


async def _staff(mio: httpx.AsyncClient, district: str, role: str) -> tuple[dict[str, Any], dict[str, str]]:
    """A seeded staff member (with keys) and the headers of their login."""
    member = next(s for s in (await mio.get("/admin/staff")).json()["staff"]
                  if (s["district"], s["role"]) == (district, role))
    login = (await mio.post("/staff/login", json={"iin": member["iin"], "password": member["password"]})).json()
    return member, bearer(login["token"])


def _sign_draft(member: dict[str, Any], draft: dict[str, Any]) -> str:
    signer = SignerIdentity.from_pkcs12(data=base64.b64decode(member["signingP12Base64"]),
                                        password=member["pkcs12Password"])
    return sign_json(value=draft, signer=signer)


async def _to_issue(mio: httpx.AsyncClient, number: str, member: dict[str, Any], headers: dict[str, str]) -> None:
    """Mamlyut's single employee takes an application up to its issue: accept, refuse (motivated), sign."""
    for action, body in (("accept", {}), ("decide", {"decision": "refuse", "reason": "нет карточки безработного"})):
        reply = await mio.post(f"/applications/{number}/actions/{action}", json=body, headers=headers)
        assert reply.status_code == 200, reply.text
    draft = (await mio.get(f"/applications/{number}/draft", headers=headers)).json()
    reply = await mio.post(f"/applications/{number}/actions/sign", json={"signature": _sign_draft(member, draft)},
                           headers=headers)
    assert reply.status_code == 200, reply.text


async def test_an_office_result_handed_out_by_email_reaches_the_outbox_once_signed_and_from_its_district(
        inproc: InProcessMesh):
    await inproc.set_mode("zhezkazgan", share=0.00001)  # simulated staff, at once
    person = await inproc.person(district="zhezkazgan")
    address = f"walk-in.{person.iin}@example.kz"
    async with inproc.client("mio_workstation") as mio:
        _, clerk = await _staff(mio, "zhezkazgan", "clerk")
        entered = await mio.post("/districts/zhezkazgan/applications", headers=clerk,
                                 json=person.request(JOB_SEEKER, email=address) | {"signedBy": "applicant"})
        assert entered.status_code == 201, entered.text
        number = entered.json()["number"]
        application = await _final(mio, number)
    assert application["status"] == "COMPLETED"
    assert (application["delivery"], application["deliveredTo"]) == ("email", address)

    [mail] = await _mail_once(inproc, applicationNumber=number)
    assert (mail["sender"], mail["kind"], mail["to"]) == ("mio.zhezkazgan", "email", address)
    assert mail["correlationId"] == application["correlationId"]
    assert number in mail["subject"]
    assert "оказана" in mail["text"]
    assert [(a["name"], a["contentType"]) for a in mail["attachments"]] == [(f"{number}.json", "application/json")]
    assert mail["attachments"][0].get("contentBase64") is None, "the list names attachments; the message has them"
    assert await _mail(inproc, to=address, kind="email") == [mail]
    assert await _mail(inproc, to=address, kind="sms") == []

    async with inproc.client("portal") as portal:
        full = (await portal.get(f"/admin/mail/{mail['id']}")).json()
    document = json.loads(base64.b64decode(full["attachments"][0]["contentBase64"]))
    assert document == application["document"], "the signed result document, as ИС МИО keeps it"
    signed = verify_json(value=document["content"], signature_b64=document["signature"])
    serial = signed.signer.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value
    assert serial == f"IIN{application['signerIin']}", "signed by the official who signed the result"


async def test_email_delivery_needs_an_address_and_is_for_office_applications_only(inproc: InProcessMesh):
    await inproc.set_mode("mamlyut", mode="manual")
    try:
        person = await inproc.person(district="mamlyut")
        async with inproc.client("mio_workstation") as mio:
            employee, headers = await _staff(mio, "mamlyut", "employee")
            entered = await mio.post("/districts/mamlyut/applications", headers=headers, json=person.request(
                CERTIFICATE, periodFrom="2026-01-01", periodTo="2026-06-30") | {"signedBy": "applicant"})
            assert entered.status_code == 201, entered.text
            number = entered.json()["number"]
            await _to_issue(mio, number, employee, headers)

            no_address = await mio.post(f"/applications/{number}/actions/issue", json={"delivery": "email"},
                                        headers=headers)
            assert (no_address.status_code, no_address.json()["code"]) == (422, "EMAIL_REQUIRED")
            bad = await mio.post(f"/applications/{number}/actions/issue", headers=headers,
                                 json={"delivery": "email", "email": "not-an-address"})
            assert (bad.status_code, bad.json()["code"]) == (422, "EMAIL_INVALID")
            stray = await mio.post(f"/applications/{number}/actions/issue", json={"email": "a@example.kz"},
                                   headers=headers)
            assert (stray.status_code, stray.json()["code"]) == (422, "EMAIL_WITHOUT_DELIVERY")
            assert (await mio.get(f"/applications/{number}")).json()["status"] == "IN_PROGRESS", "nothing issued"
            await asyncio.sleep(0.3)
            assert await _mail(inproc, applicationNumber=number) == [], "nothing queued"

            address = f"given.{person.iin}@example.kz"
            issued = await mio.post(f"/applications/{number}/actions/issue", headers=headers,
                                    json={"delivery": "email", "email": address})
            assert issued.status_code == 200, issued.text
            assert (issued.json()["status"], issued.json()["delivery"], issued.json()["deliveredTo"]) == (
                "REFUSED", "email", address)
            [mail] = await _mail_once(inproc, applicationNumber=number)
            assert (mail["sender"], mail["to"]) == ("mio.mamlyut", address)
            assert "отказано" in mail["text"]
            assert "нет карточки безработного" in mail["text"]

            # an application through the portal is handed out by the portal: delivery is not the МИО's to choose
            token = await inproc.citizen_session(person)
            sent = await apply(inproc, person, token, CERTIFICATE, periodFrom="2026-01-01", periodTo="2026-06-30")
            for _ in range(200):
                rows = await inproc.sql("mio_workstation", "SELECT number FROM application WHERE correlation_id = ?",
                                        sent["correlationId"])
                if rows:
                    break
                await asyncio.sleep(0.05)
            portal_number = rows[0][0]
            await _to_issue(mio, portal_number, employee, headers)
            refused = await mio.post(f"/applications/{portal_number}/actions/issue", json={"delivery": "email"},
                                     headers=headers)
            assert (refused.status_code, refused.json()["code"]) == (422, "DELIVERY_NOT_OFFICE")
            issued = await mio.post(f"/applications/{portal_number}/actions/issue", json={}, headers=headers)
            assert issued.status_code == 200, issued.text
            assert (issued.json()["status"], issued.json()["delivery"]) == ("REFUSED", None)
        await asyncio.sleep(0.3)
        assert await _mail(inproc, applicationNumber=portal_number) == []
    finally:
        await inproc.set_mode("mamlyut", mode="auto", share=0.5)


async def test_the_outbox_names_the_proven_sender_and_the_gateway_holds_mail_to_its_contract(
        inproc: InProcessMesh, member_factory):
    member = await member_factory("mailer")
    async with inproc.client("shep_gateway") as gateway:
        (await gateway.post("/admin/services/mesh.mail/grant", json={"callers": [member.member_id]})
         ).raise_for_status()
    correlation_id = str(uuid.uuid4())
    await member.send(service_id="mesh.mail", message_type=MessageType.REQUEST, correlation_id=correlation_id,
                      data={"kind": "sms", "to": "+77010000000", "text": "Код подтверждения: 1234"})
    [sms] = await _mail_once(inproc, correlationId=correlation_id)
    assert (sms["sender"], sms["kind"], sms["to"], sms["subject"]) == (member.member_id, "sms", "+77010000000", None)

    for data in ({"kind": "email", "to": "+77010000000", "text": "x"},  # a phone is no e-mail address
                 {"kind": "sms", "to": "nobody@example.kz", "text": "x"},
                 {"kind": "email", "to": "a@example.kz", "text": "x", "sender": "mio.almaty"}):  # no claiming a sender
        wire = await member.send(service_id="mesh.mail", message_type=MessageType.REQUEST, data=data,
                                 correlation_id=correlation_id)
        refusal = await member.wait_for(lambda i, w=wire: i.envelope.message_type is MessageType.ERROR
                                        and i.envelope.data.get("refusedMessageId") == w["messageId"])
        assert refusal.envelope.data["code"] == "Client.InvalidPayload", refusal.envelope.data
    await asyncio.sleep(0.3)
    assert len(await _mail(inproc, correlationId=correlation_id)) == 1


async def test_the_outbox_refuses_strangers_and_unknown_ids(inproc: InProcessMesh):
    async with httpx.AsyncClient(transport=inproc.router, base_url=inproc.url("portal")) as anonymous:
        assert (await anonymous.get("/admin/mail")).status_code in (401, 403)
    async with inproc.client("portal") as portal:
        missing = await portal.get("/admin/mail/999999999")
    assert (missing.status_code, missing.json()["code"]) == (404, "MAIL_NOT_FOUND")

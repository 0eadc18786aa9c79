"""ШЭП's SOAP channels on the in-process mesh (issue 21; docs/soap.md): a SOAP system enrolled, calling ГБД ФЛ's
person look-up through SyncChannel with its own WS-Security signature, and every bad input answered with a SOAP
fault carrying the mesh's code — nothing sent on."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from lxml import etree

from meshkit.members import grant, unique_id
from meshkit.soap import SoapMember, enroll_soap, send_message
from shared.errors import RelayedError
from shared.mesh.envelope import VOUCHED, MessageType
from shared.mesh.member import outgoing
from shared.mesh.soap_channels import ASYNC_TYPES, SYNC_TYPES
from shared.mesh.topology import H_DOOR, INGRESS_EXCHANGE
from shared.pki.signing import SignerIdentity
from shared.pki.xmldsig import DS, SOAP11, parse_xml, verify_body
from tests.support.chaos import pair, rule, wait_journal
from tests.support.inprocess import OCSP_MAX_AGE_S, InProcessMesh
from tests.support.soap_system import PUSH_PATH, Pushed, SoapEndpoint
from tests.usecases.helpers import apply, final_case

PERSON_BY_IIN = "gbdfl.person-by-iin"


@pytest.fixture
async def soap_member(inproc: InProcessMesh) -> SoapMember:
    member = await enroll_soap(inproc, member_id=unique_id("soap-portal"))
    await grant(inproc, service_id=PERSON_BY_IIN, callers=[member.member_id])
    return member


async def post(inproc: InProcessMesh, path: str, body: bytes) -> tuple[int, etree._Element]:
    async with inproc.client("shep_gateway") as gateway:
        reply = await gateway.post(path, content=body, headers={"Content-Type": "text/xml; charset=utf-8",
                                                                 "SOAPAction": '""'})
    return reply.status_code, parse_xml(reply.content)


async def log_record(inproc: InProcessMesh, message_id: str) -> dict[str, Any]:
    async with inproc.client("shep_gateway") as gateway:
        reply = await gateway.get(f"/log/{message_id}", headers=inproc.admin)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def fault_code(answer: etree._Element) -> str:
    code = answer.findtext(f".//{{{SYNC_TYPES}}}SendMessageFault1_SendMessageFault/errorCode")
    assert code, etree.tostring(answer)[:2000]
    return code


async def test_a_soap_system_looks_a_person_up_in_gbd_fl_through_sync_channel(inproc, soap_member):
    person = await inproc.person(district="almaty")
    body = soap_member.sync_call(service_id=PERSON_BY_IIN, data={"iin": person.iin})
    status, answer = await post(inproc, "/bip-sync-wss-gost/", body)
    assert status == 200, etree.tostring(answer)[:2000]
    signed = verify_body(answer)  # the gateway signs what it answers
    assert signed.verified.signer == soap_member.gateway_certificate
    response = signed.body.find(f"{{{SYNC_TYPES}}}SendMessageResponse/response")
    assert response.findtext("responseInfo/status/code") == "SCSS001"
    assert json.loads(response.findtext("responseData/data"))["person"]["iin"] == person.iin
    request_id = parse_xml(body).findtext(f".//{{{SYNC_TYPES}}}SendMessage/request/requestInfo/messageId")
    record = await log_record(inproc, request_id)  # the message log: by which door, the member's signature checked
    serial = format(soap_member.enrolled.identity.certificate.serial_number, "x")
    assert (record["sender"], record["checks"]["door"]) == (soap_member.member_id, "soap")
    assert (record["checks"]["wsSecurity"]["ok"], record["checks"]["wsSecurity"]["serial"].lstrip("0")) == (
        True, serial.lstrip("0"))
    assert record["checks"]["signature"]["ok"]  # the gateway's, for that member: the SOAP message stayed at the door
    assert soap_member.password not in json.dumps(record)
    answer_record = await log_record(inproc, response.findtext("responseInfo/messageId"))
    assert (answer_record["inReplyTo"], answer_record["sender"]) == (request_id, "gbdfl")
    status, answer = await post(inproc, "/bip-sync-wss-gost/", _commented(
        soap_member.sync_call(service_id=PERSON_BY_IIN, data={"iin": person.iin})))
    assert status == 200, answer.findtext(".//faultstring")  # a comment is not content: read past, never a field


def _strip_signature(body: bytes) -> bytes:
    root = parse_xml(body)
    security = root.find(f"{{{SOAP11}}}Header")
    for child in list(security):
        security.remove(child)
    return etree.tostring(root)


def _altered(body: bytes) -> bytes:
    """The Body changed after it was signed: the data's JSON text rewritten in place."""
    return body.replace(b"&quot;iin&quot;", b"&quot;iin&quot; ").replace(b'"iin"', b'"iin" ')


def _unreferenced(body: bytes) -> bytes:
    """The Body's wsu:Id renamed: the signature's reference now points at nothing in this envelope."""
    root = parse_xml(body)
    soap_body = root.find(f"{{{SOAP11}}}Body")
    for name in list(soap_body.attrib):
        if name.endswith("}Id"):
            soap_body.set(name, "id-elsewhere")
    return etree.tostring(root)


def _gost(body: bytes) -> bytes:
    return body.replace(b"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
                        b"http://www.w3.org/2001/04/xmldsig-more#gost34310-gost34311")


BILLION_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                  + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                             for i in range(1, 10))
                  + b']><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
                  + b"<x>&lol9;</x></soapenv:Body></soapenv:Envelope>")
XXE = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
       b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><x>&xxe;</x>'
       b"</soapenv:Body></soapenv:Envelope>")
DEEP = (b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
        + b"<a>" * 200 + b"</a>" * 200 + b"</soapenv:Body></soapenv:Envelope>")
def _emptied_signature_value(body: bytes) -> bytes:
    root = parse_xml(body)
    root.find(f".//{{{DS}}}SignatureValue").text = ""
    return etree.tostring(root)


def _many_references(body: bytes) -> bytes:
    root = parse_xml(body)
    reference = root.find(f".//{{{DS}}}Reference")
    for _ in range(10):
        reference.addnext(etree.fromstring(etree.tostring(reference)))
    return etree.tostring(root)


def _commented(body: bytes) -> bytes:
    """Comments put into the signed Body after signing — before the operation, inside the sender's id: exclusive
    canonicalisation leaves them out of what is signed, and the gateway reads past them."""
    body = re.sub(rb"(<soapenv:Body[^>]*>)", rb"\1<!-- a comment -->", body, count=1)
    return re.sub(rb"<senderId>([a-z]+)", rb"<senderId>\1<!-- x -->", body, count=1)


WRONG_NAMESPACE = (b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
                   b'<ns2:SendMessage xmlns:ns2="http://bip.bee.kz/SyncChannel/v9/Types"/></soapenv:Body>'
                   b"</soapenv:Envelope>")
SOAP12 = (b'<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body/></env:Envelope>')


@pytest.mark.parametrize(("case", "code"), [
    ("not XML", "Client.XmlMalformed"),
    ("SOAP 1.2", "Client.SoapInvalid"),
    ("another namespace", "Client.SoapInvalid"),
    ("the async operation at the sync address", "Client.SoapInvalid"),
    ("billion laughs", "Client.XmlForbidden"),
    ("external entity", "Client.XmlForbidden"),
    ("nested too deep", "Client.XmlForbidden"),
    ("over the size limit", "Client.TooLarge"),
    ("unknown senderId", "Client.SoapAuthFailed"),
    ("wrong password", "Client.SoapAuthFailed"),
    ("no password", "Client.SoapAuthFailed"),
    ("no signature", "Client.SignatureMissing"),
    ("body altered after signing", "Client.SignatureContentMismatch"),
    ("body not referenced", "Client.SignatureBodyNotReferenced"),
    ("GOST", "Client.SignatureAlgorithmUnsupported"),
    ("message id not a UUID", "Client.SoapInvalid"),
    ("data not the contract's", "Client.InvalidPayload"),
    ("data not JSON", "Client.InvalidPayload"),
    ("an empty signature value", "Client.SignatureMalformed"),
    ("references past counting", "Client.SignatureMalformed"),
    ("an asynchronous service through SyncChannel", "Client.SoapInvalid"),
])
async def test_bad_input_is_a_soap_fault_with_its_code_and_nothing_is_sent_on(inproc, soap_member, case, code):
    person = await inproc.person(district="almaty")
    good = soap_member.sync_call(service_id=PERSON_BY_IIN, data={"iin": person.iin})
    body = {
        "not XML": b"iin=1",
        "SOAP 1.2": SOAP12,
        "another namespace": WRONG_NAMESPACE,
        "the async operation at the sync address": soap_member.async_call(
            service_id=PERSON_BY_IIN, message_type="REQUEST", data={"iin": person.iin}),
        "billion laughs": BILLION_LAUGHS,
        "external entity": XXE,
        "nested too deep": DEEP,
        "over the size limit": good + b" " * (4 * 1024 * 1024),
        "unknown senderId": good.replace(soap_member.member_id.encode(), b"soap-nobody"),
        "wrong password": soap_member.sync_call(service_id=PERSON_BY_IIN, data={"iin": person.iin},
                                                password="guessed-0123456789"),
        "no password": soap_member.sync_call(service_id=PERSON_BY_IIN, data={"iin": person.iin}, password=""),
        "no signature": _strip_signature(good),
        "body altered after signing": _altered(good),
        "body not referenced": _unreferenced(good),
        "GOST": _gost(good),
        "message id not a UUID": good.replace(b"<messageId>", b"<messageId>msg-"),
        "data not the contract's": soap_member.sync_call(service_id=PERSON_BY_IIN, data={"iin": "12"}),
        "data not JSON": soap_member.sync_call(service_id=PERSON_BY_IIN, data={"iin": person.iin}).replace(
            b"{&quot;", b"{{&quot;").replace(b'{"', b'{{"'),
        "an empty signature value": _emptied_signature_value(good),
        "references past counting": _many_references(good),
        "an asynchronous service through SyncChannel": soap_member.sync_call(service_id=JOB_SEEKER, data={}),
    }[case]
    before = await inproc.sql("shep_gateway", "SELECT COUNT(*) FROM message_log")
    status, answer = await post(inproc, "/bip-sync-wss-gost/", body)
    assert (status, fault_code(answer)) == (500, code)
    assert answer.findtext(f"{{{SOAP11}}}Body/{{{SOAP11}}}Fault/faultcode") == "soap:Client"
    assert await inproc.sql("shep_gateway", "SELECT COUNT(*) FROM message_log") == before  # nothing sent on


async def test_what_the_registry_refuses_is_a_fault_and_a_journal_entry(inproc, soap_member):
    """The registry's refusals (the service, the grant) before anything is published; the journal keeps each."""
    person = await inproc.person(district="almaty")
    cases = [({"service_id": "test.no-such-service", "data": {}}, "Client.UnknownService"),
             ({"service_id": "gbdfl.social-status-by-iin", "data": {"iin": person.iin}}, "Client.AccessDenied")]
    for call, code in cases:
        body = soap_member.sync_call(**call)
        status, answer = await post(inproc, "/bip-sync-wss-gost/", body)
        assert (status, fault_code(answer)) == (500, code)
        message_id = parse_xml(body).findtext(f".//{{{SYNC_TYPES}}}SendMessage/request/requestInfo/messageId")
        [entry] = await wait_journal(inproc, kind="envelope", messageId=message_id, outcome="refused")
        assert (entry["code"], entry["channel"], entry["sender"]) == (code, "soap-sync", soap_member.member_id)


async def test_an_async_call_the_registry_would_not_route_is_a_fault_at_once(inproc: InProcessMesh):
    portal, _endpoint = await soap_system(inproc, "portal.soap")
    await grant(inproc, service_id=JOB_SEEKER, callers=[portal.member_id])
    person = await inproc.person(district="almaty")
    application = person.request(JOB_SEEKER) | {"signedBy": "applicant"}
    cases = [({"route_id": "atlantis"}, "Client.UnknownRoute"),
             ({"service_id": "employment.unemployed-certificate"}, "Client.AccessDenied"),
             ({"message_type": "NOTIFICATION", "data": {}}, "Client.AccessDenied")]  # it does not provide it
    for change, code in cases:
        call = {"service_id": JOB_SEEKER, "message_type": "REQUEST", "data": application} | change
        status, answer = await post(inproc, "/bip-async/", portal.async_call(**call))
        refused = answer.findtext(f".//{{{ASYNC_TYPES}}}sendMessageFault1_sendMessageFault/errorCode")
        assert (status, refused) == (500, code)


async def test_a_duplicate_message_id_is_refused(inproc, soap_member):
    person = await inproc.person(district="almaty")
    message_id = uuid.uuid4()
    first = soap_member.sync_call(service_id=PERSON_BY_IIN, data={"iin": person.iin}, message_id=message_id)
    assert (await post(inproc, "/bip-sync-wss-gost/", first))[0] == 200
    again = soap_member.sync_call(service_id=PERSON_BY_IIN, data={"iin": person.iin}, message_id=message_id)
    status, answer = await post(inproc, "/bip-sync-wss-gost/", again)
    assert (status, fault_code(answer)) == (500, "Client.DuplicateMessage")


async def test_a_certificate_not_the_senders_or_revoked_is_refused(inproc, soap_member):
    person = await inproc.person(district="almaty")
    other = await enroll_soap(inproc, member_id=unique_id("soap-other"))
    impostor = SoapMember(enrolled=other.enrolled, password=soap_member.password, sync_url=soap_member.sync_url,
                          async_url=soap_member.async_url, gateway_certificate=soap_member.gateway_certificate)
    forged = impostor.signed(send_message(sender_id=soap_member.member_id, password=soap_member.password,
                                          service_id=PERSON_BY_IIN, data={"iin": person.iin}))
    status, answer = await post(inproc, "/bip-sync-wss-gost/", forged)
    assert (status, fault_code(answer)) == (500, "Client.CertificateNotRegistered")
    serial = format(other.enrolled.identity.certificate.serial_number, "x")
    async with inproc.client("nuc_pki") as nuc:
        reply = await nuc.post(f"/certificates/{serial}/revoke", headers=inproc.admin, json={"reason": "keyCompromise"})
    assert reply.status_code == 200, reply.text
    await grant(inproc, service_id=PERSON_BY_IIN, callers=[other.member_id])
    # the GOOD the gateway heard when it pinned the certificate stands for OCSP_MAX_AGE_S, by design: past it, it asks
    await asyncio.sleep(OCSP_MAX_AGE_S)
    status, answer = await post(inproc, "/bip-sync-wss-gost/", other.sync_call(service_id=PERSON_BY_IIN,
                                                                                data={"iin": person.iin}))
    assert (status, fault_code(answer)) == (500, "Client.CertificateRevoked")


async def test_a_provider_later_than_the_deadline_is_server_timeout(inproc, soap_member):
    person = await inproc.person(district="almaty")
    async with rule(inproc, where="gateway", match={"recipient": "gbdfl", "serviceId": PERSON_BY_IIN},
                    fault={"kind": "delay", "delayMs": 3000}, times=1):
        status, answer = await post(inproc, "/bip-sync-wss-gost/",
                                    soap_member.sync_call(service_id=PERSON_BY_IIN, data={"iin": person.iin}))
    assert (status, fault_code(answer)) == (500, "Server.Timeout")
    assert answer.findtext(f"{{{SOAP11}}}Body/{{{SOAP11}}}Fault/faultcode") == "soap:Server"


# ---- AsyncChannel ------------------------------------------------------------------------------------------------
JOB_SEEKER = "employment.job-seeker-registration"


async def soap_system(inproc: InProcessMesh, prefix: str, **enrol: Any) -> tuple[SoapMember, SoapEndpoint]:
    """A SOAP member whose AsyncChannel endpoint is an app in the in-process mesh (host ``<member>.mesh``)."""
    member_id = unique_id(prefix)
    host = member_id.replace(".", "-")
    endpoint = SoapEndpoint()
    inproc.router.apps[host] = httpx.ASGITransport(app=endpoint.app())
    member = await enroll_soap(inproc, member_id=member_id, soap_endpoint=f"http://{host}.mesh{PUSH_PATH}", **enrol)
    endpoint.gateway_certificate = member.gateway_certificate
    return member, endpoint


async def test_a_soap_portal_applies_through_async_channel_and_gets_every_status_pushed(inproc: InProcessMesh):
    """Must-show: a portal-less case driven over SOAP — the application by AsyncChannel, the simulated ИС МИО
    deciding it, each status pushed back to the SOAP system's own endpoint, signed by the gateway."""
    portal, endpoint = await soap_system(inproc, "portal.soap")
    await grant(inproc, service_id=JOB_SEEKER, callers=[portal.member_id], notify=[portal.member_id])
    await inproc.set_mode("almaty", share=0.0001)  # the simulated staff decide at once
    person = await inproc.person(district="almaty")
    status, answer = await post(inproc, "/bip-async/", portal.async_call(
        service_id=JOB_SEEKER, message_type="REQUEST", data=person.request(JOB_SEEKER) | {"signedBy": "applicant"}))
    assert status == 200, answer.findtext(".//faultstring")
    accepted = verify_body(answer).body.find(f"{{{ASYNC_TYPES}}}sendMessageResponse/response")
    correlation_id = accepted.findtext("correlationId")
    completed = await endpoint.wait_for(lambda p: p.info["correlationId"] == correlation_id
                                        and p.data.get("status") in ("COMPLETED", "REFUSED"), timeout_s=60)
    statuses = [p.data["status"] for p in endpoint.received if p.info["correlationId"] == correlation_id]
    assert statuses[:2] == ["RECEIVED", "IN_PROGRESS"], statuses
    assert completed.data["status"] == "COMPLETED", statuses
    assert (completed.info["messageType"], completed.info["serviceId"], completed.info["sender"]) == (
        "NOTIFICATION", JOB_SEEKER, "mio.almaty")
    assert not endpoint.refused
    request_record = await log_record(inproc, accepted.findtext("messageId"))
    assert (request_record["checks"]["door"], request_record["recipient"]) == ("soap", "mio.almaty")
    status_record = await log_record(inproc, completed.info["messageId"])  # the way it went: pushed by SOAP
    assert (status_record["recipient"], status_record["checks"]["recipientDoor"]) == (portal.member_id, "soap")
    delivered = await inproc.sql("shep_gateway", "SELECT state, settled_by FROM delivery WHERE recipient = ? AND "
                                 "correlation_id = ?", portal.member_id, correlation_id)
    assert set(delivered) == {("DELIVERED", "soap-push")}  # each push acknowledged: its receipt


def status_notice(pushed: Pushed, *, number: str, status: str, text: str) -> dict[str, Any]:
    form = pushed.data["form"]
    return {"applicationNumber": number, "district": "kyzylorda", "applicantIin": form["applicantIin"],
            "status": status, "statusText": text, "at": dt.datetime.now(dt.UTC).isoformat(),
            "text": f"Заявление № {number}: {text}", "channel": "portal"}


async def test_the_portals_application_is_handled_by_a_soap_mio_that_answers_through_async_channel(
        inproc: InProcessMesh):
    """Must-show, the reverse: a tester's own ИС МИО for one district, on SOAP, takes the simulated portal's
    application by push and sends its statuses back through AsyncChannel; the citizen's case is COMPLETED."""
    mio, endpoint = await soap_system(inproc, "mio.soap", district="kyzylorda")
    async with inproc.client("shep_gateway") as gateway:
        seed = next(s for s in (await gateway.get("/services")).json()["services"] if s["id"] == JOB_SEEKER)
        replaced = seed | {"providers": [mio.member_id, *seed["providers"]]}  # it serves kyzylorda now
        assert (await gateway.put(f"/admin/services/{JOB_SEEKER}", json=replaced)).status_code == 200
    try:
        person = await inproc.person(district="kyzylorda")
        token = await inproc.citizen_session(person)
        sent = await apply(inproc, person, token)
        application = await endpoint.wait_for(lambda p: p.info["correlationId"] == sent["correlationId"])
        assert (application.info["messageType"], application.info["sender"]) == ("REQUEST", "portal")
        assert application.data["form"]["applicantIin"] == person.iin
        number = f"SOAP-{uuid.uuid4().hex[:8]}"
        for status, text in (("RECEIVED", "Поступившие"), ("IN_PROGRESS", "В работе"), ("COMPLETED", "Исполнено")):
            code, answer = await post(inproc, "/bip-async/", mio.async_call(
                service_id=JOB_SEEKER, message_type="NOTIFICATION", correlation_id=sent["correlationId"],
                data=status_notice(application, number=number, status=status, text=text),
                properties={"recipient": "portal"}))
            assert code == 200, answer.findtext(".//faultstring")
        done = await final_case(inproc, person, token, sent["correlationId"])
        assert (done["status"], done["applicationNumber"]) == ("COMPLETED", number)
    finally:
        async with inproc.client("shep_gateway") as gateway:
            await gateway.post("/admin/registry/reset", json={"kind": "service", "id": JOB_SEEKER})


async def test_a_certificate_with_the_wrong_key_usage_is_never_the_senders(inproc, soap_member):
    """НУЦ's deliberately faulty system certificate (no signing usage) for this very member: the gateway will not
    pin it (Client.WrongKeyUsage), so a call signed with it is not the sender's (Client.CertificateNotRegistered)."""
    async with inproc.client("nuc_pki") as nuc:
        reply = await nuc.post("/test/certificates", json={
            "kind": "wrong_usage", "holder": "system", "memberId": soap_member.member_id,
            "organisation": "ТОО «Тестовая система»", "bin": soap_member.enrolled.bin,
            "pkcs12Password": "faulty-0123456"})
    assert reply.status_code == 201, reply.text
    issued = reply.json()["signing"]
    async with inproc.client("shep_gateway") as gateway:
        pinned = await gateway.put(f"/admin/members/{soap_member.member_id}/certificate",
                                   json={"certificatePem": issued["certificatePem"]})
    assert (pinned.status_code, pinned.json()["code"]) == (422, "Client.WrongKeyUsage")
    identity = SignerIdentity.from_pkcs12(data=base64.b64decode(issued["pkcs12Base64"]), password="faulty-0123456")
    wrong = replace(soap_member, enrolled=replace(soap_member.enrolled, identity=identity))
    person = await inproc.person(district="almaty")
    status, answer = await post(inproc, "/bip-sync-wss-gost/", wrong.sync_call(service_id=PERSON_BY_IIN,
                                                                                data={"iin": person.iin}))
    assert (status, fault_code(answer)) == (500, "Client.CertificateNotRegistered")


async def test_a_member_cannot_pass_an_envelope_off_as_signed_for_it_by_the_gateway(inproc, member_factory):
    """Only the gateway's SOAP door sends an envelope the gateway signed for its sender: one published by a member —
    even with the door's header set — is refused, its sender told."""
    both = await pair(inproc, member_factory)
    wire = both.sender.runtime.composer.compose(service_id=both.service, message_type=MessageType.REQUEST, data={})
    wire["signature"] = VOUCHED + wire["signature"]
    await both.sender.bus.publish(exchange=INGRESS_EXCHANGE, routing_key="", message=outgoing(
        both.sender.runtime.to_gateway(wire), headers={H_DOOR: "soap"}))
    [refused] = await wait_journal(inproc, kind="envelope", messageId=wire["messageId"])
    assert (refused["outcome"], refused["code"]) == ("refused", "Client.CertificateNotForSender")
    assert "door" not in refused["checks"]
    assert not both.recipient.got(wire["messageId"])


async def test_the_same_signed_call_sent_again_is_the_same_message_refused_as_a_duplicate(inproc: InProcessMesh):
    """An AsyncChannel call that leaves its messageId to the gateway gets one made from its signature: the same
    bytes sent again — replayed by whoever saw them — are the same message, never a second application."""
    portal, _endpoint = await soap_system(inproc, "portal.soap")
    await grant(inproc, service_id=JOB_SEEKER, callers=[portal.member_id], notify=[portal.member_id])
    person = await inproc.person(district="almaty")
    call = portal.async_call(service_id=JOB_SEEKER, message_type="REQUEST",
                             data=person.request(JOB_SEEKER) | {"signedBy": "applicant"})
    ids = []
    for _ in range(2):
        status, answer = await post(inproc, "/bip-async/", call)
        assert status == 200, answer.findtext(".//faultstring")
        ids.append(answer.findtext(f".//{{{ASYNC_TYPES}}}sendMessageResponse/response/messageId"))
    assert ids[0] == ids[1]
    [replay] = await wait_journal(inproc, kind="envelope", correlationId=ids[0], code="Client.DuplicateMessage")
    assert replay["checks"]["replayOf"] == ids[0]


async def test_a_body_that_states_no_length_is_read_no_further_than_the_limit(inproc: InProcessMesh):
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):  # 5 MiB, chunked: no Content-Length to refuse it by
            yield b" " * (1024 * 1024)
    async with inproc.client("shep_gateway") as gateway:
        reply = await gateway.post("/bip-sync-wss-gost/", content=chunks(), headers={"Content-Type": "text/xml"})
    assert (reply.status_code, fault_code(parse_xml(reply.content))) == (500, "Client.TooLarge")


async def test_a_soap_system_provides_a_synchronous_service_to_a_member_on_amqp(inproc: InProcessMesh,
                                                                                 member_factory):
    """Both directions on SyncChannel: a tester's own registry on SOAP serves a synchronous service; a member on AMQP
    calls it through the gateway, which sends it SendMessage, checks its signed SendMessageResponse, and answers the
    caller with it — signed by the gateway for that provider."""
    registry, endpoint = await soap_system(inproc, "registry.soap")
    endpoint.member = registry
    endpoint.provide = lambda request: {"echo": request.data, "by": "soap"}
    caller = await member_factory("soap-caller")
    service = unique_id("test.soap-lookup")
    await grant(inproc, service_id=service, channel="sync", providers=[registry.member_id],
                callers=[caller.member_id])
    answer = await caller.runtime.request(service_id=service, data={"iin": "880101300123"})
    assert answer.envelope.data == {"echo": {"iin": "880101300123"}, "by": "soap"}
    assert (answer.envelope.sender, answer.envelope.message_type) == (registry.member_id, MessageType.RESPONSE)
    assert answer.envelope.signature.startswith(VOUCHED)  # the gateway's, for its SOAP provider
    assert endpoint.received[-1].info["sender"] == caller.member_id
    record = await log_record(inproc, str(answer.envelope.message_id))
    assert (record["checks"]["door"], record["checks"]["wsSecurity"]["ok"]) == ("soap", True)
    assert record["checks"]["lane"] == "sync", "the SOAP provider's answer took the fast lane, as the call did"
    assert (await log_record(inproc, str(answer.envelope.in_reply_to)))["checks"]["lane"] == "sync"


async def test_a_soap_providers_unsigned_or_foreign_answer_never_reaches_the_caller(inproc: InProcessMesh,
                                                                                     member_factory):
    registry, endpoint = await soap_system(inproc, "registry.soap")
    other = await enroll_soap(inproc, member_id=unique_id("soap-other"))
    endpoint.member = replace(registry, enrolled=other.enrolled)  # signs with another system's key
    endpoint.provide = lambda request: {"forged": True}
    caller = await member_factory("soap-caller")
    service = unique_id("test.soap-lookup")
    await grant(inproc, service_id=service, channel="sync", providers=[registry.member_id],
                callers=[caller.member_id])
    with pytest.raises(RelayedError) as timed_out:
        await caller.runtime.request(service_id=service, data={}, timeout_s=1.0)
    assert timed_out.value.code == "Server.Timeout"
    [failed] = await wait_journal(inproc, kind="consumed", channel="soap-call", recipient=registry.member_id)
    assert (failed["outcome"], "Client.CertificateNotRegistered" in failed["reason"]) == ("call-failed", True)

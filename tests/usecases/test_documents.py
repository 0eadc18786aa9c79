"""Result documents: the citizen downloads their signed result as JSON and as a PDF; anyone verifies it at the portal
(JSON, PDF, QR payload) without the portal looking anything up; a changed byte is named; nobody else downloads it."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import re

import httpx
from pypdf import PdfReader

from shared.clock import KZ_TZ
from shared.employment.documents import QR_PREFIX, read_pdf
from tests.support.inprocess import InProcessMesh, url
from tests.usecases.helpers import apply, bearer, final_case


def _anonymous(mesh: InProcessMesh, service: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=mesh.router, base_url=url(service), timeout=30)


async def _verify(mesh: InProcessMesh, **request: object) -> dict:
    async with _anonymous(mesh, "portal") as portal:
        reply = await portal.post("/documents/verify", **request)  # type: ignore[arg-type]
    assert reply.status_code == 200, reply.text
    return reply.json()


async def test_a_result_downloads_as_json_and_pdf_and_verifies_and_only_for_its_citizen(inproc: InProcessMesh):
    await inproc.set_mode("zhezkazgan", share=0.00001)
    person, stranger = await asyncio.gather(*(inproc.person(district="zhezkazgan") for _ in range(2)))
    token, stranger_token = await asyncio.gather(inproc.citizen_session(person), inproc.citizen_session(stranger))
    sent = await apply(inproc, person, token)
    assert (await final_case(inproc, person, token, sent["correlationId"]))["status"] == "COMPLETED"
    path = f"/citizens/{person.iin}/applications/{sent['correlationId']}/document"

    async with _anonymous(inproc, "portal") as portal:
        as_json = await portal.get(path, headers=bearer(token))
        as_pdf = await portal.get(f"{path}.pdf", headers=bearer(token))
        theirs = [await portal.get(p, headers=bearer(stranger_token)) for p in (path, f"{path}.pdf")]
        by_id = await portal.get(f"/citizens/{stranger.iin}/applications/{sent['correlationId']}/document.pdf",
                                 headers=bearer(stranger_token))
        nobody = await portal.get(path)
    assert as_json.status_code == 200, as_json.text
    assert as_json.headers["content-disposition"].startswith("attachment; filename=")
    document = as_json.json()
    assert set(document) == {"content", "signature"}
    assert (document["content"]["applicantIin"], document["content"]["result"]) == (person.iin, "approved")
    assert as_pdf.status_code == 200, as_pdf.text
    assert as_pdf.headers["content-type"] == "application/pdf"
    assert as_pdf.content.startswith(b"%PDF")
    carried = read_pdf(as_pdf.content)
    assert carried.document.as_json() == document, "the PDF carries the very signed document"
    assert [(r.status_code, r.json()["code"]) for r in theirs] == [(403, "NOT_YOUR_DATA")] * 2
    assert (by_id.status_code, by_id.json()["code"]) == (404, "APPLICATION_NOT_FOUND"), "another's id is not theirs"
    assert person.iin not in by_id.text
    assert "signature" not in by_id.text
    assert nobody.status_code == 401

    # anyone verifies what they hold: the JSON, the PDF (as it is, or uploaded), the QR code's payload
    answers = {
        "json": await _verify(inproc, json=document),
        "pdf": await _verify(inproc, content=as_pdf.content, headers={"Content-Type": "application/pdf"}),
        "upload": await _verify(inproc, files={"file": ("result.pdf", as_pdf.content, "application/pdf")}),
        "qr": await _verify(inproc, content=carried.qr.encode(), headers={"Content-Type": "text/plain"}),
        "qr-json": await _verify(inproc, json={"qr": carried.qr}),
    }
    for how, answer in answers.items():
        assert answer["valid"] is True, (how, answer)
        assert answer["failures"] == [], how
        assert {k: answer["checks"][k] for k in ("content", "signature", "certificate", "revocation")} == {
            "content": "OK", "signature": "OK", "certificate": "OK", "revocation": "GOOD"}, how
    assert [answers[k]["source"] for k in answers] == ["json", "pdf", "pdf", "qr", "qr"]
    assert answers["pdf"]["checks"]["qr"] == "OK"
    assert answers["json"]["document"]["documentNumber"] == document["content"]["documentNumber"]

    # one byte of the content changed: the check names it
    raw = as_json.content
    at = raw.index(person.iin.encode()) + 11
    altered = raw[:at] + bytes([ord("0") + (raw[at] - ord("0") + 1) % 10]) + raw[at + 1:]
    answer = await _verify(inproc, content=altered, headers={"Content-Type": "application/json"})
    assert answer["valid"] is False
    assert [f["code"] for f in answer["failures"]] == ["CONTENT_ALTERED"]
    assert answer["checks"]["content"] == "ALTERED"
    forged = dict(document, signature=document["signature"][:-8] + "AAAAAAA=")
    answer = await _verify(inproc, json=forged)
    assert answer["valid"] is False
    assert answer["failures"][0]["code"].startswith("SIGNATURE_")

    # unreadable input is refused with its code, and nothing is looked up
    async with _anonymous(inproc, "portal") as portal:
        refused = [await portal.post("/documents/verify", content=body, headers={"Content-Type": kind})
                   for body, kind in ((b"%PDF-1.7 nope", "application/pdf"), (b"EGOVDOC1:%%", "text/plain"),
                                      (json.dumps({"content": 1}).encode(), "application/json"),
                                      (b"<x/>", "application/xml"))]
    assert [(r.status_code, r.json()["code"]) for r in refused] == [
        (422, "PDF_UNREADABLE"), (422, "QR_PAYLOAD_MALFORMED"), (422, "DOCUMENT_MALFORMED"),
        (415, "DOCUMENT_TYPE_UNSUPPORTED")]

    # ИС МИО prints the same document for its staff (admin here); ИС ЦОН has no visit for it
    number = document["content"]["applicationNumber"]
    assert document["content"]["documentNumber"] != number, "the document has a number of its own"
    async with inproc.client("mio_workstation") as mio:
        printed = await mio.get(f"/applications/{number}/document.pdf")
        elsewhere = next(s for s in (await mio.get("/admin/staff")).json()["staff"] if s["district"] != "zhezkazgan")
        login = (await mio.post("/staff/login", json={"iin": elsewhere["iin"], "password": elsewhere["password"]}))
    async with _anonymous(inproc, "mio_workstation") as mio:
        not_theirs = await mio.get(f"/applications/{number}/document.pdf", headers=bearer(login.json()["token"]))
    assert (not_theirs.status_code, not_theirs.json()["code"]) == (403, "NOT_YOUR_DISTRICT")
    assert printed.status_code == 200, printed.text
    assert read_pdf(printed.content).document.as_json() == document
    async with inproc.client("con_operator") as con:
        missing = await con.get("/visits/no-such-visit/document.pdf")
    assert (missing.status_code, missing.json()["code"]) == (404, "VISIT_NOT_FOUND")



CERTIFICATE = "employment.unemployed-certificate"
REFERRAL = "employment.active-measures-referral"


async def _entered(mio: httpx.AsyncClient, district: str, role: str, request: dict) -> str:
    """A paper application entered by the district's seeded ``role``; its number."""
    member = next(s for s in (await mio.get("/admin/staff")).json()["staff"]
                  if (s["district"], s["role"]) == (district, role))
    login = (await mio.post("/staff/login", json={"iin": member["iin"], "password": member["password"]})).json()
    entered = await mio.post(f"/districts/{district}/applications", headers=bearer(login["token"]),
                             json=request | {"signedBy": "applicant"})
    assert entered.status_code == 201, entered.text
    return entered.json()["number"]


async def _final(mio: httpx.AsyncClient, number: str, *, timeout_s: float = 30.0) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while (application := (await mio.get(f"/applications/{number}")).json())["status"] in ("RECEIVED", "IN_PROGRESS"):
        assert asyncio.get_running_loop().time() < deadline, f"{number} stayed {application['status']}"
        await asyncio.sleep(0.1)
    return application


async def _pdf_text(mio: httpx.AsyncClient, number: str) -> str:
    printed = await mio.get(f"/applications/{number}/document.pdf")
    assert printed.status_code == 200, printed.text
    assert (read_pdf(printed.content).qr or "").startswith(QR_PREFIX), "the QR code holds the signed document itself"
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(printed.content)).pages)


def _staff_name(staff: list[dict], district: str, role: str) -> str:
    member = next(s for s in staff if (s["district"], s["role"]) == (district, role))
    return f"{member['surname']} {member['name']}"


async def test_the_certificate_lists_what_the_register_holds_with_its_own_number_and_officials(inproc: InProcessMesh):
    """003 appendix 5 line by line: a public-works referral ИС МИО issued (in Kokshetau: the register is one) and
    housing assistance noted on the card are listed; the head who signs and the specialist are named."""
    for district in ("kokshetau", "mamlyut"):
        await inproc.set_mode(district, share=0.00001)
    person = await inproc.person(district="mamlyut")
    today = inproc.clock_of("mio_workstation").local_now().date()
    start, end = (today - dt.timedelta(days=60)).isoformat(), (today + dt.timedelta(days=60)).isoformat()
    async with inproc.client("mio_workstation") as mio:
        opened = await mio.post("/admin/districts/mamlyut/register/cards", json={"iin": person.iin,
                                                                                "kind": "unemployed"})
        assert opened.status_code == 201, opened.text
        referral = await _final(mio, await _entered(mio, "kokshetau", "clerk", person.request(
            REFERRAL, referralKind="public-works")))
        assert referral["status"] == "COMPLETED", referral["reason"]
        assistance = {"iin": person.iin, "kind": "housing", "grantedOn": start, "until": end,
                      "decision": "решение № 17"}
        noted = await mio.post("/admin/districts/mamlyut/register/assistance", json=assistance)
        assert noted.status_code == 201, noted.text
        assert [e["kind"] for e in noted.json()["history"]] == ["opened", "measure", "assistance"]
        refused = [await mio.post(f"/admin/districts/{d}/register/assistance", json=assistance | change)
                   for d, change in (("zhezkazgan", {}), ("mamlyut", {"until": (today - dt.timedelta(days=61))
                                                                      .isoformat()}))]
        assert [(r.status_code, r.json()["code"]) for r in refused] == [(404, "CARD_NOT_FOUND"),
                                                                       (422, "ASSISTANCE_PERIOD_INVALID")]
        number = await _entered(mio, "mamlyut", "employee", person.request(
            CERTIFICATE, periodFrom=start, periodTo=end, presentedTo="АО «Казпочта», по месту работы"))
        certificate = await _final(mio, number)
        staff = (await mio.get("/admin/staff")).json()["staff"]
        text = await _pdf_text(mio, number)
        referral_text = await _pdf_text(mio, referral["number"])

    assert certificate["status"] == "COMPLETED", certificate["reason"]
    content = certificate["document"]["content"]
    given = referral["document"]["content"]
    assert re.fullmatch(r"MAM-D-\d{4}-\d{6}", content["documentNumber"]), content["documentNumber"]
    assert re.fullmatch(r"KOK-D-\d{4}-\d{6}", given["documentNumber"]), given["documentNumber"]
    assert (content["applicationNumber"], given["applicationNumber"]) == (number, referral["number"])
    assert content["documentNumber"] != number
    assert content["documentKind"] == "certificate"
    assert content["title"] == "Справка о регистрации в качестве безработного"
    assert content["issuer"] == "Государственное учреждение «Отдел занятости и социальных программ Мамлютского района»"
    assert content["registeredUnemployedSince"] == today.isoformat()
    assert content["publicWorks"] == [{"referralKind": "public-works", "documentNumber": given["documentNumber"],
                                       "date": given["date"]}]
    assert content["training"] == []
    assert content["assistance"] == [{"kind": "housing", "from": start, "to": end, "decision": "решение № 17"}]
    assert (content["validUntil"], content["presentedTo"]) == (end, "АО «Казпочта», по месту работы")
    received = dt.datetime.fromisoformat(certificate["receivedAt"]).astimezone(KZ_TZ).date()
    assert content["applicationDate"] == received.isoformat()
    employee = _staff_name(staff, "mamlyut", "employee")
    assert (content["signer"]["name"], content["signer"]["position"]) == (employee, "Сотрудник МИО")
    assert content["signer"]["iin"] == certificate["signerIin"], "named is who signed"
    assert content["specialist"]["name"] == employee, "Mamlyut's one employee prepares and signs"

    assert (given["title"], given["titleKk"]) == ("Направление на общественные работы", "Қоғамдық жұмыстарға жолдама")
    assert given["issuer"] == "ГУ «Отдел занятости и социальных программ города Кокшетау»"
    assert (given["signer"]["name"], given["signer"]["position"]) == (_staff_name(staff, "kokshetau", "head"),
                                                                      "Руководитель")
    assert "НАПРАВЛЕНИЕ НА ОБЩЕСТВЕННЫЕ РАБОТЫ" in referral_text
    assert "ҚОҒАМДЫҚ ЖҰМЫСТАРҒА ЖОЛДАМА" in referral_text
    assert _staff_name(staff, "kokshetau", "head") in referral_text

    flat = " ".join(text.split())  # table cells wrap: compare without line breaks
    for label in ("Қоғамдық, әлеуметтік жұмыстарға қатысуы", "Участие в общественных, социальных работах",
                  "Назначен(а) адресная социальная помощь, жилищная помощь", "Справка дана для предъявления",
                  "Бөлім бастығы / Начальник отдела", "Маман / Специалист",
                  "Дата подачи заявления на получение справки",
                  "Анықтаманы алуға өтініш берілген күні", "«О занятости населения»", "ЖҰМЫССЫЗ РЕТІНДЕ ТІРКЕУ"):
        assert label in flat, label
    for value in (content["documentNumber"], given["documentNumber"], "тұрғын үй көмегі / жилищная помощь",
                  "АО «Казпочта», по месту работы", employee, dt.date.fromisoformat(end).strftime("%d.%m.%Y")):
        assert value in flat, value


async def test_a_refusal_is_seed_003s_letter_with_its_reason_and_own_number(inproc: InProcessMesh):
    await inproc.set_mode("mamlyut", share=0.00001)
    person = await inproc.person(district="mamlyut")  # no card in «Еңбек нарығы»: refused
    async with inproc.client("mio_workstation") as mio:
        number = await _entered(mio, "mamlyut", "employee", person.request(
            CERTIFICATE, periodFrom="2026-01-01", periodTo="2026-02-01"))
        refused = await _final(mio, number)
        text = " ".join((await _pdf_text(mio, number)).split())
    assert refused["status"] == "REFUSED"
    content = refused["document"]["content"]
    assert content["text"] == "Доводим до Вашего сведения, что Вам отказано в предоставлении справки безработного."
    assert (content["reason"], content["documentKind"]) == (refused["reason"], "refusal")
    assert content["documentNumber"].startswith("MAM-D-")
    assert content["applicationNumber"] == number
    assert content["text"] in text
    assert f"Бас тарту себебі / Причина отказа: {refused['reason']}" in text
    assert "Сізге жұмыссыз анықтамасын беруден бас тартылғанын хабарлаймыз." in text

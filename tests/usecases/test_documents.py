"""Result documents: the citizen downloads their signed result as JSON and as a PDF; anyone verifies it at the portal
(JSON, PDF, QR payload) without the portal looking anything up; a changed byte is named; nobody else downloads it."""

from __future__ import annotations

import asyncio
import json

import httpx

from shared.documents import read_pdf
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
    number = document["content"]["documentNumber"]
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


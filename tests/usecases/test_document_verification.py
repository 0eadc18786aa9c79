"""Issue 17: a result document verifies only when it means what it says. The forgeries the issue measured — a citizen's
real notice changed and re-signed by another organisation's representative, by a ЦОН operator, by a citizen; content
back-dated into an expired certificate's validity; a certificate revoked and then expired — are each refused with
their reason; the genuine result of every regulation file, through its own channel (portal, МИО office, ЦОН, and the
notice the State Corporation forms), verifies by its JSON, its PDF and its QR code.

The whole mesh in process (tests/support/inprocess.py): the forger's certificates are real НУЦ certificates, the
documents real ones downloaded from the portal, ИС МИО and ИС ЦОН.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from meshkit.sdk import new_bin
from shared.clock import KZ_TZ
from shared.employment.documents import SignedResult, read_pdf, render_pdf
from shared.employment.regulations import Action, Regulation, RegulationBook
from shared.ids import make_iin
from shared.pki.canonical import canonical_bytes
from shared.pki.signing import SignerIdentity, sign_json
from tests.support.inprocess import InProcessMesh, url
from tests.usecases.helpers import apply, bearer, final_case
from tests.usecases.test_centre import operator, served, settled

BOOK = RegulationBook.load()
PERIOD = {"periodFrom": "2026-01-01", "periodTo": "2026-06-30"}


async def _verify(mesh: InProcessMesh, *, address: str = "192.0.2.17", **request: Any) -> dict[str, Any]:
    """Anyone's check at the portal, from ``address`` (each address has its own anonymous allowance a minute)."""
    transport = httpx.ASGITransport(app=mesh.app("portal"), client=(address, 40017))
    async with httpx.AsyncClient(transport=transport, base_url=url("portal"), timeout=30) as portal:
        reply = await portal.post("/documents/verify", **request)
    assert reply.status_code == 200, reply.text
    return reply.json()


def _codes(answer: dict[str, Any]) -> list[str]:
    return sorted(f["code"] for f in answer["failures"])


async def _employee(mesh: InProcessMesh, *, iin: str, surname: str, name: str, organisation: str, bin_: str,
                    role: str, kind: str | None = None) -> tuple[SignerIdentity, dict[str, Any]]:
    """НУЦ's signing certificate of an organisation's employee (``kind="expired"``: one that ended yesterday)."""
    body = {"iin": iin, "surname": surname, "name": name, "organisation": organisation, "bin": bin_, "role": role,
            "pkcs12Password": "forger-secret"}
    async with mesh.client("nuc_pki") as nuc:
        reply = await (nuc.post("/test/certificates", json=body | {"kind": kind, "holder": "employee"}) if kind
                       else nuc.post("/certificates/employee", json=body))
    assert reply.status_code == 201, reply.text
    signing = reply.json()["signing"]
    return SignerIdentity.from_pkcs12(data=base64.b64decode(signing["pkcs12Base64"]),
                                      password="forger-secret"), signing


async def _revoke(mesh: InProcessMesh, serial: str, reason: str) -> None:
    async with mesh.client("nuc_pki") as nuc:
        reply = await nuc.post(f"/certificates/{serial}/revoke", json={"reason": reason})
    assert reply.status_code == 200, reply.text


async def _verified_until(mesh: InProcessMesh, document: dict[str, Any], *, revocation: str,
                          timeout_s: float = 10.0) -> dict[str, Any]:
    """The verification once the portal's OCSP answer says ``revocation`` (answers are cached half a second)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while (answer := await _verify(mesh, address="192.0.2.18", json=document))["checks"]["revocation"] != revocation:
        assert asyncio.get_running_loop().time() < deadline, answer
        await asyncio.sleep(0.1)
    return answer


async def _members(mesh: InProcessMesh) -> dict[str, dict[str, Any]]:
    async with mesh.client("shep_gateway") as gateway:
        return {m["id"]: m for m in (await gateway.get("/members")).json()["members"]}


async def _genuine(mesh: InProcessMesh) -> dict[str, Any]:
    """A citizen's real notice of registration as a job seeker (Zhezkazgan, through the portal)."""
    await mesh.set_mode("zhezkazgan", share=0.00001)
    person = await mesh.person(district="zhezkazgan")
    token = await mesh.citizen_session(person)
    sent = await apply(mesh, person, token)
    assert (await final_case(mesh, person, token, sent["correlationId"]))["status"] == "COMPLETED"
    path = f"/citizens/{person.iin}/applications/{sent['correlationId']}/document"
    async with mesh.client("portal") as portal:
        return (await portal.get(path, headers=bearer(token))).json()


async def test_forged_results_are_refused_each_with_its_reason(inproc: InProcessMesh):
    """The issue's forgery: the notice with another applicant, IIN, number and date, re-signed with the EDS of an
    unrelated «ТОО» representative, of a ЦОН operator, of a citizen — whether it still names the МИО as issuer and its
    official as signer, or names the forger's own organisation and the forger."""
    document = await _genuine(inproc)
    genuine = await _verify(inproc, json=document)
    assert genuine["valid"] is True, genuine
    assert {k: genuine["checks"][k] for k in ("issuer", "signer", "signingTime", "certificate", "revocation")} == {
        "issuer": "OK", "signer": "OK", "signingTime": "OK", "certificate": "OK", "revocation": "GOOD"}
    content = document["content"]
    assert (content["issuerBin"], content["regulationId"]) == (
        (await _members(inproc))["mio.zhezkazgan"]["bin"], "zhezkazgan.job-seeker-registration.portal")
    now = inproc.clock_of("portal").now()
    other = await inproc.person(district="zhezkazgan")
    changed = content | {"applicant": f"{other.surname} {other.name}", "applicantIin": other.iin,
                         "documentNumber": "ZHZ-D-2026-999999", "date": now.astimezone(KZ_TZ).date().isoformat()}

    stranger = await inproc.person(district="almaty")
    printing, printing_cert = await _employee(inproc, iin=stranger.iin, surname=stranger.surname, name=stranger.name,
                                              organisation="ТОО «Печать»", bin_=new_bin(), role="head")
    desk = await operator(inproc, "zhezkazgan")
    centre = SignerIdentity.from_pkcs12(data=base64.b64decode(desk.account["signingP12Base64"]),
                                        password=desk.account["pkcs12Password"])
    citizen = await inproc.person(district="zhezkazgan")
    centre_bin = (await _members(inproc))["con"]["bin"]

    def as_signer(who: dict[str, Any]) -> dict[str, Any]:
        return {"name": f"{who['surname']} {who['name']}", "position": "Директор", "iin": who["iin"]}

    attempts = {
        "ТОО representative, the МИО named": (changed, printing),
        "ТОО representative, naming itself": (changed | {"issuer": "ТОО «Печать»", "issuerBin": printing_cert["bin"],
                                                         "signer": as_signer(vars(stranger))}, printing),
        "ЦОН operator, the МИО named": (changed | {"signer": as_signer(desk.account)}, centre),
        "ЦОН operator, the State Corporation named": (changed | {"issuerBin": centre_bin,
                                                                 "signer": as_signer(desk.account)}, centre),
        "citizen": (changed | {"signer": as_signer(vars(citizen))}, citizen.signing),
    }
    answers = {what: await _verify(inproc, json={"content": forged, "signature": sign_json(
        value=forged, signer=signer, at=now)}) for what, (forged, signer) in attempts.items()}
    assert {what: _codes(a) for what, a in answers.items()} == {
        "ТОО representative, the МИО named": ["SIGNER_MISMATCH", "SIGNER_MISMATCH", "SIGNER_NOT_OF_ISSUER"],
        "ТОО representative, naming itself": ["ISSUER_UNKNOWN"],
        "ЦОН operator, the МИО named": ["SIGNER_NOT_OF_ISSUER", "SIGNER_ROLE_NOT_ENTITLED"],
        "ЦОН operator, the State Corporation named": ["ISSUER_NOT_FOR_REGULATION"],
        "citizen": ["SIGNER_NOT_AN_OFFICIAL"],
    }
    for what, answer in answers.items():
        assert answer["valid"] is False, what
        assert answer["checks"]["content"] == answer["checks"]["signature"] == "OK", what
        assert answer["checks"]["revocation"] == "GOOD", "each certificate is itself in order"
    assert answers["ТОО representative, the МИО named"]["signer"]["organisation"] == "ТОО «Печать»"

    # the same forgery as a PDF (its QR code the forged document's own): refused as well, the QR code matching
    forged = SignedResult(content=attempts["ТОО representative, the МИО named"][0],
                          signature=sign_json(value=attempts["ТОО representative, the МИО named"][0], signer=printing,
                                              at=now))
    as_pdf = await _verify(inproc, content=render_pdf(forged), headers={"Content-Type": "application/pdf"})
    assert (as_pdf["valid"], as_pdf["checks"]["qr"], _codes(as_pdf)) == (
        False, "OK", ["SIGNER_MISMATCH", "SIGNER_MISMATCH", "SIGNER_NOT_OF_ISSUER"])
    qr = await _verify(inproc, content=read_pdf(render_pdf(forged)).qr.encode(), headers={"Content-Type": "text/plain"})
    assert _codes(qr) == _codes(as_pdf)


async def test_backdated_content_and_a_revoked_then_expired_certificate_are_refused(inproc: InProcessMesh):
    """An official's certificate that ended yesterday: signing today a content dated within its validity is refused
    at the CMS signingTime; a document it signed while valid holds until the certificate is revoked for key
    compromise — then it is refused though the certificate has long expired; one whose holder left (affiliationChanged,
    after signing) keeps its documents valid."""
    document = await _genuine(inproc)
    content = document["content"]
    mio_bin = (await _members(inproc))["mio.zhezkazgan"]["bin"]
    now = inproc.clock_of("portal").now()

    async def official(serial: int) -> tuple[SignerIdentity, dict[str, Any], dict[str, Any]]:
        iin = make_iin(birth_date=dt.date(1980, 1, 1 + serial), sex="M", serial=9800 + serial)
        assert iin is not None
        signer, cert = await _employee(inproc, iin=iin, surname="Жаксылыков", name="Марат", bin_=mio_bin, role="head",
                                       organisation="ГУ «Отдел занятости и социальных программ города Жезказгана»",
                                       kind="expired")
        return signer, cert, {"name": "Жаксылыков Марат", "position": "Руководитель", "iin": iin}

    def signed(signer: SignerIdentity, named: dict[str, Any], *, at: dt.datetime, dated: dt.datetime) -> dict[str, Any]:
        forged = content | {"signer": named, "date": dated.astimezone(KZ_TZ).date().isoformat()}
        return {"content": forged, "signature": sign_json(value=forged, signer=signer, at=at)}

    late, late_cert, late_named = await official(1)
    # while it was valid and НУЦ's issuing CA already was (this mesh's CA began a day before the mesh started)
    async with inproc.client("nuc_pki") as nuc:
        issuing = x509.load_pem_x509_certificate((await nuc.get("/ca/issuing.pem")).content)
    ended = dt.datetime.fromisoformat(late_cert["notAfter"])
    while_valid = issuing.not_valid_before_utc + (ended - issuing.not_valid_before_utc) / 2
    assert issuing.not_valid_before_utc + dt.timedelta(seconds=1) < while_valid < ended
    answer = await _verify(inproc, json=signed(late, late_named, at=now, dated=while_valid))
    assert (answer["valid"], _codes(answer)) == (False, ["CERTIFICATE_EXPIRED_AT_SIGNING"]), answer
    assert answer["signedAt"] == now.replace(microsecond=0).isoformat(), "the signature's own time is judged"

    compromised, compromised_cert, compromised_named = await official(2)
    earlier = signed(compromised, compromised_named, at=while_valid, dated=while_valid)
    before = await _verify(inproc, json=earlier)
    assert before["valid"] is True, before["failures"]  # signed while valid: nothing says otherwise yet
    await _revoke(inproc, compromised_cert["serial"], "keyCompromise")
    after = await _verified_until(inproc, earlier, revocation="REVOKED")
    assert (after["valid"], _codes(after)) == (False, ["CERTIFICATE_REVOKED"]), after
    assert after["failures"][0]["reason"] == "keyCompromise"
    assert after["failures"][0]["revokedAt"]

    left, left_cert, left_named = await official(3)
    kept = signed(left, left_named, at=while_valid, dated=while_valid)
    await _revoke(inproc, left_cert["serial"], "affiliationChanged")
    still = await _verified_until(inproc, kept, revocation="REVOKED_AFTER_SIGNING")
    assert (still["valid"], still["failures"]) == (True, []), still
    assert still["revocation"]["reason"] == "affiliationChanged"


# ---- every regulation, through its own channel, by JSON, PDF and QR ---------------------------------------------
def _fields(regulation: Regulation) -> tuple[dict[str, Any], str | None]:
    """What the form needs, and the «Еңбек нарығы» card the person must hold, for an approval."""
    service = regulation.service
    if service == "employment.unemployed-certificate":
        return PERIOD, "unemployed"
    if service == "employment.active-measures-referral":
        return {"referralKind": (regulation.referral_kinds or ("public-works",))[0]}, "unemployed"
    if service == "employment.unemployed-registration":
        return {}, "job_seeker"
    return {}, None


async def _result_of(mesh: InProcessMesh, regulation: Regulation) -> list[tuple[str, dict[str, Any], bytes]]:
    """The signed results one approval under ``regulation`` yields, each with its PDF as its issuer prints it."""
    district = regulation.districts[0]
    fields, card = _fields(regulation)
    person = await mesh.person(district=district)
    if card:
        async with mesh.client("mio_workstation") as mio:
            (await mio.post(f"/admin/districts/{district}/register/cards", json={"iin": person.iin, "kind": card})
             ).raise_for_status()
    async with mesh.client("mio_workstation") as mio:
        if regulation.channel == "portal":
            token = await mesh.citizen_session(person)
            sent = await apply(mesh, person, token, regulation.service, **fields)
            case = await final_case(mesh, person, token, sent["correlationId"])
            number = case["applicationNumber"]
        elif regulation.channel == "office":
            role = regulation.step_doing(Action.ACCEPT).role
            member = next(s for s in (await mio.get("/admin/staff")).json()["staff"]
                          if (s["district"], s["role"]) == (district, role))
            login = (await mio.post("/staff/login", json={"iin": member["iin"], "password": member["password"]}))
            entered = await mio.post(f"/districts/{district}/applications", headers=bearer(login.json()["token"]),
                                     json=person.request(regulation.service, **fields) | {"signedBy": "applicant"})
            assert entered.status_code == 201, entered.text
            number = entered.json()["number"]
        else:
            async with mesh.client("con_operator") as con:
                branch = next(b["id"] for b in (await con.get("/branches")).json()["branches"]
                              if b["district"] == district)
            desk = await operator(mesh, branch)
            serving = await served(mesh, desk, regulation.service)
            visit = await desk.ok(f"/tickets/{serving['id']}/intake", {"iin": person.iin, **fields})
            assert (await desk.sign_and_send(visit)).status_code == 200
            visit = await settled(mesh, visit["id"])
            number = visit["applicationNumber"]
        deadline = asyncio.get_running_loop().time() + 30
        while (application := (await mio.get(f"/applications/{number}")).json())["status"] in ("RECEIVED",
                                                                                            "IN_PROGRESS"):
            assert asyncio.get_running_loop().time() < deadline, application
            await asyncio.sleep(0.1)
        assert application["status"] == "COMPLETED", (regulation.id, application.get("reason"))
        out = [(f"{regulation.id} (ИС МИО)", application["document"],
                (await mio.get(f"/applications/{number}/document.pdf")).content)]
    if regulation.centre is not None and regulation.centre.forms_result:
        draft = (await desk.ok(f"/visits/{visit['id']}/result/draft"))["content"]
        await desk.ok(f"/visits/{visit['id']}/result", {"signature": sign_json(
            value=draft, signer=desk.signer, at=mesh.clock_of("con_operator").now())})
        async with mesh.client("con_operator") as con:
            formed = (await con.get(f"/visits/{visit['id']}")).json()["result"]
            pdf = (await con.get(f"/visits/{visit['id']}/document.pdf")).content
        out.append((f"{regulation.id} (formed by the State Corporation)",
                    {"content": formed["content"], "signature": formed["signature"]}, pdf))
    return out


async def test_the_genuine_result_of_every_regulation_verifies_by_json_pdf_and_qr(inproc: InProcessMesh):
    for district in BOOK.districts:
        await inproc.set_mode(district, share=0.000001)
    few = asyncio.Semaphore(4)  # a few at a time: the in-process mesh answers ГБД ФЛ look-ups within a second

    async def one(regulation: Regulation) -> list[tuple[str, dict[str, Any], bytes]]:
        async with few:
            return await _result_of(inproc, regulation)

    results = [r for batch in await asyncio.gather(*map(one, BOOK.all.values())) for r in batch]
    assert len(results) == len(BOOK.all) + sum(1 for r in BOOK.all.values() if r.centre and r.centre.forms_result)
    for n, (what, document, pdf) in enumerate(results):
        qr = read_pdf(pdf).qr
        assert qr is not None, what
        address = f"198.51.100.{n + 1}"  # whoever holds each document checks it
        answers = {"json": await _verify(inproc, address=address, json=document),
                   "pdf": await _verify(inproc, address=address, content=pdf,
                                        headers={"Content-Type": "application/pdf"}),
                   "qr": await _verify(inproc, address=address, content=qr.encode(),
                                       headers={"Content-Type": "text/plain"})}
        for how, answer in answers.items():
            assert (answer["valid"], answer["failures"]) == (True, []), (what, how, answer)
            assert {k: v for k, v in answer["checks"].items() if k != "qr"} == {
                "content": "OK", "signature": "OK", "issuer": "OK", "signer": "OK", "signingTime": "OK",
                "certificate": "OK", "revocation": "GOOD"}, (what, how)
        assert answers["pdf"]["checks"]["qr"] == "OK", what


async def test_a_document_that_does_not_say_who_issued_it_or_when_it_was_signed_is_refused(inproc: InProcessMesh):
    """Signed by an official the МИО's BIN and role entitle (a certificate НУЦ issued for it), yet: a content without
    issuerBin and regulationId, as results were before issue 17, cannot be held to an issuer; a signature without
    signed attributes (a tool's «-noattr») carries no signingTime — each refused with its own code."""
    document = await _genuine(inproc)
    mio_bin = (await _members(inproc))["mio.zhezkazgan"]["bin"]
    iin = make_iin(birth_date=dt.date(1979, 5, 5), sex="F", serial=9810)
    assert iin is not None
    head, _ = await _employee(inproc, iin=iin, surname="Мусина", name="Динара", bin_=mio_bin, role="head",
                              organisation="ГУ «Отдел занятости и социальных программ города Жезказгана»")
    content = document["content"] | {"signer": {"name": "Мусина Динара", "position": "Руководитель", "iin": iin}}
    now = inproc.clock_of("portal").now()
    fine = await _verify(inproc, json={"content": content, "signature": sign_json(value=content, signer=head, at=now)})
    assert (fine["valid"], fine["failures"]) == (True, []), fine

    unnamed = {k: v for k, v in content.items() if k not in ("issuerBin", "regulationId")}
    answer = await _verify(inproc, json={"content": unnamed, "signature": sign_json(value=unnamed, signer=head,
                                                                                    at=now)})
    assert (_codes(answer), answer["checks"]["issuer"]) == (["ISSUER_NOT_NAMED"], "NOT_NAMED"), answer

    bare = (pkcs7.PKCS7SignatureBuilder().set_data(canonical_bytes(content))
            .add_signer(head.certificate, head.key, hashes.SHA256())
            .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary,
                                               pkcs7.PKCS7Options.NoAttributes]))
    answer = await _verify(inproc, json={"content": content, "signature": base64.b64encode(bare).decode()})
    assert (_codes(answer), answer["checks"]["signingTime"]) == (["SIGNING_TIME_MISSING"], "MISSING"), answer

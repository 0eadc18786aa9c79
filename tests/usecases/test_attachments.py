"""Electronic copies of documents and the provider's document check (seed 000 condition 3 / process 6, seed 004
п. 11 condition 2 / process 5): the copies the signed form names travel with it through the gateway and are kept
by the portal and ИС МИО; a copy that is not the one signed, of a type or size not allowed, or missing is refused
at the portal with its own code and nothing is kept; an application without the Standard's identity document, or
with an expired one, ends with the seed's motivated refusal — signed — in auto mode.

Before: the form named documents by digest and nothing read them; no application was ever refused over them."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib

from meshkit.load import Person
from meshkit.sdk import attachments_for, document_copy, identity_document
from services.mio_workstation.usecases.receiving import copy_problems
from shared.employment.forms import document_problems
from shared.mesh.contracts import MAX_COPIES_BYTES, MAX_DOCUMENT_BYTES, ApplicationForm, ApplicationRequest
from shared.pki.signing import SignerIdentity, sign_json
from tests.support.inprocess import InProcessMesh
from tests.usecases.helpers import apply, bearer, final_case

JOB_SEEKER = "employment.job-seeker-registration"


def _signed(person: Person, form: dict, attachments: list[dict]) -> dict:
    return {"form": form, "formSignature": sign_json(value=form, signer=person.signing), "attachments": attachments}


async def test_the_copies_travel_with_the_application_and_each_side_keeps_its_own(inproc: InProcessMesh):
    await inproc.set_mode("zhezkazgan", share=0.00001)
    person, stranger = await asyncio.gather(*(inproc.person(district="zhezkazgan") for _ in range(2)))
    token, stranger_token = await asyncio.gather(inproc.citizen_session(person), inproc.citizen_session(stranger))
    education = document_copy(kind="education", name="diplom.pdf", lines=["DIPLOMA (synthetic)", person.iin])
    sent = await apply(inproc, person, token, documents=[identity_document(iin=person.iin), education])
    done = await final_case(inproc, person, token, sent["correlationId"])
    assert done["status"] == "COMPLETED", done
    async with inproc.client("mio_workstation") as mio:
        app = (await mio.get(f"/applications/{done['applicationNumber']}")).json()
        assert app["documentCheck"] == []
        kept = {d["sha256"]: (await mio.get(f"/applications/{app['number']}/documents/{d['sha256']}"))
                for d in app["form"]["documents"]}
        other = await mio.get(f"/applications/{app['number']}/documents/{'0' * 64}")
    assert [d["kind"] for d in app["form"]["documents"]] == ["identity-document", "education"]
    for sha, reply in kept.items():
        assert reply.status_code == 200
        assert hashlib.sha256(reply.content).hexdigest() == sha
    assert (other.status_code, other.json()["code"]) == (404, "DOCUMENT_COPY_NOT_FOUND")
    async with inproc.client("portal") as portal:
        mine = await portal.get(f"/citizens/{person.iin}/documents/{education['sha256']}", headers=bearer(token))
        through_theirs = await portal.get(f"/citizens/{stranger.iin}/documents/{education['sha256']}",
                                          headers=bearer(stranger_token))
        not_theirs = await portal.get(f"/citizens/{person.iin}/documents/{education['sha256']}",
                                      headers=bearer(stranger_token))
    assert mine.status_code == 200
    assert hashlib.sha256(mine.content).hexdigest() == education["sha256"]
    assert (through_theirs.status_code, through_theirs.json()["code"]) == (404, "DOCUMENT_COPY_NOT_FOUND")
    assert (not_theirs.status_code, not_theirs.json()["code"]) == (403, "NOT_YOUR_DATA")


async def test_copies_that_are_not_the_signed_ones_are_refused_at_the_portal_and_nothing_is_kept(
        inproc: InProcessMesh):
    person = await inproc.person(district="zhezkazgan")
    token = await inproc.citizen_session(person)
    good = person.request(JOB_SEEKER)
    other = document_copy(kind="other", name="x.pdf", lines=["not on the form"])
    tampered_form = dict(good["form"]) | {"documents": [dict(good["form"]["documents"][0]) | {"kind": "other"}]}
    big = base64.b64encode(b"%PDF" + b"0" * MAX_DOCUMENT_BYTES).decode()
    no_date = dict(good["form"]) | {"documents": [{k: v for k, v in good["form"]["documents"][0].items()
                                                   if k != "validUntil"}]}
    cases = {
        "no copy of a named document": (good | {"attachments": []}, 422, "ATTACHMENT_MISSING"),
        "a copy the form does not name": (good | {"attachments": good["attachments"] + attachments_for(
            {"documents": [other]})}, 422, "ATTACHMENT_NOT_SIGNED"),
        "another copy than the one signed": (good | {"attachments": attachments_for({"documents": [other]})},
                                             422, "ATTACHMENT_MISSING"),
        "a type not allowed": (good | {"attachments": [{"contentType": "text/html", "contentBase64": "PGI+"}]},
                               415, "ATTACHMENT_TYPE_NOT_ALLOWED"),
        "too large": (good | {"attachments": [{"contentType": "application/pdf", "contentBase64": big}]},
                      413, "ATTACHMENT_TOO_LARGE"),
        "not base64": (good | {"attachments": [{"contentType": "application/pdf", "contentBase64": "%%%"}]},
                       422, "ATTACHMENT_NOT_BASE64"),
        "the same copy twice": (good | {"attachments": good["attachments"] * 2}, 422, "ATTACHMENT_DUPLICATE"),
        "more than one message holds": (good | {"attachments": [
            {"contentType": "application/pdf", "contentBase64": base64.b64encode(b"%PDF" + bytes([n]) * (
                MAX_COPIES_BYTES // 2 + 1024)).decode()} for n in range(2)]}, 413, "ATTACHMENTS_TOO_LARGE"),
        "an identity document without its end of validity": (_signed(person, no_date, good["attachments"]), 422,
                                                             "REQUEST_INVALID"),
        "the form's documents changed after signing": (good | {"form": tampered_form}, 401,
                                                       "EDS_SIGNATURE_INVALID"),
    }
    async with inproc.client("portal") as portal:
        for what, (body, status, code) in cases.items():
            reply = await portal.post(f"/citizens/{person.iin}/applications", json=body, headers=bearer(token))
            assert (reply.status_code, reply.json().get("code")) == (status, code), (what, reply.text[:300])
        history = (await portal.get(f"/citizens/{person.iin}/applications", headers=bearer(token))).json()
        kept = await portal.get(f"/citizens/{person.iin}/documents/{good['form']['documents'][0]['sha256']}",
                                headers=bearer(token))
    assert history["applications"] == [], "nothing sent"
    assert kept.status_code == 404, "no copy kept"
    async with inproc.client("portal") as portal:
        huge = await portal.post(f"/citizens/{person.iin}/applications", content=b"{" + b" " * (6 * 1024 * 1024),
                                 headers=bearer(token) | {"Content-Type": "application/json"})
    assert (huge.status_code, huge.json()["code"]) == (413, "REQUEST_TOO_LARGE"), "refused before it is read"


async def test_a_missing_or_expired_identity_document_ends_in_the_seeds_signed_refusal(inproc: InProcessMesh):
    await inproc.set_mode("zhezkazgan", share=0.00001)
    without, expired = await asyncio.gather(*(inproc.person(district="zhezkazgan") for _ in range(2)))
    tokens = await asyncio.gather(inproc.citizen_session(without), inproc.citizen_session(expired))
    sent = [await apply(inproc, without, tokens[0], documents=[]),
            await apply(inproc, expired, tokens[1], documents=[identity_document(
                iin=expired.iin, valid_until="2024-01-31", number="012345678")])]
    done = [await final_case(inproc, p, t, s["correlationId"]) for p, t, s in zip((without, expired), tokens, sent,
                                                                                   strict=True)]
    assert [d["status"] for d in done] == ["REFUSED", "REFUSED"], done
    assert done[0]["refusalReason"].startswith("Не представлены документы, предусмотренные пунктом 9 Стандарта")
    assert "документ, удостоверяющий личность" in done[0]["refusalReason"]
    assert done[1]["refusalReason"] == "Срок действия документа, удостоверяющего личность № 012345678, истёк 2024-01-31"
    async with inproc.client("portal") as portal:
        letter = await portal.get(f"/citizens/{without.iin}/applications/{sent[0]['correlationId']}/document",
                                  headers=bearer(tokens[0]))
    assert letter.status_code == 200, letter.text
    assert letter.json()["content"]["result"] == "refused"
    assert letter.json()["signature"]
    async with inproc.client("mio_workstation") as mio:
        app = (await mio.get(f"/applications/{done[1]['applicationNumber']}")).json()
    assert app["documentCheck"] == [done[1]["refusalReason"]], "what staff see in manual mode is what auto mode refused"


def test_ims_mio_takes_only_copies_that_are_the_signed_ones():
    """ИС МИО's own check of what came through the gateway (the portal's and ИС ЦОН's are not relied on)."""
    card = identity_document(iin="900101300123")
    form = {"serviceId": JOB_SEEKER, "applicantIin": "900101300123", "surname": "A", "name": "B",
            "filledAt": "2026-11-30T10:00:00+00:00", "documents": [card]}
    request = ApplicationRequest(form=ApplicationForm.model_validate(form), form_signature="x",
                                 signed_by="applicant", attachments=attachments_for(form))
    assert copy_problems(form, request, content_required=True) == []
    bare = request.model_copy(update={"attachments": []})
    assert copy_problems(form, bare, content_required=False) == [], "the office: the paper is at the desk"
    [missing] = copy_problems(form, bare, content_required=True)
    assert "was not given" in missing
    swapped = ApplicationRequest.model_validate({
        "form": form, "formSignature": "x", "signedBy": "applicant", "attachments": [
            {"sha256": card["sha256"], "contentType": "application/pdf",
             "contentBase64": base64.b64encode(b"%PDF swapped").decode()}]})
    [claimed] = copy_problems(form, swapped, content_required=True)
    assert "SHA-256" in claimed


def test_one_valid_identity_document_is_enough_and_an_expired_one_is_named():
    """The document check: a required document missing, or every identity document expired, is a reason; an
    expired card beside a valid one is not."""
    expired = {"kind": "identity-document", "sha256": "a" * 64, "name": "old", "validUntil": "2020-01-01",
               "number": "011111111"}
    valid = expired | {"sha256": "b" * 64, "validUntil": "2030-01-01", "number": "022222222"}
    form = {"serviceId": JOB_SEEKER}
    on = dt.date(2026, 11, 30)
    assert document_problems(form | {"documents": [expired, valid]}, on=on) == []
    assert document_problems(form | {"documents": [expired]}, on=on) == [
        "Срок действия документа, удостоверяющего личность № 011111111, истёк 2020-01-01"]
    [missing] = document_problems(form | {"documents": [expired | {"kind": "education"}]}, on=on)
    assert missing.endswith("документ, удостоверяющий личность (или его электронная копия)")


async def test_in_manual_mode_staff_see_the_document_check_and_refuse_with_it(inproc: InProcessMesh):
    """Manual mode: nothing is decided for the staff; the application shows what the document check found, the
    employee refuses with it, signs, issues — and the citizen's cabinet has the refusal and its reason."""
    await inproc.set_mode("mamlyut", mode="manual")
    person = await inproc.person(district="mamlyut")
    token = await inproc.citizen_session(person)
    async with inproc.client("mio_workstation") as mio:
        (await mio.post("/admin/districts/mamlyut/register/cards", json={"iin": person.iin, "kind": "unemployed"})
         ).raise_for_status()
    sent = await apply(inproc, person, token, "employment.unemployed-certificate", periodFrom="2026-01-01",
                       periodTo="2026-06-30", documents=[identity_document(iin=person.iin, valid_until="2025-12-31")])
    async with inproc.client("mio_workstation") as mio:
        member = next(s for s in (await mio.get("/admin/staff")).json()["staff"] if s["district"] == "mamlyut")
        login = (await mio.post("/staff/login", json={"iin": member["iin"], "password": member["password"]})).json()
        headers = bearer(login["token"])
        number = await _number(inproc, person, token, sent["correlationId"])
        seen = (await mio.get(f"/applications/{number}", headers=headers)).json()
        assert seen["status"] == "RECEIVED", "manual mode: nothing done for the staff"
        [reason] = seen["documentCheck"]
        assert reason.startswith("Срок действия документа, удостоверяющего личность"), reason
        for action, body in (("accept", {}), ("decide", {"decision": "refuse", "reason": reason})):
            reply = await mio.post(f"/applications/{number}/actions/{action}", json=body, headers=headers)
            assert reply.status_code == 200, reply.text
        draft = (await mio.get(f"/applications/{number}/draft", headers=headers)).json()
        signer = SignerIdentity.from_pkcs12(data=base64.b64decode(member["signingP12Base64"]),
                                            password=member["pkcs12Password"])
        # a signature stamped a day off the mesh clock would be refused by every verifier later: refused now
        day_off = inproc.clock_of("mio_workstation").now() - dt.timedelta(days=1)
        yesterday = sign_json(value=draft, signer=signer, at=day_off)
        skewed = await mio.post(f"/applications/{number}/actions/sign", json={"signature": yesterday},
                                headers=headers)
        assert (skewed.status_code, skewed.json()["code"]) == (422, "SIGNING_TIME_SKEWED"), skewed.text
        assert (await mio.get(f"/applications/{number}", headers=headers)).json()["signerIin"] is None
        for action, body in (("sign", {"signature": sign_json(value=draft, signer=signer)}), ("issue", {})):
            reply = await mio.post(f"/applications/{number}/actions/{action}", json=body, headers=headers)
            assert reply.status_code == 200, reply.text
    done = await final_case(inproc, person, token, sent["correlationId"])
    assert (done["status"], done["refusalReason"]) == ("REFUSED", reason)


async def _number(mesh: InProcessMesh, person: Person, token: str, correlation_id: str) -> str:
    for _ in range(300):
        async with mesh.client("portal") as portal:
            cases = (await portal.get(f"/citizens/{person.iin}/applications", headers=bearer(token))).json()
        number = next(c["applicationNumber"] for c in cases["applications"] if c["correlationId"] == correlation_id)
        if number:
            return number
        await asyncio.sleep(0.05)
    raise AssertionError("no application number")

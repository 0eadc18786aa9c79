"""Each of the four services from the citizen's login to the signed result in their cabinet, on real processes
and RabbitMQ with ИС МИО in auto mode: one approval and two refusals on different grounds — one of them the
provider's document check (seed 000 condition 3 / process 6, seed 004 п. 11) — each with its status sequence,
its signed document downloaded from «История получения услуг», and that document verified by the portal's
public endpoint and by `openssl cms -verify`, where one altered byte fails both.

Before: no test carried a refusal to its end; nothing read the documents an application named."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pypdf
import pytest
import zxingcpp
from pypdfium2 import PdfDocument
from typer.testing import CliRunner

from meshkit import cli
from meshkit.sdk import Citizen, Mesh, identity_document
from shared.employment.documents import decode_qr
from shared.pki.canonical import canonical_bytes
from tests.support.mesh import MeshHandle
from tests.support.mio import until
from tests.support.openssl import cms_verify

JOB_SEEKER = "employment.job-seeker-registration"
UNEMPLOYED = "employment.unemployed-registration"
REFERRAL = "employment.active-measures-referral"
CERTIFICATE = "employment.unemployed-certificate"
SHARE = 0.00001  # simulated staff take this share of each step's maximum: a case is decided in about a second
FINAL = ("COMPLETED", "REFUSED", "NOT_ACCEPTED", "FAILED")
NO_IDENTITY = "Не представлены документы, предусмотренные пунктом 9 Стандарта"
EXPIRED = "Срок действия документа, удостоверяющего личность"


@pytest.fixture(scope="module")
def kit(mesh: MeshHandle) -> Iterator[Mesh]:
    with mesh.kit() as kit:
        for district in ("zhezkazgan", "kyzylorda", "mamlyut"):
            kit.set_mode(district, "auto", auto_share=SHARE)
        yield kit


@dataclass
class Outcome:
    """One application of the test: who, what, how it is sent, and what must come of it."""

    label: str
    district: str
    status: str
    reason: str | None = None  # the start of the refusal reason
    fields: dict[str, Any] = field(default_factory=dict)
    expired_identity: bool = False
    card: str | None = None  # «Еңбек нарығы» card the person holds before applying
    employed: bool | None = None


def _expired(citizen: Citizen) -> list[dict[str, Any]]:
    return [identity_document(iin=citizen.iin, valid_until="2025-06-30", number="045678901")]


def _apply(kit: Mesh, service: str, outcome: Outcome, *, office_role: str | None) -> tuple[Citizen, str]:
    """The citizen (logged in to the portal) applies — through the portal, or at the office where the clerk
    enters their signed paper application; returns the citizen and the application's number."""
    citizen = kit.new_citizen(district=outcome.district, min_age=25, max_age=50,
                              jobless=None if outcome.employed else True, employed=outcome.employed)
    if outcome.card:
        kit.open_card(outcome.district, citizen.iin, kind=outcome.card)
    fields = dict(outcome.fields) | ({"documents": _expired(citizen)} if outcome.expired_identity else {})
    request = citizen.signed_request(service, **fields)
    session = kit.login(citizen.iin, citizen.password or "")
    if office_role is None:
        sent = session.apply(request)
        case = until(lambda: next(c for c in session.applications() if c["correlationId"] == sent["correlationId"]),
                     lambda c: bool(c["applicationNumber"]), what="the application's number")
        return citizen, case["applicationNumber"]
    clerk = kit.staff_login(kit.staff(outcome.district, role=office_role))
    return citizen, clerk.enter(request)["number"]


def _finished(kit: Mesh, citizen: Citizen, number: str) -> tuple[dict[str, Any], list[str], dict[str, Any]]:
    """From the citizen's cabinet: the case once final, its statuses in the order they happened, its signed
    document."""
    session = kit.login(citizen.iin, citizen.password or "")
    case = until(lambda: next((c for c in session.applications() if c["applicationNumber"] == number), {}),
                 lambda c: c.get("status") in FINAL, what=f"{number} final in the cabinet", timeout_s=60)
    statuses = until(lambda: [n["status"] for n in session.notifications() if n["applicationNumber"] == number],
                     lambda s: len(s) >= 3, what=f"{number}'s notices")
    return case, statuses, session.document(case["correlationId"])


SERVICES: dict[str, tuple[str | None, list[Outcome]]] = {
    JOB_SEEKER: (None, [
        Outcome("approved", "zhezkazgan", "COMPLETED"),
        Outcome("no identity document", "zhezkazgan", "REFUSED", NO_IDENTITY, fields={"documents": []}),
        Outcome("already on the register", "zhezkazgan", "REFUSED", "Лицо уже состоит на учете", card="job_seeker"),
    ]),
    UNEMPLOYED: ("clerk", [  # offered at the office only (seeds 002, 004): the clerk enters the signed application
        Outcome("approved", "kyzylorda", "COMPLETED", card="job_seeker"),
        Outcome("expired identity document", "kyzylorda", "REFUSED", EXPIRED, card="job_seeker",
                expired_identity=True),
        Outcome("employed", "kyzylorda", "REFUSED", "По данным ЕСУТД лицо состоит в трудовых отношениях",
                card="job_seeker", employed=True),
    ]),
    REFERRAL: (None, [
        Outcome("approved", "kyzylorda", "COMPLETED", fields={"referralKind": "public-works"}, card="unemployed"),
        Outcome("expired identity document", "kyzylorda", "REFUSED", EXPIRED,
                fields={"referralKind": "social-jobs"}, card="unemployed", expired_identity=True),
        Outcome("not on the register", "kyzylorda", "REFUSED", "Отсутствует личная карточка",
                fields={"referralKind": "employment"}),
    ]),
    CERTIFICATE: (None, [
        Outcome("approved", "mamlyut", "COMPLETED", fields={"periodFrom": "2026-01-01", "periodTo": "2026-06-30",
                                                            "presentedTo": "по месту требования"}, card="unemployed"),
        Outcome("no identity document", "mamlyut", "REFUSED", NO_IDENTITY,
                fields={"periodFrom": "2026-01-01", "periodTo": "2026-06-30", "documents": []}, card="unemployed"),
        Outcome("not registered as unemployed", "mamlyut", "REFUSED",
                "Лицо не зарегистрировано в качестве безработного",
                fields={"periodFrom": "2026-01-01", "periodTo": "2026-06-30"}, card="job_seeker"),
    ]),
}


@pytest.mark.parametrize("service", list(SERVICES))
def test_each_service_ends_in_a_signed_approval_or_refusal_in_the_cabinet(kit: Mesh, mesh: MeshHandle, service: str,
                                                                          tmp_path: Path):
    office_role, outcomes = SERVICES[service]
    sent = [(outcome, *_apply(kit, service, outcome, office_role=office_role)) for outcome in outcomes]
    for outcome, citizen, number in sent:
        case, statuses, document = _finished(kit, citizen, number)
        what = f"{service} {outcome.label}"
        assert case["status"] == outcome.status, (what, case)
        assert statuses == ["RECEIVED", "IN_PROGRESS", outcome.status], (what, statuses)
        assert case["channel"] == ("office" if office_role else "portal"), (what, case)
        content = document["content"]
        assert content["applicantIin"] == citizen.iin, what
        assert content["result"] == ("approved" if outcome.status == "COMPLETED" else "refused"), (what, content)
        if outcome.reason:
            assert case["refusalReason"].startswith(outcome.reason), (what, case["refusalReason"])
            assert outcome.reason in json.dumps(content, ensure_ascii=False), (what, content)
        verified = kit.verify_document(document)
        assert verified["valid"] is True, (what, verified)
        assert {verified["checks"][k] for k in ("issuer", "signer", "signingTime")} == {"OK"}, (what, verified)
        done = cms_verify(mesh.nuc, tmp_path / number, content=canonical_bytes(content),
                          signature_b64=document["signature"])
        assert done.returncode == 0, (what, done.stderr)


def test_a_downloaded_document_verifies_and_one_altered_byte_fails_both_verifiers(kit: Mesh, mesh: MeshHandle,
                                                                                   tmp_path: Path):
    """The signed JSON and the bilingual PDF from the cabinet: the portal's endpoint and openssl agree on it; the
    PDF renders (a page image not blank), holds the applicant's name in Kazakh and Russian text, and its QR code
    decodes (zxing-cpp) to what the endpoint verifies."""
    outcome = Outcome("approved", "zhezkazgan", "COMPLETED")
    citizen, number = _apply(kit, JOB_SEEKER, outcome, office_role=None)
    case, _, document = _finished(kit, citizen, number)
    session = kit.login(citizen.iin, citizen.password or "")
    pdf = session.document_pdf(case["correlationId"])

    assert kit.verify_document(document)["valid"] is True
    assert kit.verify_document(pdf)["valid"] is True
    assert cms_verify(mesh.nuc, tmp_path / "good", content=canonical_bytes(document["content"]),
                      signature_b64=document["signature"]).returncode == 0

    # one byte of the file as downloaded: the last digit of the IIN in the signed content
    downloaded = json.dumps(document, ensure_ascii=False).encode()
    at = downloaded.index(f'"applicantIin": "{citizen.iin}"'.encode()) + len('"applicantIin": "') + 11
    flipped = downloaded[:at] + bytes([ord("0") + (downloaded[at] - ord("0") + 1) % 10]) + downloaded[at + 1:]
    assert sum(a != b for a, b in zip(downloaded, flipped, strict=True)) == 1
    answer = kit.verify_document(flipped)
    assert answer["valid"] is False
    assert "CONTENT_ALTERED" in {f["code"] for f in answer["failures"]}, answer
    altered = json.loads(flipped)
    bad = cms_verify(mesh.nuc, tmp_path / "bad", content=canonical_bytes(altered["content"]),
                     signature_b64=altered["signature"])
    assert bad.returncode != 0, "openssl refuses it too"
    assert "verification failure" in bad.stderr.lower(), bad.stderr

    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    assert f"Т.А.Ә.: {content_name(document)}" in text, "the applicant, in the Kazakh part"
    assert f"Ф.И.О.: {content_name(document)}" in text, "the applicant, in the Russian part"
    assert citizen.surname in content_name(document)
    page = PdfDocument(pdf)[0].render(scale=2).to_pil().convert("L")
    assert sum(page.histogram()[:128]) / (page.width * page.height) > 0.02, "the page is not blank"
    codes = zxingcpp.read_barcodes(page, formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(codes) == 1, "one QR code on the page"
    assert codes[0].text.startswith("EGOVDOC1:")
    from_qr = kit.verify_document(codes[0].text)
    assert from_qr["valid"] is True, from_qr
    assert decode_qr(codes[0].text).as_json() == document, "the QR code holds the very document the cabinet gave"


def test_meshctl_verify_names_a_forgerys_failures_and_meshctl_sign_uses_the_mesh_clock(kit: Mesh, mesh: MeshHandle,
                                                                                       tmp_path: Path):
    """Issue 17 from the shell: a real notice re-signed by a citizen (the applicant changed) — `meshctl verify` exits
    2 and says on stderr why; `meshctl sign` stamps the running mesh's time as the signingTime."""
    mesh_file = mesh.write_mesh_file(tmp_path / "mesh.json")
    citizen, number = _apply(kit, JOB_SEEKER, Outcome("approved", "zhezkazgan", "COMPLETED"), office_role=None)
    _, _, document = _finished(kit, citizen, number)
    forged = document["content"] | {"applicant": "Иванов Иван"}
    saved = citizen.save(tmp_path / "citizen")
    (tmp_path / "forged.json").write_text(json.dumps(forged, ensure_ascii=False))
    signed = CliRunner().invoke(cli.app, ["sign", "--citizen", str(saved), "--mesh", str(mesh_file),
                                          str(tmp_path / "forged.json")])
    assert signed.exit_code == 0, signed.output
    made = json.loads(signed.stdout)
    assert made["clock"] == "mesh"
    assert abs(dt.datetime.fromisoformat(made["signingTime"]) - kit.now()) < dt.timedelta(minutes=1)
    (tmp_path / "forged-document.json").write_text(json.dumps({"content": forged, "signature": made["signature"]},
                                                              ensure_ascii=False))
    checked = CliRunner().invoke(cli.app, ["verify", str(tmp_path / "forged-document.json"), "--mesh",
                                           str(mesh_file)])
    assert checked.exit_code == 2, checked.output
    assert json.loads(checked.stdout)["valid"] is False
    assert "SIGNER_NOT_AN_OFFICIAL: " in checked.stderr
    assert "SIGNER_MISMATCH: " in checked.stderr
    (tmp_path / "genuine.json").write_text(json.dumps(document, ensure_ascii=False))
    genuine = CliRunner().invoke(cli.app, ["verify", str(tmp_path / "genuine.json"), "--mesh", str(mesh_file)])
    assert genuine.exit_code == 0, genuine.output


def content_name(document: dict[str, Any]) -> str:
    return str(document["content"]["applicant"])

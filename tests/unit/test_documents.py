"""Result documents (shared/employment/documents.py): the bilingual PDF, its QR code, and reading both back.

Checked with tools that did not make them: pypdf extracts the text, PDFium renders the page, zxing-cpp decodes the
QR code from the rendered page.
"""

from __future__ import annotations

import datetime as dt
import io
import zlib
from typing import Any

import pypdfium2 as pdfium
import pytest
import zxingcpp
from fpdf import FPDF
from pypdf import PdfReader

from services.mio_workstation.domain import Official, Registered, document_number, draft_document, numbered
from shared.clock import KZ_TZ
from shared.employment.documents import (
    CERTIFICATE_FIELDS,
    QR_PREFIX,
    REFERRAL_TITLES,
    SIGNATURE_LABELS,
    TITLES,
    DocumentError,
    QrReference,
    SignedResult,
    b45decode,
    b45encode,
    decode_qr,
    document_date,
    document_kind,
    document_title,
    filename,
    qr_payload,
    read_pdf,
    render_pdf,
)
from shared.employment.regulations import RegulationBook
from shared.pki.signing import sign_json
from tests.unit.conftest import Pki

BIN = "000740000728"  # a valid BIN (check digit) for the official's certificate
APPLICANT = "Әбдірахманова Гүлнұр Қайратқызы"
CERTIFICATE = {
    "documentNumber": "MML-2026-000012", "date": "2026-03-10",
    "issuer": "ГУ «Отдел занятости и социальных программ» района Мамлютский",
    "service": "Выдача справок безработным гражданам", "regulation": "Постановление акимата СКО № 170",
    "applicant": APPLICANT, "applicantIin": "850701300007", "result": "approved",
    "title": "справка о регистрации в качестве безработного (приложение 5)",
    "periodFrom": "2026-01-01", "periodTo": "2026-03-01", "registeredUnemployedSince": "2025-11-03",
    "text": "Зарегистрирован(а) в качестве безработного в соответствии со статьей 15 Закона Республики Казахстан "
            "«О занятости населения»",
}


async def _signed(pki: Pki, content: dict[str, Any]) -> SignedResult:
    signing, _auth = await pki.person(bin_=BIN, role="head")
    return SignedResult(content=content, signature=sign_json(value=content, signer=pki.identity(signing)))


def _pages(pdf: bytes, *, scale: float) -> list[Any]:
    document = pdfium.PdfDocument(pdf)
    return [document[i].render(scale=scale).to_pil() for i in range(len(document))]


def _qr_codes(image: Any) -> list[Any]:
    return zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)


async def test_the_pdf_names_the_applicant_in_kazakh_and_in_russian(pki: Pki):
    pdf = render_pdf(await _signed(pki, CERTIFICATE))
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) >= 1
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert f"Т.А.Ә.: {APPLICANT}" in text, "the Kazakh part"
    assert f"Ф.И.О.: {APPLICANT}" in text, "the Russian part"
    assert "ЖҰМЫССЫЗ РЕТІНДЕ ТІРКЕУ ТУРАЛЫ АНЫҚТАМА" in text
    assert "СПРАВКА О РЕГИСТРАЦИИ" in text
    assert "MML-2026-000012" in text
    assert "10.03.2026" in text
    assert "01.01.2026 – 01.03.2026" in text
    assert "ә" in text
    assert "ғ" in text
    assert "қ" in text
    assert "ұ" in text
    assert "ү" in text
    assert "і" in text


async def test_the_page_is_not_blank(pki: Pki):
    page = _pages(render_pdf(await _signed(pki, CERTIFICATE)), scale=1)[0].convert("L")
    histogram = page.histogram()
    dark = sum(histogram[:128]) / (page.width * page.height)
    assert 0.02 < dark < 0.6, f"{dark:.3f} of the page is ink"


async def test_the_qr_code_decodes_to_exactly_the_signed_data(pki: Pki):
    document = await _signed(pki, CERTIFICATE)
    pdf = render_pdf(document)
    payload = read_pdf(pdf).qr
    assert payload == qr_payload(document)
    assert payload.startswith(QR_PREFIX)
    found = {r.text for page in _pages(pdf, scale=4) for r in _qr_codes(page)}
    assert found == {payload}
    assert decode_qr(payload) == document


async def test_the_pdf_carries_the_signed_document(pki: Pki):
    document = await _signed(pki, CERTIFICATE)
    assert read_pdf(render_pdf(document)).document == document


async def test_a_document_too_large_for_a_qr_code_gets_a_link_and_its_sha256(pki: Pki):
    document = await _signed(pki, CERTIFICATE)
    url = "http://portal.test/documents/verify"
    pdf = render_pdf(document, verify_url=url, max_qr_chars=100)
    payload = read_pdf(pdf).qr
    assert payload is not None
    assert payload.startswith(f"{url}?sha256={document.sha256()}")
    assert decode_qr(payload) == QrReference(url=payload, sha256=document.sha256())
    found = {r.text for page in _pages(pdf, scale=3) for r in _qr_codes(page)}
    assert found == {payload}
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert document.sha256() in text


async def test_a_refusal_is_the_seed_letter_and_missing_optional_fields_are_left_out(pki: Pki):
    refusal = {"documentNumber": "ZHZ-2026-000001", "date": "2026-02-02", "applicant": APPLICANT,
               "applicantIin": "850701300007", "result": "refused", "service": "Выдача справок безработным гражданам",
               "reason": "нет карточки безработного", "title": "мотивированный отказ",
               "issuer": {"name": "ГУ «Отдел занятости»", "nameKk": "«Жұмыспен қамту бөлімі» ММ", "bin": BIN},
               "signer": {"name": "Ахметова Айгуль", "position": "Начальник отдела", "positionKk": "Бөлім бастығы"},
               "extra": ["a", 1]}
    assert document_kind(refusal) == "refusal"
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(render_pdf(await _signed(pki, refusal)))).pages)
    assert "Доводим до Вашего сведения, что Вам отказано" in text
    assert "нет карточки безработного" in text
    assert "Ахметова Айгуль" in text
    assert "Бөлім бастығы" in text
    assert "«Жұмыспен қамту бөлімі» ММ" in text
    bare = SignedResult(content={"documentNumber": "X-1"}, signature="not a signature")
    assert PdfReader(io.BytesIO(render_pdf(bare))).pages, "renders whatever is missing, even a broken signature"


def test_base45_is_rfc_9285():
    assert (b45encode(b"AB"), b45encode(b"Hello!!"), b45encode(b"base-45")) == ("BB8", "%69 VD92EX0", "UJCLQE7W581")
    assert b45decode("QED8WEX0") == b"ietf!"
    for data in (b"", b"\x00", b"\xff\xff", bytes(range(256))):
        assert b45decode(b45encode(data)) == data
    for bad in ("GGW", "A", "a1"):
        with pytest.raises(ValueError, match="base45"):
            b45decode(bad)


def test_a_payload_ending_in_a_space_survives():
    for size in range(40):  # one of these payloads ends with base45's space
        document = SignedResult(content={"n": "x" * size}, signature="c2ln")
        assert decode_qr(qr_payload(document) + "\n") == document


@pytest.mark.parametrize(("given", "code"), [
    ("EGOVDOC1:%%%", "QR_PAYLOAD_MALFORMED"), ("EGOVDOC1:abc", "QR_PAYLOAD_MALFORMED"),
    ("hello", "QR_PAYLOAD_MALFORMED"), ("http://x/verify?sha256=12", "QR_PAYLOAD_MALFORMED"),
    (QR_PREFIX + b45encode(zlib.compress(b'{"content": 1}')), "DOCUMENT_MALFORMED"),
])
def test_a_broken_qr_payload_is_named(given: str, code: str):
    with pytest.raises(DocumentError) as refused:
        decode_qr(given)
    assert refused.value.code == code


def test_a_pdf_not_made_here_is_named():
    with pytest.raises(DocumentError) as refused:
        read_pdf(b"%PDF-1.7 nonsense")
    assert refused.value.code == "PDF_UNREADABLE"
    plain = FPDF()
    plain.add_page()
    with pytest.raises(DocumentError) as refused:
        read_pdf(bytes(plain.output()))
    assert refused.value.code == "PDF_WITHOUT_DOCUMENT"


def test_the_day_a_document_bears_is_its_date_and_nothing_else():
    """Only ``date``: a content's own ``signedAt`` no longer says when it was signed (the CMS signingTime does)."""
    assert document_date({"date": "2026-03-10"}) == dt.date(2026, 3, 10)
    assert document_date({"signedAt": "2026-03-10T10:00:00+05:00"}) is None
    assert document_date({}) is None
    assert document_date({"date": "soon"}) is None
    assert document_date({"date": "2026-02-30"}) is None
    assert document_date({"date": "2026-03-10T10:00:00"}) is None


def test_download_names_are_safe():
    assert filename({"documentNumber": "ZHZ-2026-000001"}, "pdf") == "ZHZ-2026-000001.pdf"
    assert filename({"documentNumber": '../"a b"'}, "json") == "a_b.json"
    assert filename({}, "pdf") == "document.pdf"


# ---- the seeds' forms, field by field ----------------------------------------------------------------------------
FULL_CERTIFICATE = {
    "documentNumber": "MAM-D-2026-000004", "documentKind": "certificate", "applicationNumber": "MAM-2026-000031",
    "applicationDate": "2026-03-06", "date": "2026-03-10",
    "issuer": "Государственное учреждение «Отдел занятости и социальных программ Мамлютского района»",
    "service": "Выдача справок безработным гражданам", "applicant": APPLICANT, "applicantIin": "850701300007",
    "result": "approved", "title": "Справка о регистрации в качестве безработного",
    "titleKk": "Жұмыссыз ретінде тіркеу туралы анықтама",
    "signer": {"name": "Нурпеисов Жанар", "position": "Сотрудник МИО", "positionKk": "ЖАО қызметкері",
               "iin": "800101300005"},
    "specialist": {"name": "Оспанов Дамир", "position": "Специалист", "positionKk": "Маман"},
    "periodFrom": "2026-01-01", "periodTo": "2026-04-30", "registeredUnemployedSince": "2025-11-03",
    "publicWorks": [{"referralKind": "public-works", "documentNumber": "KOK-D-2026-000007", "date": "2026-02-02"}],
    "training": [], "assistance": [{"kind": "targeted-social", "from": "2026-01-15", "to": "2026-06-15"}],
    "validUntil": "2026-04-30", "presentedTo": "по месту требования",
}


def _text_of(pdf: bytes) -> str:
    """The PDF's text on one line (table cells wrap)."""
    return " ".join("\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())


def test_the_certificate_prints_every_line_of_003_appendix_5_in_kazakh_and_russian():
    text = _text_of(render_pdf(SignedResult(content=FULL_CERTIFICATE, signature="not signed here")))
    for kk, ru in [*CERTIFICATE_FIELDS.values(), *(SIGNATURE_LABELS[k] for k in ("head", "specialist",
                                                                                  "certificateApplied"))]:
        assert kk in text, kk
        assert ru in text, ru
    assert "Бөлім бастығы / Начальник отдела: Нурпеисов Жанар (ЖАО қызметкері / Сотрудник МИО)" in text
    assert "Маман / Специалист: Оспанов Дамир" in text
    assert "Дата подачи заявления на получение справки: 06.03.2026" in text
    assert "03.11.2025" in text, "registered as unemployed since"
    assert "қоғамдық жұмыстарға жолдама / направление на общественные работы № KOK-D-2026-000007, 02.02.2026" in text
    assert "жоқ / нет" in text, "no training: the line says so"
    assert "атаулы әлеуметтік көмек / адресная социальная помощь: 15.01.2026 – 15.06.2026" in text
    assert "Справка действительна до 30.04.2026" in text
    assert "MAM-D-2026-000004" in text
    assert "Номер заявления MAM-2026-000031" in text
    assert "Подписал" not in text, "the form's own closing lines name the signer"


@pytest.mark.parametrize("kind", sorted(REFERRAL_TITLES))
def test_each_referral_kind_is_titled_as_its_own_document(kind: str):
    content = {"documentNumber": "KOK-D-2026-000001", "documentKind": "referral", "referralKind": kind,
               "result": "approved", "applicant": APPLICANT, "applicantIin": "850701300007"}
    kk, ru = document_title("referral", referral_kind=kind)
    assert (kk, ru) == REFERRAL_TITLES[kind]
    text = _text_of(render_pdf(SignedResult(content=content, signature="x")))
    assert kk.upper() in text
    assert ru.upper() in text
    assert "Жолдама түрі / Вид направления" in text


def test_the_notices_have_their_titles_and_004s_the_registration_date():
    for kind in ("job-seeker", "unemployed", "unemployed-reference"):
        content = {"documentNumber": "ALA-D-2026-000002", "documentKind": kind, "result": "approved",
                   "applicant": APPLICANT, "applicantIin": "850701300007", "registeredOn": "2026-03-11",
                   "signer": {"name": "Ахметова Айгуль", "position": "Руководитель", "positionKk": "Басшы"}}
        text = _text_of(render_pdf(SignedResult(content=content, signature="x")))
        for title in TITLES[kind]:
            assert title.upper() in text, (kind, title)
        assert "Жұмыссыз ретінде тіркелген күні / Дата регистрации в качестве безработного 11.03.2026" in text
        assert "Лауазымы / Должность: Басшы / Руководитель" in text
        assert "Қол қойған / Подписал: Ахметова Айгуль" in text


# ---- what ИС МИО's draft says (services/mio_workstation/domain.py) -------------------------------------------------
BOOK = RegulationBook.load()
ON = dt.datetime(2026, 3, 10, 11, 0, tzinfo=KZ_TZ)
FORM = {"applicantIin": "850701300007", "surname": "Әбдірахманова", "name": "Гүлнұр", "patronymic": "Қайратқызы",
        "periodFrom": "2026-01-01", "periodTo": "2026-02-28", "referralKind": "youth-practice"}
SIGNER = Official(iin="800101300005", surname="Нурпеисов", name="Жанар", role="employee")
PERSON = Registered(iin="850701300007", surname="Әбдірахманова", name="Гүлнұр", patronymic="Қайратқызы")  # ГБД ФЛ's


def _draft(regulation_id: str, *, approve: bool = True, card: dict[str, Any] | None = None) -> dict[str, Any]:
    return draft_document(regulation=BOOK.all[regulation_id], application_number="X-2026-000001",
                          applied=ON - dt.timedelta(days=3), issued=ON, organisation="ГУ «Отдел» (симулятор)",
                          issuer_bin="000740000728",
                          form=FORM, person=PERSON, approve=approve, reason=None if approve else "нет карточки",
                          card=card,
                          signer=SIGNER, specialist=SIGNER)


def test_the_certificate_draft_takes_the_periods_facts_from_the_register():
    def event(what: str, on: str, **detail: str) -> dict[str, Any]:
        return {"kind": what, "on": on, "detail": detail}

    card = {"unemployedSince": "2025-11-03", "events": [
        event("opened", "2025-11-03"),
        event("measure", "2026-01-20", referralKind="social-jobs", documentNumber="KZO-D-2026-000003",
              date="2026-01-19"),
        event("measure", "2026-03-05", referralKind="public-works", date="2026-03-05"),  # after the period
        event("measure", "2026-02-10", referralKind="vocational-training", date="2026-02-10"),
        event("measure", "2026-02-11", referralKind="employment", date="2026-02-11"),  # not a line of the form
        event("assistance", "2026-03-01", kind="housing", **{"from": "2025-12-01", "to": "2026-01-31"}),
        event("assistance", "2026-03-01", kind="targeted-social", **{"from": "2026-03-01"}),  # after the period
    ]}
    draft = _draft("mamlyut.unemployed-certificate.office", card=card)
    assert (draft["documentKind"], draft["applicationNumber"], draft["applicationDate"], draft["date"]) == (
        "certificate", "X-2026-000001", "2026-03-07", "2026-03-10")
    assert "documentNumber" not in draft, "numbered in the transaction that keeps it"
    assert numbered(draft, "MAM-D-2026-000009")["documentNumber"] == "MAM-D-2026-000009"
    assert draft["registeredUnemployedSince"] == "2025-11-03"
    assert draft["publicWorks"] == [{"referralKind": "social-jobs", "documentNumber": "KZO-D-2026-000003",
                                     "date": "2026-01-19"}]
    assert draft["training"] == [{"referralKind": "vocational-training", "date": "2026-02-10"}]
    assert draft["assistance"] == [{"kind": "housing", "from": "2025-12-01", "to": "2026-01-31"}]
    assert (draft["validUntil"], draft["presentedTo"]) == ("2026-02-28", "по месту требования")
    assert draft["signer"] == {"name": "Нурпеисов Жанар", "position": "Сотрудник МИО", "positionKk": "ЖАО қызметкері",
                               "iin": "800101300005"}
    assert draft["specialist"]["name"] == "Нурпеисов Жанар"
    assert document_number(district="mamlyut", year=2026, sequence=12) == "MAM-D-2026-000012"


def test_every_refusal_is_seed_003s_letter():
    certificate = _draft("mamlyut.unemployed-certificate.portal", approve=False)
    assert certificate["text"] == "Доводим до Вашего сведения, что Вам отказано в предоставлении справки безработного."
    assert (certificate["reason"], certificate["documentKind"]) == ("нет карточки", "refusal")
    referral = _draft("kyzylorda.active-measures-referral.office", approve=False)
    assert referral["text"] == ("Доводим до Вашего сведения, что Вам отказано в предоставлении государственной "
                                "услуги «Выдача направлений лицам на участие в активных мерах содействия занятости».")
    assert referral["textKk"].startswith("Сізге «Жұмыспен қамтуға жәрдемдесудің")
    text = _text_of(render_pdf(SignedResult(content=numbered(referral, "KZO-D-2026-000001"), signature="x")))
    assert referral["text"] in text
    assert "Бас тарту себебі / Причина отказа: нет карточки" in text


def test_each_result_is_titled_and_dated_as_its_seed_says():
    unemployed = _draft("almaty.unemployed-registration.office")
    assert (unemployed["documentKind"], unemployed["registeredOn"]) == ("unemployed", "2026-03-10")
    assert unemployed["issuer"] == "Управление социального благосостояния города Алматы"  # 004 п. 1
    assert unemployed["title"] == "Извещение о дате регистрации в качестве безработного"
    assert _draft("kyzylorda.unemployed-registration.office")["documentKind"] == "unemployed-reference"
    seeker = _draft("zhezkazgan.job-seeker-registration.office")
    assert (seeker["title"], seeker["titleKk"]) == TITLES["job-seeker"][::-1]
    referral = _draft("kyzylorda.active-measures-referral.portal")
    assert (referral["referralKind"], referral["title"]) == ("youth-practice", "Направление на молодежную практику")
    assert _draft("akmola.active-measures-referral.office")["issuer"] == "ГУ «Отдел»", "001 п. 1: the district's отдел"

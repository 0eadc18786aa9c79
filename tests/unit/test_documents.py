"""Result documents (shared/documents.py): the bilingual PDF, its QR code, and reading both back.

Checked with tools that did not make them: pypdf extracts the text, PDFium renders the page, zxing-cpp decodes the
QR code from the rendered page.
"""

from __future__ import annotations

import io
import zlib
from typing import Any

import pypdfium2 as pdfium
import pytest
import zxingcpp
from fpdf import FPDF
from pypdf import PdfReader

from shared.documents import (
    QR_PREFIX,
    DocumentError,
    QrReference,
    SignedResult,
    b45decode,
    b45encode,
    decode_qr,
    document_kind,
    filename,
    qr_payload,
    read_pdf,
    render_pdf,
    signing_window,
)
from shared.signing import sign_json
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


def test_when_a_document_says_it_was_signed():
    start, end = signing_window({"date": "2026-03-10"}) or (None, None)
    assert (start.isoformat(), end.isoformat()) == ("2026-03-10T00:00:00+05:00", "2026-03-10T23:59:59.999999+05:00")
    moment = signing_window({"signedAt": "2026-03-10T10:00:00+05:00", "date": "2026-03-01"})
    assert moment is not None
    assert moment[0] == moment[1]
    assert moment[0].day == 10
    assert signing_window({}) is None
    assert signing_window({"date": "soon"}) is None


def test_download_names_are_safe():
    assert filename({"documentNumber": "ZHZ-2026-000001"}, "pdf") == "ZHZ-2026-000001.pdf"
    assert filename({"documentNumber": '../"a b"'}, "json") == "a_b.json"
    assert filename({}, "pdf") == "document.pdf"

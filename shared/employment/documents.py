"""Result documents to download, print and verify: a signed result — its JSON content and the detached CMS over the
content's RFC 8785 form — as a bilingual (Kazakh and Russian) PDF laid out like the seeds' output forms (seed 003
appendix 5, the certificate «Справка»; 003's refusal letter «Доводим до Вашего сведения…»; 004's notices), with a
QR code, and the same document read back from such a PDF or QR code.

Pure: content and signature in, bytes out, and back; nothing here reads a database, the network or the clock.

The QR code holds the signed data itself whenever it fits: ``EGOVDOC1:`` then base45 (RFC 9285) of the zlib-
compressed RFC 8785 JSON ``{"content": …, "signature": …}`` — alphanumeric QR mode, as the EU's health
certificates pack theirs — up to version 40 at error correction L (``QR_MAX_CHARS``; a smaller code gets the
highest level its version allows). A document too large for
that gets a verification link with the SHA-256 of its canonical content instead (``QrReference``). Either way the
PDF carries the signed JSON as an embedded file (``document.json``) and the QR payload (``qr.txt``), so a verifier
reads them back without decoding an image.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import zlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import fontpkg_pt_sans
import segno
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from shared.employment.forms import REFERRAL_KIND_LABELS
from shared.employment.pdf_reader import PdfRefused, extract, read_isolated
from shared.errors import MeshError
from shared.pki.canonical import canonical_bytes, parse_json
from shared.pki.cert_profile import describe_certificate
from shared.pki.signing import SignatureError, verify_detached

QR_PREFIX = "EGOVDOC1:"
QR_ERROR = "l"  # at least; segno raises it as far as the version chosen allows (boost_error)
QR_MAX_CHARS = 4296  # alphanumeric characters a version-40 QR code holds at error correction L
DEFAULT_VERIFY_URL = "http://127.0.0.1:8001/documents/verify"  # the portal's, as `make run` starts it
DOCUMENT_FILE = "document.json"
QR_FILE = "qr.txt"
MAX_SIGNED_DOCUMENT_BYTES = 256 * 1024  # a signed document read back from a PDF or a QR code (decompressed)
MAX_QR_FILE_BYTES = 16 * 1024  # a PDF's qr.txt: at most QR_MAX_CHARS, or a link

_FONT_DIR = fontpkg_pt_sans.ROOT / "files"
_FONT = "PTSans"


class DocumentError(MeshError):
    """What was given is not a signed document this module can read (the code says which part)."""


@dataclass(frozen=True)
class SignedResult:
    """A result document: its content and the detached CMS (base64) over the content's RFC 8785 form."""

    content: dict[str, Any]
    signature: str

    @classmethod
    def parse(cls, value: Any) -> SignedResult:
        if not isinstance(value, dict) or not isinstance(value.get("content"), dict) \
                or not isinstance(value.get("signature"), str) or not value["signature"]:
            raise DocumentError("DOCUMENT_MALFORMED", "a signed document is a JSON object with `content` (an object) "
                                "and `signature` (base64 detached CMS over the content's RFC 8785 form)")
        return cls(content=value["content"], signature=value["signature"])

    def canonical(self) -> bytes:
        return canonical_bytes(self.content)

    def sha256(self) -> str:
        return hashlib.sha256(self.canonical()).hexdigest()

    def as_json(self) -> dict[str, Any]:
        return {"content": self.content, "signature": self.signature}

    def json_bytes(self) -> bytes:
        """The signed data as a file: RFC 8785 JSON of ``{content, signature}`` (the content's bytes are signed)."""
        return canonical_bytes(self.as_json())


@dataclass(frozen=True)
class QrReference:
    """A QR code of a document too large to carry: where to verify it, and the SHA-256 of its canonical content."""

    url: str
    sha256: str


# ---- base45 (RFC 9285) ---------------------------------------------------------------------------------------------
_B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_B45_VALUE = {c: i for i, c in enumerate(_B45)}


def b45encode(data: bytes) -> str:
    out = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        out += [_B45[n % 45], _B45[n // 45 % 45], _B45[n // 2025]]
    if len(data) % 2:
        n = data[-1]
        out += [_B45[n % 45], _B45[n // 45]]
    return "".join(out)


def b45decode(text: str) -> bytes:
    try:
        values = [_B45_VALUE[c] for c in text]
    except KeyError:
        raise ValueError("not base45: a character outside its alphabet") from None
    if len(values) % 3 == 1:
        raise ValueError("not base45: a dangling character")
    out = bytearray()
    for i in range(0, len(values), 3):
        group = values[i:i + 3]
        n = sum(v * 45**k for k, v in enumerate(group))
        if len(group) == 3:
            if n > 0xFFFF:
                raise ValueError("not base45: a group out of range")
            out += n.to_bytes(2, "big")
        else:
            if n > 0xFF:
                raise ValueError("not base45: a group out of range")
            out.append(n)
    return bytes(out)


# ---- the QR payload ------------------------------------------------------------------------------------------------
def full_qr_payload(document: SignedResult) -> str:
    return QR_PREFIX + b45encode(zlib.compress(document.json_bytes(), 9))


def reference_link(document: SignedResult, *, verify_url: str) -> str:
    number = document.content.get("documentNumber")
    query = {"sha256": document.sha256()} | ({"documentNumber": number} if isinstance(number, str) else {})
    return f"{verify_url}?{urlencode(query)}"


def qr_payload(document: SignedResult, *, verify_url: str = DEFAULT_VERIFY_URL, max_chars: int = QR_MAX_CHARS) -> str:
    """The signed data itself when it fits a QR code (``max_chars``), else the link with the content's SHA-256."""
    full = full_qr_payload(document)
    return full if len(full) <= max_chars else reference_link(document, verify_url=verify_url)


def decode_qr(payload: str) -> SignedResult | QrReference:
    text = payload.strip("\r\n\t")  # not spaces: base45 has one, and a payload may end with it
    if text.startswith(QR_PREFIX):
        try:
            packed = b45decode(text[len(QR_PREFIX):])
            inflater = zlib.decompressobj()
            raw = inflater.decompress(packed, MAX_SIGNED_DOCUMENT_BYTES)
            if inflater.unconsumed_tail or not inflater.eof:
                raise ValueError("truncated, or larger than a document is")
        except (ValueError, zlib.error) as exc:
            raise DocumentError("QR_PAYLOAD_MALFORMED", f"the QR payload does not unpack: {exc}") from None
        return SignedResult.parse(parse_json(raw, malformed="QR_PAYLOAD_MALFORMED", what="the QR payload"))
    parts = urlsplit(text)
    digest = parse_qs(parts.query).get("sha256", [""])[0].lower()
    if parts.scheme in ("http", "https") and re.fullmatch(r"[0-9a-f]{64}", digest):
        return QrReference(url=text, sha256=digest)
    raise DocumentError("QR_PAYLOAD_MALFORMED", f"a document's QR payload starts with {QR_PREFIX} or is a "
                        "verification link with sha256=")


# ---- reading a PDF back --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PdfContents:
    document: SignedResult
    qr: str | None


_EMBEDDED = {DOCUMENT_FILE: MAX_SIGNED_DOCUMENT_BYTES, QR_FILE: MAX_QR_FILE_BYTES}  # what is read, and how much


def read_pdf(data: bytes) -> PdfContents:
    """The signed document (and QR payload) a PDF made here carries as embedded files, read in this process — for
    tests and tools reading the mesh's own PDFs. A PDF from outside is read with ``read_pdf_isolated``."""
    try:
        found = extract(data, _EMBEDDED).files
    except PdfRefused as exc:
        raise DocumentError(exc.code, exc.message) from None
    return _contents(found)


async def read_pdf_isolated(data: bytes, *, caller: str | None = None) -> PdfContents:
    """``read_pdf`` for untrusted bytes: in a worker process with memory, CPU and time limits, off the event loop,
    one at a time for one ``caller`` (shared.employment.pdf_reader says why and what is bounded)."""
    try:
        found = await read_isolated(data, _EMBEDDED, caller=caller)
    except PdfRefused as exc:
        raise DocumentError(exc.code, exc.message) from None
    return _contents(found)


def _contents(found: dict[str, bytes]) -> PdfContents:
    if DOCUMENT_FILE not in found:
        raise DocumentError("PDF_WITHOUT_DOCUMENT", f"the PDF carries no {DOCUMENT_FILE}: it was not made by the mesh")
    value = parse_json(found[DOCUMENT_FILE], malformed="DOCUMENT_MALFORMED", what=f"the PDF's {DOCUMENT_FILE}")
    qr = found.get(QR_FILE)
    return PdfContents(document=SignedResult.parse(value), qr=qr.decode("utf-8", "replace") if qr else None)


# ---- the day it bears ----------------------------------------------------------------------------------------------
def document_date(content: dict[str, Any]) -> dt.date | None:
    """The Kazakh day the document bears (its ``date``, YYYY-MM-DD), or None. Only a claim of the content: when it was
    signed is the signature's signingTime, and the verifier holds the date to be no later than that day."""
    value = content.get("date")
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


# ---- the PDF -------------------------------------------------------------------------------------------------------
TITLES = {  # kind → (Kazakh, Russian) as the seeds' forms head them; the PDF prints them in capitals
    "certificate": ("Жұмыссыз ретінде тіркеу туралы анықтама", "Справка о регистрации в качестве безработного"),
    "job-seeker": ("Жұмыс іздеуші адам ретінде тіркеу туралы хабарлама",
                   "Уведомление о регистрации в качестве лица, ищущего работу"),
    "unemployed": ("Жұмыссыз ретінде тіркелген күні туралы хабарлама",
                   "Извещение о дате регистрации в качестве безработного"),
    "unemployed-reference": ("Жұмыссыз ретінде тіркелуі туралы анықтама",
                             "Справка о регистрации в качестве безработного"),
    "referral": ("Жұмыспен қамтуға жәрдемдесудің белсенді шараларына қатысуға жолдама",
                 "Направление на участие в активных мерах содействия занятости"),
    "refusal": ("Қызмет көрсетуден бас тарту туралы хат", "Письмо об отказе в оказании государственной услуги"),
}
REFERRAL_TITLES = {  # each kind of referral of 001 п. 3 (002's kinds are the same six), as its own document
    "employment": ("Жұмысқа орналасуға жолдама", "Направление для трудоустройства"),
    "public-works": ("Қоғамдық жұмыстарға жолдама", "Направление на общественные работы"),
    "vocational-training": ("Кәсіптік даярлауға, қайта даярлауға және біліктілікті арттыруға жолдама",
                            "Направление на профессиональную подготовку, переподготовку и повышение квалификации"),
    "social-jobs": ("Әлеуметтік жұмыс орындарына жұмысқа орналасуға жолдама",
                    "Направление для трудоустройства на социальные рабочие места"),
    "youth-practice": ("Жастар практикасына жолдама", "Направление на молодежную практику"),
    "career-guidance": ("Кәсіптік бағдар беру бойынша тегін қызметтер көрсетуге жолдама",
                        "Направление на оказание бесплатных услуг по профессиональной ориентации"),
}
_BODIES = {  # (Kazakh, Russian) when the content carries no text of its own
    "job-seeker": ("Сіз жұмыс іздеуші адам ретінде тіркелдіңіз.", "Вы зарегистрированы в качестве лица, ищущего "
                   "работу."),
    "unemployed": ("Сіз жұмыссыз ретінде тіркелдіңіз. Тіркелген күні төменде көрсетілген.",
                   "Вы зарегистрированы в качестве безработного. Дата регистрации указана ниже."),
    "unemployed-reference": ("Жұмыссыз ретінде тіркелген.", "Зарегистрирован(а) в качестве безработного."),
    "referral": ("Сізге жұмыспен қамтуға жәрдемдесудің белсенді шараларына қатысуға жолдама берілді.",
                 "Вам выдано направление на участие в активных мерах содействия занятости."),
}
_REFERRAL_KINDS = {kind: (label["kk"], label["ru"]) for kind, label in REFERRAL_KIND_LABELS.items()}
_ASSISTANCE = {"targeted-social": ("атаулы әлеуметтік көмек", "адресная социальная помощь"),
               "housing": ("тұрғын үй көмегі", "жилищная помощь")}
_NONE = "жоқ / нет"
_FIELDS = {  # content field → (Kazakh label, Russian label), in the order they are printed
    "applicationNumber": ("Өтініш нөмірі", "Номер заявления"),
    "applicationDate": ("Өтініш берілген күні", "Дата подачи заявления"),
    "service": ("Мемлекеттік қызмет", "Государственная услуга"),
    "period": ("Кезең", "Период"),
    "registeredUnemployedSince": ("Жұмыссыз ретінде тіркелген күні", "Зарегистрирован(а) безработным с"),
    "registeredOn": ("Жұмыссыз ретінде тіркелген күні", "Дата регистрации в качестве безработного"),
    "referralKind": ("Жолдама түрі", "Вид направления"),
    "basis": ("Негіздеме", "Основание"),
    "reason": ("Бас тарту себебі", "Причина отказа"),
    "regulation": ("Мемлекеттік қызмет регламенті", "Регламент государственной услуги"),
}
CERTIFICATE_FIELDS = {  # 003 appendix 5, line by line, with the form's own wording
    "registeredUnemployedSince": ("«Халықты жұмыспен қамту туралы» Қазақстан Республикасы Заңының 15-бабына сәйкес "
                                  "жұмыссыз ретінде тіркелген",
                                  "В соответствии со ст. 15 Закона Республики Казахстан «О занятости населения» "
                                  "зарегистрирован(а) безработным"),
    "publicWorks": ("Қоғамдық, әлеуметтік жұмыстарға қатысуы", "Участие в общественных, социальных работах"),
    "training": ("Кәсіптік даярлаудан, біліктілігін арттырудан және қайта даярлаудан, жастар практикасынан өтті",
                 "Прошел(ла) профессиональную подготовку, повышение квалификации и переподготовку, молодежную "
                 "практику"),
    "assistance": ("Атаулы әлеуметтік көмек, тұрғын үй көмегі тағайындалды",
                   "Назначен(а) адресная социальная помощь, жилищная помощь"),
    "validUntil": ("Анықтаманың қолданылу мерзімі", "Справка действительна до"),
    "presentedTo": ("Анықтама ұсыну үшін берілді", "Справка дана для предъявления"),
    "period": ("Анықтама берілген кезең", "Период, за который выдана справка"),
}
SIGNATURE_LABELS = {  # the form's closing lines: (Kazakh, Russian)
    "head": ("Бөлім бастығы", "Начальник отдела"),
    "specialist": ("Маман", "Специалист"),
    "certificateApplied": ("Анықтаманы алуға өтініш берілген күні", "Дата подачи заявления на получение справки"),
    "position": ("Лауазымы", "Должность"),
    "signedBy": ("Қол қойған", "Подписал"),
}
_SHOWN_ELSEWHERE = {"documentNumber", "documentKind", "date", "issuer", "issuerBin", "applicant", "applicantIin",
                    "result", "title", "text", "textKk", "titleKk", "periodFrom", "periodTo", "signer", "signerName",
                    "signerPosition", "signerPositionKk", "signerIin", "signedAt", "specialist"}
_LEGAL = ("Бұл құжат «Электрондық құжат және электрондық цифрлық қолтаңба туралы» 2003 жылғы 7 қаңтардағы № 370-II "
          "Қазақстан Республикасы Заңының 7-бабының 1-тармағына сәйкес қағаз жеткізгіштегі құжатпен бірдей.",
          "Данный документ согласно пункту 1 статьи 7 ЗРК от 7 января 2003 года «Об электронном документе и "
          "электронной цифровой подписи» равнозначен документу на бумажном носителе.")


def document_title(kind: str, *, referral_kind: str | None = None) -> tuple[str, str]:
    """(Kazakh, Russian) title of a kind of result document; a referral is titled by its kind (001 п. 3)."""
    if kind == "referral" and referral_kind in REFERRAL_TITLES:
        return REFERRAL_TITLES[referral_kind]
    return TITLES.get(kind, ("Құжат", "Документ"))


def document_kind(content: dict[str, Any]) -> str:
    if content.get("result") == "refused":
        return "refusal"
    if content.get("documentKind") in TITLES:
        return str(content["documentKind"])
    title = f"{content.get('title', '')} {content.get('service', '')}".lower()
    for kind, marks in (("referral", ("направлени",)), ("certificate", ("справк",)),
                        ("job-seeker", ("ищущего работу", "ищущих работу")), ("unemployed", ("безработн",))):
        if any(mark in title for mark in marks):
            return kind
    return "generic"


def _date(value: Any) -> str:
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return dt.date.fromisoformat(value).strftime("%d.%m.%Y")
    return _text(value)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_text(v)}" for k, v in value.items() if v not in (None, ""))
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    return json.dumps(value, ensure_ascii=False)


def _issuer(content: dict[str, Any]) -> tuple[str, str]:
    """(Kazakh, Russian) name of the issuing body — a plain string, or an object with names (and a BIN) — with its BIN
    (``issuerBin``, which the verifier holds the signer's certificate to)."""
    issuer = content.get("issuer")
    bin_ = content.get("issuerBin")
    if isinstance(issuer, dict):
        ru = _text(issuer.get("name") or issuer.get("nameRu") or issuer.get("organisation") or "")
        kk = _text(issuer.get("nameKk") or "")
        bin_ = bin_ or issuer.get("bin")
    else:
        kk, ru = "", _text(issuer)
    if bin_:
        ru = f"{ru} (БИН {_text(bin_)})".strip()
        kk = f"{kk} (БСН {_text(bin_)})".strip() if kk else ""
    return kk, ru


def _official(value: Any) -> tuple[str, str, str]:
    """(name, position in Russian, position in Kazakh) of an official the content names."""
    if isinstance(value, dict):
        return (_text(value.get("name") or value.get("fullName") or ""),
                _text(value.get("position") or value.get("positionRu") or value.get("role") or ""),
                _text(value.get("positionKk") or ""))
    return (value, "", "") if isinstance(value, str) else ("", "", "")


def _signer(content: dict[str, Any]) -> tuple[str, str, str]:
    """(name, position in Russian, position in Kazakh) of the signer, as far as the content says."""
    name, position, position_kk = _official(content.get("signer"))
    name = name or _text(content.get("signerName"))
    position = position or _text(content.get("signerPosition"))
    position_kk = position_kk or _text(content.get("signerPositionKk"))
    return name, position, position_kk


def _listed(value: Any, describe: Any) -> str:
    """A list the register gives (measures, assistance), each entry as ``describe`` words it; «none» when empty."""
    if not isinstance(value, list):
        return _date(value)
    if not value:
        return _NONE
    return "; ".join(describe(item) if isinstance(item, dict) else _text(item) for item in value)


def _measure(item: dict[str, Any]) -> str:
    """A referral the register lists (003 app. 5): its kind in both languages, its number and date."""
    kk, ru = _REFERRAL_KINDS.get(str(item.get("referralKind")), ("", _text(item.get("referralKind"))))
    number = f" № {_text(item['documentNumber'])}" if item.get("documentNumber") else ""
    return f"{' / '.join(filter(None, [kk, ru]))}{number}, {_date(item.get('date'))}".strip(", ")


def _grant(item: dict[str, Any]) -> str:
    """Assistance the register lists: its kind in both languages and the days it is granted for."""
    kk, ru = _ASSISTANCE.get(str(item.get("kind")), ("", _text(item.get("kind"))))
    days = " – ".join(_date(item.get(k)) for k in ("from", "to") if item.get(k))
    decision = f" ({_text(item['decision'])})" if item.get("decision") else ""
    return f"{' / '.join(filter(None, [kk, ru]))}: {days}{decision}"


def _fields(content: dict[str, Any], *, kind: str = "generic") -> list[tuple[str, str, str]]:
    values = dict(content)
    if content.get("periodFrom") or content.get("periodTo"):
        values["period"] = f"{_date(content.get('periodFrom'))} – {_date(content.get('periodTo'))}"
    referral = content.get("referralKind")
    if isinstance(referral, str) and referral in _REFERRAL_KINDS:
        kk, ru = _REFERRAL_KINDS[referral]
        values["referralKind"] = f"{kk} / {ru}"
    out: list[tuple[str, str, str]] = []
    labels = _FIELDS
    if kind == "certificate":  # the form's lines first, each printed even when the register holds nothing
        values |= {"publicWorks": _listed(content.get("publicWorks", []), _measure),
                   "training": _listed(content.get("training", []), _measure),
                   "assistance": _listed(content.get("assistance", []), _grant)}
        out += [(kk, ru, _date(values.get(key)) or "—") for key, (kk, ru) in CERTIFICATE_FIELDS.items()]
        labels = {k: v for k, v in _FIELDS.items() if k not in CERTIFICATE_FIELDS and k != "applicationDate"}
    if kind == "refusal":  # the letter states the reason under its text
        labels = {k: v for k, v in labels.items() if k != "reason"}
    out += [(kk, ru, _date(values[key])) for key, (kk, ru) in labels.items() if values.get(key) not in (None, "")]
    known = set(_FIELDS) | set(CERTIFICATE_FIELDS) if kind == "certificate" else set(_FIELDS)
    for key, value in content.items():  # whatever else was signed is printed too, under its own name
        if key not in known and key not in _SHOWN_ELSEWHERE and value not in (None, "", [], {}):
            out.append((key, "", _date(value)))
    return out


def _signer_line(document: SignedResult) -> str:
    """Whose certificate the signature names (read from the signature; its trust is the verifier's business)."""
    try:
        info = describe_certificate(verify_detached(content=document.canonical(),
                                                    signature_b64=document.signature).signer)
    except (SignatureError, MeshError):
        return ""
    holder = ", ".join(filter(None, [info.common_name, info.organisation]))
    return f"ЭЦҚ / ЭЦП: {holder}; сертификат № {info.serial}"


class _Pdf(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(_FONT, "", 7)
        self.set_text_color(110)
        self.cell(0, 4, f"egov-mesh (TEST) — {self.page_no()}/{{nb}}", align="C")
        self.set_text_color(0)

    def para(self, text: str, *, size: float = 10, bold: bool = False, align: str = "L", height: float = 5) -> None:
        """A paragraph the page's width, left out when there is nothing to say."""
        if text:
            self.set_font(_FONT, "B" if bold else "", size)
            self.multi_cell(self.epw, height, text, align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def render_pdf(document: SignedResult, *, verify_url: str = DEFAULT_VERIFY_URL,
               max_qr_chars: int = QR_MAX_CHARS) -> bytes:
    """The document as a printable A4 PDF: kk/ru form, the QR code, and the signed data embedded."""
    content = document.content
    kind = document_kind(content)
    payload = qr_payload(document, verify_url=verify_url, max_chars=max_qr_chars)
    pdf = _new_page(content)
    _draw_header(pdf, content)
    _draw_title(pdf, content, kind)
    _draw_body(pdf, content, kind)
    _draw_fields(pdf, content, kind)
    _draw_signature(pdf, document, kind)
    _draw_qr(pdf, document, payload, verify_url=verify_url)
    pdf.embed_file(bytes=document.json_bytes(), basename=DOCUMENT_FILE, mime_type="application/json",
                   desc="the signed document: content and detached CMS over its RFC 8785 form")
    pdf.embed_file(bytes=payload.encode(), basename=QR_FILE, mime_type="text/plain", desc="the QR code's payload")
    return bytes(pdf.output())


def _new_page(content: dict[str, Any]) -> _Pdf:
    """An A4 document with the mesh's margins, fonts and metadata, on its first page."""
    pdf = _Pdf(format="A4")
    pdf.set_margins(18, 15, 18)
    pdf.set_auto_page_break(True, margin=18)
    pdf.add_font(_FONT, "", _FONT_DIR / "PT_Sans-Web-Regular.ttf")
    pdf.add_font(_FONT, "B", _FONT_DIR / "PT_Sans-Web-Bold.ttf")
    pdf.set_title(f"{_text(content.get('documentNumber'))} {_text(content.get('title'))}".strip())
    pdf.set_creator("egov-mesh")
    pdf.set_lang("kk")
    pdf.alias_nb_pages()
    pdf.add_page()
    return pdf


def _draw_header(pdf: _Pdf, content: dict[str, Any]) -> None:
    """The header as the seeds' e-gov forms have it: the e-gov box, the system's words, the number and date, the
    issuer in both languages."""
    width = pdf.epw
    top = pdf.get_y()
    pdf.set_font(_FONT, "B", 16)
    pdf.cell(28, 12, "e-gov", border=1, align="C")
    pdf.set_xy(pdf.l_margin + 32, top)
    pdf.set_font(_FONT, "", 8)
    pdf.multi_cell(70, 4, "Құжат электрондық үкімет жүйесінде құрылды\nДокумент сформирован системой электронного "
                   "правительства", align="L")
    pdf.set_xy(pdf.l_margin + 106, top)
    pdf.multi_cell(width - 106, 4, f"Бірегей нөмір / Уникальный номер: {_text(content.get('documentNumber'))}\n"
                   f"Берілген күні / Дата выдачи: {_date(content.get('date'))}", align="R")
    pdf.set_y(max(pdf.get_y(), top + 14))
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + width, pdf.get_y())
    pdf.ln(3)
    issuer_kk, issuer_ru = _issuer(content)
    pdf.para(issuer_kk, size=10, bold=True, align="C")
    pdf.para(issuer_ru, size=10, bold=True, align="C")
    pdf.ln(4)


def _draw_title(pdf: _Pdf, content: dict[str, Any], kind: str) -> None:
    referral = content.get("referralKind")
    title_kk, title_ru = document_title(kind, referral_kind=referral if isinstance(referral, str) else None) \
        if kind in TITLES else ("Құжат", _text(content.get("title")))
    pdf.para((_text(content.get("titleKk")) or title_kk).upper(), size=13, bold=True, align="C", height=6)
    pdf.para(title_ru.upper(), size=13, bold=True, align="C", height=6)
    pdf.ln(4)


def _draw_body(pdf: _Pdf, content: dict[str, Any], kind: str) -> None:
    """The Kazakh part, then the Russian one, each naming the applicant; a refusal's reason under them."""
    applicant, iin = _text(content.get("applicant")), _text(content.get("applicantIin"))
    body_kk, body_ru = _BODIES.get(kind, ("", ""))
    if kind == "refusal":  # seed 003's letter, unless the content brings its own words
        service = _text(content.get("service"))
        body_kk = f"Сізге «{service}» мемлекеттік қызметін көрсетуден бас тартылғанын хабарлаймыз."
        body_ru = f"Доводим до Вашего сведения, что Вам отказано в предоставлении государственной услуги «{service}»."
    body_ru = _text(content.get("text")) or body_ru
    body_kk = _text(content.get("textKk")) or body_kk
    pdf.para(f"Т.А.Ә.: {applicant}", bold=True)
    pdf.para(f"ЖСН: {iin}")
    pdf.para(body_kk)
    pdf.ln(2)
    pdf.para(f"Ф.И.О.: {applicant}", bold=True)
    pdf.para(f"ИИН: {iin}")
    pdf.para(body_ru)
    if kind == "refusal" and content.get("reason"):  # the letter's next line: «Причина отказа: …»
        pdf.ln(1)
        pdf.para(f"{' / '.join(_FIELDS['reason'])}: {_text(content['reason'])}", bold=True)
    pdf.ln(3)


def _draw_fields(pdf: _Pdf, content: dict[str, Any], kind: str) -> None:
    fields = _fields(content, kind=kind)
    if fields:
        pdf.set_font(_FONT, "", 9.5)
        with pdf.table(col_widths=(72, pdf.epw - 72), first_row_as_headings=False, line_height=5,
                       borders_layout="HORIZONTAL_LINES", text_align=("LEFT", "LEFT")) as table:
            for kk, ru, value in fields:
                row = table.row()
                row.cell(f"{kk} / {ru}" if ru else kk)
                row.cell(value)
        pdf.ln(3)


def _draw_signature(pdf: _Pdf, document: SignedResult, kind: str) -> None:
    """Who signs (a certificate: the form's closing lines — the head, the specialist, the application date), whose
    certificate the signature names, and the legal notice."""
    content = document.content
    name, position, position_kk = _signer(content)
    if kind == "certificate":
        head_kk, head_ru = SIGNATURE_LABELS["head"]
        own = f" ({' / '.join(filter(None, [position_kk, position]))})" \
            if position and position.lower() not in ("руководитель", head_ru.lower()) else ""
        pdf.para(f"{head_kk} / {head_ru}: {name}{own}", bold=True)
        specialist, _, _ = _official(content.get("specialist"))
        pdf.para(f"{' / '.join(SIGNATURE_LABELS['specialist'])}: {specialist}")
        pdf.para(f"{' / '.join(SIGNATURE_LABELS['certificateApplied'])}: {_date(content.get('applicationDate'))}")
    else:
        if position_kk or position:
            pdf.para(f"{' / '.join(SIGNATURE_LABELS['position'])}: "
                     f"{' / '.join(filter(None, [position_kk, position]))}")
        if name:
            pdf.para(f"{' / '.join(SIGNATURE_LABELS['signedBy'])}: {name}", bold=True)
    pdf.para(_signer_line(document), size=8, height=4)
    pdf.ln(2)
    pdf.para(_LEGAL[0], size=8, height=4)
    pdf.para(_LEGAL[1], size=8, height=4)
    pdf.ln(3)


def _draw_qr(pdf: _Pdf, document: SignedResult, payload: str, *, verify_url: str) -> None:
    """The QR code, and beside it what it holds and the document's SHA-256."""
    qr = segno.make(payload, error=QR_ERROR, boost_error=True, micro=False)
    size = min(75.0, max(35.0, qr.symbol_size(border=4)[0] * 0.42))
    if pdf.get_y() + size > pdf.h - pdf.b_margin:
        pdf.add_page()
    top = pdf.get_y()
    image = io.BytesIO()
    qr.save(image, kind="png", scale=6, border=4)
    image.seek(0)
    pdf.image(image, x=pdf.l_margin, y=top, w=size, h=size)
    pdf.set_xy(pdf.l_margin + size + 4, top + 4)
    pdf.set_font(_FONT, "", 8)
    if payload.startswith(QR_PREFIX):
        caption = ("*Штрих-код электрондық-цифрлық қолтаңбамен қол қойылған деректерді қамтиды.\n"
                   "*Штрих-код содержит данные, подписанные электронной цифровой подписью.")
    else:
        caption = ("*Штрих-кодта тексеру сілтемесі бар.\n*Штрих-код содержит ссылку для проверки:\n"
                   f"{verify_url}")
    pdf.multi_cell(pdf.epw - size - 4, 4, f"{caption}\n\nSHA-256:\n{document.sha256()}", align="L",
                   new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_y(max(pdf.get_y(), top + size))


def filename(document: SignedResult | dict[str, Any], extension: str) -> str:
    """A safe download name from the document number (``ZHZ-2026-000001.pdf``)."""
    content = document.content if isinstance(document, SignedResult) else document
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", _text(content.get("documentNumber"))).strip("._") or "document"
    return f"{stem[:80]}.{extension}"


__all__ = ["CERTIFICATE_FIELDS", "DEFAULT_VERIFY_URL", "QR_MAX_CHARS", "QR_PREFIX", "REFERRAL_TITLES",
           "SIGNATURE_LABELS", "TITLES", "DocumentError", "PdfContents", "QrReference", "SignedResult", "b45decode",
           "b45encode", "decode_qr", "document_date", "document_kind", "document_title", "filename", "full_qr_payload",
           "qr_payload", "read_pdf", "read_pdf_isolated", "render_pdf"]

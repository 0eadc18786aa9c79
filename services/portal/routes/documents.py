"""Result documents: the citizen's own signed result (JSON or PDF, ``usecases.result_documents``) and anyone's
verification of one (``usecases.document_verification``) — from its JSON, its PDF or its QR code's payload."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.formparsers import MultiPartException, MultiPartParser

from services.portal.deps import Caller, CurrentLogin, PortalDep
from services.portal.schemas.cases import SignedDocumentPublic
from services.portal.schemas.documents import VerificationOut
from shared.employment.documents import DocumentError, QrReference, SignedResult, decode_qr, filename, read_pdf_isolated
from shared.employment.logins import refuse_unless_citizen as own
from shared.errors import MeshError
from shared.pki.canonical import parse_json
from shared.web.http_app import read_body
from shared.web.openapi_errors import error_responses

router = APIRouter()

_VERIFY_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"oneOf": [
        {"type": "object", "required": ["content", "signature"], "properties": {
            "content": {"type": "object"}, "signature": {"type": "string"}}},
        {"type": "object", "required": ["qr"], "properties": {"qr": {"type": "string"}}}]}},
    "application/pdf": {"schema": {"type": "string", "format": "binary"}},
    "text/plain": {"schema": {"type": "string", "description": "a QR code's payload"}},
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        "file": {"type": "string", "format": "binary", "description": "the PDF, or the document's JSON"},
        "qr": {"type": "string"}}}}}}}
ACCEPTED = ("", "application/json", "application/pdf", "text/plain", "multipart/form-data", "application/octet-stream")
JSON_DOCUMENT: dict[int | str, dict[str, Any]] = {200: {
    "description": "the signed result, as a file to keep", "model": SignedDocumentPublic}}
PDF_DOCUMENT: dict[int | str, dict[str, Any]] = {200: {
    "description": "the printable PDF", "content": {"application/pdf": {"schema": {"type": "string",
                                                                                    "format": "binary"}}}}}


async def _given(data: bytes, *, kind: str, caller: str) -> tuple[SignedResult | QrReference, str, str | None]:
    """What the caller gave: (the document or a QR code's reference, where it came from, a PDF's QR payload). A PDF is
    read in a worker process (``read_pdf_isolated``); JSON is held to the mesh's JSON limit (``parse_json``)."""
    if kind == "application/pdf" or data.startswith(b"%PDF"):
        found = await read_pdf_isolated(data, caller=caller)
        return found.document, "pdf", found.qr
    if kind == "text/plain":
        return decode_qr(data.decode("utf-8", "replace")), "qr", None
    value = parse_json(data, malformed="DOCUMENT_MALFORMED", what="the document: it")
    if isinstance(value, dict) and set(value) == {"qr"} and isinstance(value["qr"], str):
        return decode_qr(value["qr"]), "qr", None
    return SignedResult.parse(value), "json", None


async def _given_multipart(request: Request, data: bytes, *,
                           caller: str) -> tuple[SignedResult | QrReference, str, str | None]:
    async def stream() -> AsyncGenerator[bytes, None]:
        yield data

    try:
        form = await MultiPartParser(request.headers, stream(), max_files=1, max_fields=2,
                                     max_part_size=len(data) + 1).parse()
    except MultiPartException as exc:
        raise DocumentError("DOCUMENT_MALFORMED", f"multipart body: {exc.message}") from None
    upload, qr = form.get("file"), form.get("qr")
    if upload is not None and not isinstance(upload, str):
        kind = (upload.content_type or "").split(";")[0].strip().lower()
        return await _given(await upload.read(), kind=kind if kind in ("application/pdf", "text/plain") else "",
                            caller=caller)
    if isinstance(qr, str):
        return decode_qr(qr), "qr", None
    raise DocumentError("DOCUMENT_MALFORMED", "send the document as the part `file` (PDF or JSON), or `qr`")


def _download(body: bytes, *, name: str, media_type: str) -> Response:
    return Response(content=body, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/citizens/{iin}/applications/{correlation_id}/document", tags=["documents"], response_class=Response,
            summary="The signed result of one of the citizen's applications: its content and signature (JSON)",
            description="`404 APPLICATION_NOT_FOUND` for an application that is not the citizen's, "
                        "`409 DOCUMENT_NOT_READY` before ИС МИО has signed a result, `403 NOT_YOUR_DATA` for "
                        "another citizen's IIN.",
            responses=JSON_DOCUMENT | error_responses("NOT_YOUR_DATA", "APPLICATION_NOT_FOUND", "DOCUMENT_NOT_READY"))
async def document(iin: str, correlation_id: str, login: CurrentLogin, portal: PortalDep) -> Response:
    own(iin, login)
    found = await portal.documents.document(iin=iin, correlation_id=correlation_id)
    return _download(found.json_bytes(), name=filename(found, "json"), media_type="application/json")


@router.get("/citizens/{iin}/applications/{correlation_id}/document.pdf", tags=["documents"],
            summary="The signed result as a printable bilingual (kk/ru) PDF with its QR code and, embedded, the "
                    "signed JSON", response_class=Response,
            responses=PDF_DOCUMENT | error_responses("NOT_YOUR_DATA", "APPLICATION_NOT_FOUND", "DOCUMENT_NOT_READY"))
async def document_pdf(iin: str, correlation_id: str, login: CurrentLogin, portal: PortalDep) -> Response:
    own(iin, login)
    found = await portal.documents.document(iin=iin, correlation_id=correlation_id)
    return _download(await portal.documents.pdf(found), name=filename(found, "pdf"), media_type="application/pdf")


@router.post("/documents/verify", response_model=VerificationOut, response_model_exclude_unset=True,
             tags=["documents"], openapi_extra=_VERIFY_BODY,
             summary="Verify a result document anyone holds: its JSON, its PDF, or its QR code's payload",
             description="Anonymous, at most `PORTAL_ANONYMOUS_VERIFICATIONS_PER_MINUTE` a minute from one "
                         "address (`429 TOO_MANY_ATTEMPTS`). Answers `valid` with each check and every failure "
                         "by code. `content`, `signature`: what was signed, the mathematics (`CONTENT_ALTERED`, "
                         "`SIGNATURE_INVALID`, `SIGNATURE_MALFORMED`). `issuer`: the content names its issuer "
                         "(`issuerBin`, `regulationId`) and the gateway's registry knows that BIN as the body "
                         "issuing that regulation's results — a district's ИС МИО, or ИС ЦОН for the notice the "
                         "State Corporation forms (`ISSUER_NOT_NAMED`, `REGULATION_UNKNOWN`, `ISSUER_UNKNOWN`, "
                         "`ISSUER_NOT_FOR_REGULATION`, `REGULATION_MISMATCH`, `ISSUER_UNVERIFIABLE`). `signer`: "
                         "an official of that BIN with the role the regulation says signs it, the one "
                         "`content.signer` names (`SIGNER_NOT_AN_OFFICIAL`, `SIGNER_NOT_OF_ISSUER`, "
                         "`SIGNER_ROLE_NOT_ENTITLED`, `SIGNER_NOT_NAMED`, `SIGNER_MISMATCH`). `signingTime`: the "
                         "CMS signingTime, not in the future, not before the content's `date` "
                         "(`SIGNING_TIME_MISSING`, `SIGNING_TIME_IN_FUTURE`, `DOCUMENT_DATED_AFTER_SIGNING`, "
                         "`DOCUMENT_DATE_MISSING`). `certificate`: chains to НУЦ, a signing certificate valid at "
                         "the signing time (`CERTIFICATE_UNTRUSTED`, `CERTIFICATE_WRONG_KEY_USAGE`, "
                         "`CERTIFICATE_EXPIRED_AT_SIGNING`, `CERTIFICATE_NOT_YET_VALID_AT_SIGNING`). "
                         "`revocation`: OCSP, after the certificate's end too; `GOOD`, or "
                         "`REVOKED_AFTER_SIGNING` for a later revocation that leaves it valid (the official "
                         "left); a compromised key voids whatever it signed (`CERTIFICATE_REVOKED`, "
                         "`CERTIFICATE_STATUS_UNKNOWN`, `REVOCATION_UNAVAILABLE`). `qr`, for a PDF: its QR code "
                         "carries the same document (`QR_MISMATCH`). Unreadable input is `422` "
                         "(`DOCUMENT_MALFORMED`, `PDF_UNREADABLE`, `PDF_WITHOUT_DOCUMENT`, `QR_PAYLOAD_MALFORMED`, "
                         "`QR_HOLDS_REFERENCE_ONLY`), too large `413 DOCUMENT_TOO_LARGE`; a PDF is read in a "
                         "worker process, one at a time from one address (`429 PDF_ALREADY_READING`), at most "
                         "four at once (`503 PDF_READER_BUSY`), refused when it costs too much "
                         "(`PDF_TOO_MANY_FILES`, `PDF_EMBEDDED_FILE_TOO_LARGE`, `PDF_TOO_COSTLY`). It verifies "
                         "what it is given and never looks up a stored document.",
             responses=error_responses("DOCUMENT_TOO_LARGE", "JSON_TOO_MANY_ELEMENTS", "REQUEST_TOO_LARGE",
                                       "DOCUMENT_TYPE_UNSUPPORTED", "DOCUMENT_MALFORMED", "JSON_STRING_INVALID",
                                       "JSON_TOO_DEEP", "PDF_TOO_COSTLY", "PDF_WITHOUT_DOCUMENT",
                                       "QR_HOLDS_REFERENCE_ONLY", "QR_PAYLOAD_MALFORMED", "PDF_ALREADY_READING",
                                       "TOO_MANY_ATTEMPTS", "PDF_READER_BUSY"))
async def verify(request: Request, portal: PortalDep, caller: Caller) -> VerificationOut:
    portal.verifications.check(caller)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ACCEPTED:
        raise MeshError("DOCUMENT_TYPE_UNSUPPORTED", "send application/json, application/pdf, text/plain (a QR "
                        "payload) or multipart/form-data")
    data = await read_body(request, limit=portal.verify_limit, code="DOCUMENT_TOO_LARGE", what="a document")
    given, source, qr = (await _given_multipart(request, data, caller=caller) if kind == "multipart/form-data"
                         else await _given(data, kind=kind, caller=caller))
    return VerificationOut.model_validate(await portal.verification.verify(given, source=source, qr=qr))

"""The test-identity kit for scripts: find a running mesh, mint citizens in one call, sign, log in.

    from meshkit.sdk import Mesh
    mesh = Mesh.from_file()                       # var/mesh.json, written by `make run`
    mesh = Mesh.from_url("http://localhost:8002") # or ask a gateway (docker compose); admin token: $MESH_ADMIN_TOKEN
    citizen = mesh.new_citizen(district="almaty") # ГБД ФЛ person + НУЦ certificates + portal account
    session = mesh.login_eds(citizen)             # or mesh.login(citizen.iin, citizen.password)
    print(session.profile())                      # the citizen's data as ГБД ФЛ holds it
    case = session.apply(citizen.signed_request("employment.job-seeker-registration"))
    mesh.settle(case["correlationId"])            # straight away: until final and heard at the portal (in the mesh)
    head = mesh.staff_login(mesh.staff("zhezkazgan", role="head"))   # ИС МИО staff, manual mode
    mesh.advance_clock(working_days=3)            # mesh-wide; due steps of simulated staff fire

Everything goes through the services' public and admin HTTP APIs; nothing here reaches into a database.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import re
import secrets
import string
import time
import uuid
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from meshkit.mesh_runner import REPO_ROOT
from meshkit.private_files import write_private
from meshkit.resets import MeshResets
from meshkit.scenarios import DEFAULT_TTL_S, Scenario, Scenarios, scenario_headers
from shared.clock import ClockState, MeshClock
from shared.ids import make_bin
from shared.pki.signing import SignerIdentity, sign_json

if TYPE_CHECKING:
    from meshkit.chaos_kit import ChaosKit, ChaosRule
    from meshkit.journal_kit import JournalKit

DEFAULT_MESH_FILE = REPO_ROOT / "var" / "mesh.json"
NUMBER = re.compile(r"^[A-Z]{2,4}-\d{4}-\d{6}$")  # an ИС МИО application number, e.g. ZHZ-2026-000001
ACTIVE = ("RECEIVED", "IN_PROGRESS")
STATUS_RANK = {"SENT": 0, "RECEIVED": 1, "IN_PROGRESS": 2, "COMPLETED": 3, "REFUSED": 3, "NOT_ACCEPTED": 3,
               "FAILED": 3}
FINAL_RANK = 3


class KitError(RuntimeError):
    """A service refused what the kit asked; ``code`` is the service's machine-readable reason."""

    def __init__(self, *, code: str, message: str, status: int) -> None:
        super().__init__(f"{code} ({status}): {message}")
        self.code = code
        self.message = message
        self.status = status


def _checked(reply: httpx.Response) -> Any:
    if reply.status_code >= 400:
        try:
            body = reply.json()
        except ValueError:
            body = {"code": "HTTP_ERROR", "message": reply.text[:300]}
        raise KitError(code=body.get("code", "HTTP_ERROR"), message=body.get("message", ""), status=reply.status_code)
    return reply.json() if reply.content else None


def _submit(http: httpx.Client, url: str, *, body: dict[str, Any], headers: dict[str, str],
            idempotency_key: str | None) -> Any:
    """POST a submission with an ``Idempotency-Key`` (a fresh one unless given); if the connection drops before
    the answer, send it once more with the same key: the service answers with the case the first call made."""
    key = {"Idempotency-Key": idempotency_key or str(uuid.uuid4())}
    try:
        return _checked(http.post(url, headers=headers | key, json=body))
    except httpx.TransportError:
        return _checked(http.post(url, headers=headers | key, json=body))


def verification_failures(answer: dict[str, Any]) -> list[str]:
    """One line per failure of a ``verify_document`` answer: ``CODE: message``."""
    return [f"{failure['code']}: {failure.get('message', '')}" for failure in answer.get("failures", [])]


def strong_password() -> str:
    """A password the portal's policy accepts."""
    alphabet = string.ascii_letters + string.digits
    return "Kz" + "".join(secrets.choice(alphabet) for _ in range(10)) + "7!"


@dataclass(frozen=True)
class MeshInfo:
    gateway: str
    nuc: str
    portal: str
    gbd_fl: str
    con: str
    mio: str
    admin_token: str
    amqp_url: str | None = None
    launcher: str | None = None  # the launcher's control endpoint (``make run`` only)

    @classmethod
    def from_file(cls, path: str | Path | None = None) -> MeshInfo:
        path = Path(path or os.environ.get("MESH_FILE") or DEFAULT_MESH_FILE)
        if not path.exists():
            raise KitError(code="MESH_NOT_FOUND", status=0,
                           message=f"{path} does not exist: start the mesh with `make run`, or pass --mesh")
        return cls.from_descriptor(json.loads(path.read_text()))

    @classmethod
    def from_descriptor(cls, data: dict[str, Any], *, admin_token: str | None = None) -> MeshInfo:
        """From ``var/mesh.json`` or the gateway's ``GET /mesh`` (the same shape)."""
        urls = {name: item["url"] for name, item in data["services"].items()}
        return cls(gateway=urls["shep_gateway"], nuc=urls["nuc_pki"], portal=urls["portal"], gbd_fl=urls["gbd_fl"],
                   con=urls["con_operator"], mio=urls["mio_workstation"],
                   admin_token=data.get("adminToken") or admin_token or "",
                   amqp_url=data.get("amqpUrl"), launcher=(data.get("launcher") or {}).get("controlUrl"))

    @classmethod
    def from_url(cls, url: str, *, admin_token: str | None = None, timeout_s: float = 10.0) -> MeshInfo:
        """Ask the gateway at ``url`` where the mesh is (``GET /mesh``), as seen from here: a docker compose mesh
        as well as ``make run``'s. ``admin_token`` (default ``$MESH_ADMIN_TOKEN``) is sent and checked; without
        one the kit can still log in and apply, not call admin APIs (minting citizens among them)."""
        token = admin_token if admin_token is not None else os.environ.get("MESH_ADMIN_TOKEN")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            reply = httpx.get(f"{url.rstrip('/')}/mesh", headers=headers, timeout=timeout_s)
        except httpx.HTTPError as exc:
            raise KitError(code="MESH_NOT_FOUND", status=0,
                           message=f"{url}/mesh does not answer ({type(exc).__name__}): is the gateway there?") from exc
        return cls.from_descriptor(_checked(reply), admin_token=token)


_COPIES: dict[str, tuple[str, bytes]] = {}  # sha256 → (content type, bytes) of the copies this process made


def _text_pdf(lines: list[str]) -> bytes:
    """A one-page PDF showing ``lines`` (ASCII), built by hand: a synthetic scan, small and deterministic."""
    text = "BT /F1 12 Tf 50 780 Td 16 TL " + " ".join(
        "(" + line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") '" for line in lines) + " ET"
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> "
               "/Contents 5 0 R >>", "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
               f"<< /Length {len(text)} >>\nstream\n{text}\nendstream"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("ascii")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode("ascii")
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode("ascii")
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode("ascii")
    return bytes(out)


def document_copy(*, kind: str, lines: list[str], name: str, content_type: str = "application/pdf",
                  content: bytes | None = None, **entry: Any) -> dict[str, Any]:
    """A document for a form's ``documents``: its entry (name, kind, SHA-256, type, size, and e.g. number,
    validUntil); the copy — ``content``, or a synthetic PDF of ``lines`` — is kept to go with the form
    (``attachments_for``)."""
    data = content if content is not None else _text_pdf(lines)
    sha = hashlib.sha256(data).hexdigest()
    _COPIES[sha] = (content_type, data)
    return {"name": name, "kind": kind, "sha256": sha, "contentType": content_type, "sizeBytes": len(data),
            **{k: v for k, v in entry.items() if v is not None}}


def identity_document(*, iin: str, valid_until: str | None = None,
                      number: str | None = None) -> dict[str, Any]:
    """The applicant's identity card as the Standard's п. 9 asks (its electronic copy): valid for eight more
    years unless ``valid_until`` says otherwise (an expired one is refused by the provider's document check)."""
    until = valid_until or (dt.date.today() + dt.timedelta(days=8 * 365)).isoformat()
    number = number or f"0{iin[-8:]}"
    return document_copy(kind="identity-document", name="udostoverenie-lichnosti.pdf", number=number,
                         validUntil=until, lines=["IDENTITY CARD (synthetic test document)", f"No {number}",
                                                  f"IIN {iin}", f"valid until {until}"])


def attachments_for(form: dict[str, Any]) -> list[dict[str, str]]:
    """The copies of the form's documents this process made, as the portal and ИС МИО take them."""
    out = []
    for document in form.get("documents") or []:
        copy = _COPIES.get(document.get("sha256", ""))
        if copy is not None:
            out.append({"sha256": document["sha256"], "contentType": copy[0],
                        "contentBase64": base64.b64encode(copy[1]).decode("ascii")})
    return out


def _with_copies(request: dict[str, Any]) -> dict[str, Any]:
    """A request as sent: with the copies of the documents its form names, when it does not carry them itself."""
    return {"attachments": attachments_for(request.get("form") or {})} | dict(request)


def application_form(*, service_id: str, iin: str, surname: str, name: str, patronymic: str | None,
                     **fields: Any) -> dict[str, Any]:
    """A filled application form (fields such as periodFrom, periodTo, referralKind), as citizens sign it. Unless
    ``documents`` is given, it names the applicant's identity card (Standard п. 9), whose copy goes with it."""
    form = {"serviceId": service_id, "applicantIin": iin, "surname": surname, "name": name,
            "filledAt": dt.datetime.now(dt.UTC).isoformat(), **fields}
    if "documents" not in fields:
        form["documents"] = [identity_document(iin=iin)]
    if patronymic:
        form["patronymic"] = patronymic
    return form


class _KeyHolder:
    """Someone with a НУЦ signing and authentication key pair in PKCS#12 form (a citizen, a staff member)."""

    signing_p12: bytes
    auth_p12: bytes
    pkcs12_password: str

    def signer(self, *, usage: str = "sign") -> SignerIdentity:
        blob = self.signing_p12 if usage == "sign" else self.auth_p12
        return SignerIdentity.from_pkcs12(data=blob, password=self.pkcs12_password)

    def sign(self, value: Any, *, usage: str = "sign", at: dt.datetime | None = None) -> str:
        """Base64 detached CMS over the RFC 8785 form of ``value``, with the signing (or auth) key; its signingTime is
        ``at`` — pass the mesh's time (``Mesh.now()``) for what the mesh judges at it, such as a result document —
        else this machine's clock, as a citizen's own signing tool would stamp it."""
        return sign_json(value=value, signer=self.signer(usage=usage), at=at)


@dataclass
class Citizen(_KeyHolder):
    """Everything needed to act as one synthetic citizen."""

    iin: str
    surname: str
    name: str
    patronymic: str | None
    district: str
    birth_date: str
    sex: str
    password: str | None
    pkcs12_password: str
    signing_p12: bytes = field(repr=False)
    auth_p12: bytes = field(repr=False)
    created: bool = False

    def application_form(self, service_id: str, **fields: Any) -> dict[str, Any]:
        """A filled application form for a service (fields such as periodFrom, periodTo, referralKind)."""
        return application_form(service_id=service_id, iin=self.iin, surname=self.surname, name=self.name,
                                patronymic=self.patronymic, **fields)

    def signed_request(self, service_id: str, **fields: Any) -> dict[str, Any]:
        """The form, the citizen's EDS over it (signing key) and the copies of the documents it names, ready to
        send (``documents=[...]`` replaces the identity card the form names by default)."""
        form = self.application_form(service_id, **fields)
        return {"form": form, "formSignature": self.sign(form), "attachments": attachments_for(form)}

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        write_private(directory / "signing.p12", self.signing_p12)
        write_private(directory / "auth.p12", self.auth_p12)
        record = {k: v for k, v in asdict(self).items() if k not in ("signing_p12", "auth_p12")}
        record |= {"signingP12": "signing.p12", "authP12": "auth.p12"}
        write_private(directory / "citizen.json", json.dumps(record, ensure_ascii=False, indent=2))
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> Citizen:
        directory = Path(directory)
        record = json.loads((directory / "citizen.json").read_text())
        return cls(**{k: v for k, v in record.items() if k not in ("signingP12", "authP12")},
                   signing_p12=(directory / record["signingP12"]).read_bytes(),
                   auth_p12=(directory / record["authP12"]).read_bytes())


class _BearerSession:
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class PortalSession(_BearerSession):
    mesh: Mesh
    iin: str
    token: str
    method: str
    expires_at: str

    def me(self) -> dict[str, Any]:
        return _checked(self.mesh.http.get(f"{self.mesh.info.portal}/me", headers=self.headers))

    def profile(self) -> dict[str, Any]:
        return _checked(self.mesh.http.get(f"{self.mesh.info.portal}/citizens/{self.iin}/profile",
                                           headers=self.headers))

    def logout(self) -> None:
        _checked(self.mesh.http.post(f"{self.mesh.info.portal}/auth/logout", headers=self.headers))

    def apply(self, request: dict[str, Any], *, district: str | None = None,
              idempotency_key: str | None = None, scenario: Scenario | str | None = None) -> dict[str, Any]:
        """Send a signed application (``Citizen.signed_request``) through the portal — safe to repeat with the
        same ``idempotency_key``; a call cut off is sent again once with it. ``scenario``: the outcomes a
        registered scenario forces, for this application's flow alone (``Mesh.scenario``)."""
        body = _with_copies(request) | ({"district": district} if district else {})
        return _submit(self.mesh.http, f"{self.mesh.info.portal}/citizens/{self.iin}/applications", body=body,
                       headers=self.headers | scenario_headers(scenario), idempotency_key=idempotency_key)

    def applications(self) -> list[dict[str, Any]]:
        return _checked(self.mesh.http.get(f"{self.mesh.info.portal}/citizens/{self.iin}/applications",
                                           headers=self.headers))["applications"]

    def notifications(self) -> list[dict[str, Any]]:
        return _checked(self.mesh.http.get(f"{self.mesh.info.portal}/citizens/{self.iin}/notifications",
                                           headers=self.headers))["notifications"]

    def document(self, correlation_id: str) -> dict[str, Any]:
        """The signed result of one of this citizen's applications (``content`` and ``signature``)."""
        return _checked(self.mesh.http.get(
            f"{self.mesh.info.portal}/citizens/{self.iin}/applications/{correlation_id}/document",
            headers=self.headers))

    def document_pdf(self, correlation_id: str) -> bytes:
        """The same result as the bilingual PDF (the signed JSON embedded, the QR code holding it)."""
        reply = self.mesh.http.get(
            f"{self.mesh.info.portal}/citizens/{self.iin}/applications/{correlation_id}/document.pdf",
            headers=self.headers)
        if reply.status_code >= 400:
            _checked(reply)
        return reply.content


def new_bin() -> str:
    """A BIN for a made-up organisation: a resident legal entity's head office registered in a random month of
    2000-2025, a random serial, the check digit right (seed 001's «ИИН/БИН»; shared/ids.py's rules)."""
    while True:
        made = make_bin(year=2000 + secrets.randbelow(26), month=1 + secrets.randbelow(12),
                        serial=secrets.randbelow(100_000))
        if made is not None:
            return made


class _Named(Protocol):
    """Whoever a form is for: a ``Citizen``, a ``meshkit.load.Person``…"""

    iin: str
    surname: str
    name: str
    patronymic: str | None


@dataclass
class Representative(_KeyHolder):
    """A person acting for an organisation at the portal (seed 001: «ИИН/БИН»): НУЦ's employee certificates with
    the organisation's BIN and the person's IIN — the signing key signs the organisation's forms, the
    authentication key logs in by BIN. ``password``: the portal account's, if it has one."""

    iin: str
    surname: str
    name: str
    patronymic: str | None
    bin: str
    organisation: str
    role: str
    password: str | None
    pkcs12_password: str
    signing_p12: bytes = field(repr=False)
    auth_p12: bytes = field(repr=False)

    def application_form(self, service_id: str, applicant: _Named, **fields: Any) -> dict[str, Any]:
        """The organisation's form for ``applicant`` (the person the service is for: ``applicantIin``), naming the
        organisation (``applicantBin``) and this representative (``representativeIin``)."""
        return application_form(service_id=service_id, iin=applicant.iin, surname=applicant.surname,
                                name=applicant.name, patronymic=applicant.patronymic, applicantBin=self.bin,
                                representativeIin=self.iin, representativeName=f"{self.surname} {self.name}",
                                **fields)

    def signed_request(self, service_id: str, applicant: _Named, **fields: Any) -> dict[str, Any]:
        """The form, signed with the organisation's certificate (this representative's signing key), and the
        copies of the documents it names — for ``OrganisationSession.apply``."""
        form = self.application_form(service_id, applicant, **fields)
        return {"form": form, "formSignature": self.sign(form), "attachments": attachments_for(form)}


@dataclass
class OrganisationSession(_BearerSession):
    """A representative logged in for an organisation (by BIN): its applications and their history."""

    mesh: Mesh
    bin: str
    iin: str
    token: str
    method: str
    expires_at: str

    def _url(self, path: str) -> str:
        return f"{self.mesh.info.portal}/organisations/{self.bin}{path}"

    def me(self) -> dict[str, Any]:
        return _checked(self.mesh.http.get(f"{self.mesh.info.portal}/me", headers=self.headers))

    def logout(self) -> None:
        _checked(self.mesh.http.post(f"{self.mesh.info.portal}/auth/logout", headers=self.headers))

    def apply(self, request: dict[str, Any], *, district: str | None = None,
              idempotency_key: str | None = None) -> dict[str, Any]:
        """Send the organisation's signed application (``Representative.signed_request``) to the department of
        ``district`` (required by the portal: it looks up no one's address for an organisation — 422
        DISTRICT_REQUIRED without it); safe to repeat with the same ``idempotency_key``."""
        body = _with_copies(request) | ({"district": district} if district else {})
        return _submit(self.mesh.http, self._url("/applications"), body=body, headers=self.headers,
                       idempotency_key=idempotency_key)

    def applications(self) -> list[dict[str, Any]]:
        return _checked(self.mesh.http.get(self._url("/applications"), headers=self.headers))["applications"]

    def notifications(self) -> list[dict[str, Any]]:
        return _checked(self.mesh.http.get(self._url("/notifications"), headers=self.headers))["notifications"]


@dataclass(frozen=True)
class Staff(_KeyHolder):
    """A seeded ИС МИО staff identity (test support hands out its password and keys)."""

    iin: str
    district: str
    role: str
    password: str
    pkcs12_password: str
    signing_p12: bytes = field(repr=False)
    auth_p12: bytes = field(repr=False)


@dataclass
class StaffSession(_BearerSession):
    """A logged-in ИС МИО staff member: the district's inbox and the step actions of their role."""

    mesh: Mesh
    staff: Staff
    token: str

    def _url(self, path: str) -> str:
        return f"{self.mesh.info.mio}{path}"

    def inbox(self, status: str | None = None) -> dict[str, Any]:
        return _checked(self.mesh.http.get(self._url(f"/districts/{self.staff.district}/applications"),
                                           headers=self.headers, params={"status": status} if status else None))

    def application(self, number: str) -> dict[str, Any]:
        return _checked(self.mesh.http.get(self._url(f"/applications/{number}"), headers=self.headers))

    def enter(self, request: dict[str, Any], *, signed_by: str = "applicant",
              idempotency_key: str | None = None) -> dict[str, Any]:
        """Enter a paper application at the office (the regulation's accepting role); the form is signed by the
        applicant, or by this employee (``signed_by="employee"``). Safe to repeat with the same key."""
        return _submit(self.mesh.http, self._url(f"/districts/{self.staff.district}/applications"),
                       body=_with_copies(request) | {"signedBy": signed_by}, headers=self.headers,
                       idempotency_key=idempotency_key)

    def act(self, number: str, action: str, **body: Any) -> dict[str, Any]:
        """One step action: accept, assign, decide (decision=approve|refuse, reason), sign, issue."""
        return _checked(self.mesh.http.post(self._url(f"/applications/{number}/actions/{action}"),
                                            headers=self.headers, json=body))

    def sign(self, number: str, *, signer: Staff | None = None) -> dict[str, Any]:
        """Fetch the draft result document, sign it with EDS (this staff member's, unless ``signer``), send it."""
        draft = _checked(self.mesh.http.get(self._url(f"/applications/{number}/draft"), headers=self.headers))
        # signed at the mesh's time: the document is verified at its signingTime, and bears the mesh's date
        return self.act(number, "sign", signature=(signer or self.staff).sign(draft, at=self.mesh.now()))

    def register(self, iin: str | None = None) -> list[dict[str, Any]]:
        return _checked(self.mesh.http.get(self._url(f"/districts/{self.staff.district}/register"),
                                           headers=self.headers, params={"iin": iin} if iin else None))["cards"]


@dataclass(frozen=True)
class Operator(_KeyHolder):
    """A ЦОН operator of a branch: a State Corporation employee certificate with the operator role (test support
    hands out its password and keys)."""

    iin: str
    branch: str
    password: str
    pkcs12_password: str
    signing_p12: bytes = field(repr=False)
    auth_p12: bytes = field(repr=False)


@dataclass
class OperatorDesk(_BearerSession):
    """A logged-in ЦОН operator at the desk: call tickets, intake (ГБД ФЛ look-up), sign and send, form and hand
    out results. A whole visit::

        desk = kit.operator_desk("mamlyut")
        ticket = kit.take_ticket("mamlyut", "employment.unemployed-certificate")
        desk.call(ticket["id"])
        visit = desk.intake(ticket["id"], citizen.iin, periodFrom="2026-01-01", periodTo="2026-06-30")
        visit = desk.sign(visit)                  # the operator's EDS; desk.sign(visit, citizen) where allowed
        visit = desk.wait(visit, "COMPLETED")
        desk.hand_out(visit, ticket_id=ticket["id"], presented_iin=citizen.iin)   # or email="…"
        desk.close(ticket["id"])
    """

    mesh: Mesh
    operator: Operator
    token: str

    def _url(self, path: str) -> str:
        return f"{self.mesh.info.con}{path}"

    def _post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        return _checked(self.mesh.http.post(self._url(path), headers=self.headers, json=body))

    def call(self, ticket_id: str | None = None) -> dict[str, Any]:
        """Call a ticket of the branch (the longest waiting, unless named)."""
        return self._post("/tickets/call", {"ticketId": ticket_id} if ticket_id else None)

    def close(self, ticket_id: str, note: str | None = None) -> dict[str, Any]:
        return self._post(f"/tickets/{ticket_id}/close", {"note": note} if note else None)

    def waiting(self) -> list[dict[str, Any]]:
        return _checked(self.mesh.http.get(self._url(f"/branches/{self.operator.branch}/tickets"),
                                           headers=self.headers, params={"status": "WAITING"}))["tickets"]

    def scan(self, content: bytes, content_type: str = "application/pdf") -> dict[str, Any]:
        """Upload a scanned document; returns its SHA-256 (attach it with ``intake(..., scans=[{name, sha256}])``)."""
        return _checked(self.mesh.http.post(self._url("/scans"), content=content,
                                            headers=self.headers | {"Content-Type": content_type}))

    def intake(self, ticket_id: str, iin: str, *, representative: dict[str, Any] | None = None,
               scans: list[dict[str, str]] | None = None, scenario: Scenario | str | None = None,
               **fields: Any) -> dict[str, Any]:
        """The form for the ticket's citizen, filled from ГБД ФЛ (``fields``: periodFrom, periodTo, referralKind,
        phone, email, serviceId); ``scans``: the documents scanned (default: the citizen's identity card, scanned
        now; ``[]``: none); ``representative``: iin, name, powerOfAttorney{number, issuedOn, validUntil,
        principalIin, attorneyIin, services}; ``scenario``: its ГБД ФЛ look-up in a scenario's flow."""
        if scans is None:  # the identity card presented at the desk, scanned (Standard п. 9)
            card = identity_document(iin=iin)
            content_type, data = _COPIES[card["sha256"]]
            self.scan(data, content_type)
            scans = [{k: card[k] for k in ("name", "sha256", "kind", "number", "validUntil")}]
        body = {"iin": iin, **fields} | ({"representative": representative} if representative else {}) | (
            {"scans": scans} if scans else {})
        return _checked(self.mesh.http.post(self._url(f"/tickets/{ticket_id}/intake"), json=body,
                                            headers=self.headers | scenario_headers(scenario)))

    def sign(self, visit: dict[str, Any], signer: _KeyHolder | None = None, *,
             scenario: Scenario | str | None = None) -> dict[str, Any]:
        """Sign the filled form with this operator's EDS (or ``signer``'s: a citizen, where the regulation lets
        the citizen sign) and send it through the gateway (``scenario``: in that scenario's flow)."""
        signed_by = "applicant" if isinstance(signer, Citizen) else "operator"
        at = None if isinstance(signer, Citizen) else self.mesh.now()  # the operator's desk runs on the mesh clock
        body = {"signature": (signer or self.operator).sign(visit["form"], at=at), "signedBy": signed_by}
        return _checked(self.mesh.http.post(self._url(f"/visits/{visit['id']}/sign"), json=body,
                                            headers=self.headers | scenario_headers(scenario)))

    def visit(self, visit: dict[str, Any] | str) -> dict[str, Any]:
        visit_id = visit if isinstance(visit, str) else visit["id"]
        return _checked(self.mesh.http.get(self._url(f"/visits/{visit_id}"), headers=self.headers))

    def wait(self, visit: dict[str, Any], *statuses: str, timeout_s: float = 60.0) -> dict[str, Any]:
        """The visit once ИС МИО's status is one of ``statuses`` (default: any final one)."""
        wanted = statuses or ("COMPLETED", "REFUSED", "NOT_ACCEPTED", "FAILED")
        deadline = time.monotonic() + timeout_s
        while True:
            current = self.visit(visit)
            if current["status"] in wanted:
                return current
            if time.monotonic() > deadline:
                raise KitError(code="TIMEOUT", status=0, message=f"visit still {current['status']} after "
                               f"{timeout_s:g} s")
            time.sleep(0.2)

    def form_result(self, visit: dict[str, Any]) -> dict[str, Any]:
        """Where the regulation has the State Corporation form the result (004 п. 10): sign the draft notice."""
        draft = _checked(self.mesh.http.post(self._url(f"/visits/{visit['id']}/result/draft"),
                                            headers=self.headers))["content"]
        return self._post(f"/visits/{visit['id']}/result", {"signature": self.operator.sign(draft, at=self.mesh.now())})

    def hand_out(self, visit: dict[str, Any], *, ticket_id: str | None = None, presented_iin: str | None = None,
                 email: str | None = None, by_email: bool = False) -> dict[str, Any]:
        """In person (the ticket at the desk and the IIN on the identity document presented) or by e-mail."""
        if email or by_email:
            return self._post(f"/visits/{visit['id']}/hand-out",
                              {"delivery": "email"} | ({"email": email} if email else {}))
        return self._post(f"/visits/{visit['id']}/hand-out", {"delivery": "in_person", "ticketId": ticket_id,
                                                              "presentedIin": presented_iin})


class Mesh(MeshResets):
    def __init__(self, info: MeshInfo, *, timeout_s: float = 30.0) -> None:
        self.info = info
        self.http = httpx.Client(timeout=timeout_s)

    @classmethod
    def from_file(cls, path: str | Path | None = None) -> Mesh:
        return cls(MeshInfo.from_file(path))

    @classmethod
    def from_url(cls, url: str, *, admin_token: str | None = None) -> Mesh:
        """The mesh whose gateway is at ``url`` (``MeshInfo.from_url``), e.g. ``http://localhost:8002`` for
        ``docker compose -f deploy/docker-compose.yml up``."""
        return cls(MeshInfo.from_url(url, admin_token=admin_token))

    @property
    def _admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.info.admin_token}"}

    def close(self) -> None:
        self.http.close()

    # ---- the journal (meshkit/journal_kit.py; docs/journal.md) ---------------------------------------------------
    @property
    def journal_kit(self) -> JournalKit:
        """The whole mesh's journal, through the gateway: ``find``, ``count``, ``unmatched``, ``wait_until``."""
        from meshkit.journal_kit import JournalKit  # here: it builds on this module's KitError

        return JournalKit(self.http, url=self.info.gateway, headers=self._admin)

    def journal(self, **filters: Any) -> list[dict[str, Any]]:
        """The journal's entries matching ``filters`` (``correlation_id=``, ``service=``, ``kind=``, …,
        ``payload={"status": "COMPLETED"}``), oldest first."""
        return self.journal_kit.find(**filters)

    def wait_until(self, *, timeout_s: float, at_least: int = 1, **filters: Any) -> list[dict[str, Any]]:
        """Until ``at_least`` journal entries match ``filters`` — e.g. ``wait_until(timeout_s=60, service="portal",
        kind="consumed", message_type="NOTIFICATION", correlation_id=…, payload={"status": "COMPLETED"})`` — and
        returns them; ``WaitTimedOut`` (a ``KitError``, with ``nearest_misses``) after ``timeout_s``."""
        return self.journal_kit.wait_until(timeout_s=timeout_s, at_least=at_least, **filters)

    def explain(self, ref: str, *, as_: str = "json") -> Any:
        """What happened to a case (a correlation id or an application number), hop by hop — the gateway's signed
        log, the journal, ИС МИО's and ИС ЦОН's steps with their due times and overdue flags, the faults injected:
        ``as_="json"`` a dict, ``"mermaid"`` the sequence diagram's text, ``"svg"`` it drawn (docs/explain.md)."""
        suffix = {"json": "", "mermaid": ".mmd", "svg": ".svg"}.get(as_)
        if suffix is None:
            raise KitError(code="FORMAT_UNKNOWN", status=0, message=f"{as_}: json, mermaid or svg")
        reply = self.http.get(f"{self.info.gateway}/admin/cases/{ref}/explain{suffix}", headers=self._admin)
        if not suffix or reply.status_code != 200:
            return _checked(reply)
        return reply.text

    # ---- fault injection (meshkit/chaos_kit.py; docs/chaos.md) ------------------------------------------------------
    @property
    def chaos_kit(self) -> ChaosKit:
        """The mesh's fault-injection rules, through the gateway: ``add``, ``rules``, ``remove``, ``clear``,
        ``fired``."""
        from meshkit.chaos_kit import ChaosKit  # here: it builds on this module's KitError

        return ChaosKit(self.http, url=self.info.gateway, headers=self._admin)

    def chaos(self, *, kind: str, where: str = "gateway", fault: dict[str, Any] | None = None,
              probability: float = 1.0, times: int | None = None, for_s: float | None = None,
              seed: int | None = None, rule_id: str | None = None, **match: Any) -> ChaosRule:
        """Put a fault-injection rule in place — e.g. ``chaos(kind="drop", recipient="portal", times=1)`` — and
        return it; ``with mesh.chaos(...) as rule:`` removes it when the block ends. Match fields: ``service_id``,
        ``sender``, ``recipient``, ``message_type``, ``correlation_id``, ``district`` (the gateway), ``route``,
        ``method`` (``where="http:<service>"``); the fault's parameters in ``fault={"delayMs": 200}``."""
        from meshkit.chaos_kit import rule_body

        return self.chaos_kit.add(rule_body(kind=kind, where=where, fault=fault, probability=probability,
                                            times=times, for_s=for_s, seed=seed, rule_id=rule_id, **match))

    def __enter__(self) -> Mesh:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ---- scenarios per flow (docs/scenarios.md) -------------------------------------------------------------
    @property
    def scenarios(self) -> Scenarios:
        """Register, list and remove scenarios at the gateway (admin token)."""
        return Scenarios(self.http, gateway=self.info.gateway, admin=self._admin, checked=_checked)

    def scenario(self, *rules: str, ttl_s: int = DEFAULT_TTL_S) -> AbstractContextManager[Scenario]:
        """``with mesh.scenario("gbdfl:no-data") as s: session.apply(..., scenario=s)``: outcomes forced for the
        flows that name it, and no others; removed when the block ends."""
        return self.scenarios.using(*rules, ttl_s=ttl_s)

    def new_citizen(self, *, district: str | None = None, region: str | None = None, sex: str | None = None,
                    age: int | None = None, min_age: int | None = None, max_age: int | None = None,
                    employed: bool | None = None, jobless: bool | None = None, register: bool = True,
                    password: str | None = None, pkcs12_password: str | None = None) -> Citizen:
        """A citizen no other test is using: a ГБД ФЛ person (picked, or created when none is left), their
        signing and authentication certificates from НУЦ, and — unless ``register`` is False — a portal
        account with ``password`` (a strong one is made up when not given). ``jobless``: neither employed,
        studying full-time nor drawing a pension — someone who may register as unemployed."""
        wanted = {"district": district, "region": region, "sex": sex, "employed": employed, "jobless": jobless,
                  "minAge": age if age is not None else min_age, "maxAge": age if age is not None else max_age}
        for _ in range(10):
            person = _checked(self.http.post(f"{self.info.gbd_fl}/admin/people/claim", headers=self._admin,
                                             json={k: v for k, v in wanted.items() if v is not None}))
            # After a population reset a seeded person may still have a portal account from before: skip them.
            if not register or self._account_missing(person["iin"]):
                break
        else:
            raise KitError(code="NO_FREE_PERSON", status=409,
                           message="every matching person already has a portal account; reset the population")
        pkcs12_password = pkcs12_password or secrets.token_urlsafe(12)
        certificates = _checked(self.http.post(f"{self.info.nuc}/certificates/individual", headers=self._admin, json={
            "iin": person["iin"], "surname": person["surname"], "name": person["name"],
            "patronymic": person.get("patronymic"), "pkcs12Password": pkcs12_password}))
        citizen = Citizen(
            iin=person["iin"], surname=person["surname"], name=person["name"], patronymic=person.get("patronymic"),
            district=person["district"], birth_date=person["birthDate"], sex=person["sex"], password=None,
            pkcs12_password=pkcs12_password, created=person["created"],
            signing_p12=base64.b64decode(certificates["signing"]["pkcs12Base64"]),
            auth_p12=base64.b64decode(certificates["authentication"]["pkcs12Base64"]))
        if register:
            citizen.password = password or strong_password()
            self.register(citizen.iin, citizen.password)
        return citizen

    def _account_missing(self, iin: str) -> bool:
        reply = self.http.get(f"{self.info.portal}/admin/accounts/{iin}", headers=self._admin)
        return reply.status_code == 404

    def register(self, iin: str, password: str) -> dict[str, Any]:
        """Register at the portal as test tooling (with the admin token): the account, or why not
        (ACCOUNT_EXISTS, PERSON_NOT_FOUND…). Anonymous callers get one answer whatever the IIN."""
        return _checked(self.http.post(f"{self.info.portal}/auth/register", json={"iin": iin, "password": password},
                                       headers=self._admin))

    def login(self, iin: str, password: str) -> PortalSession:
        body = _checked(self.http.post(f"{self.info.portal}/auth/login", json={"iin": iin, "password": password}))
        return PortalSession(mesh=self, iin=body["iin"], token=body["token"], method=body["method"],
                             expires_at=body["expiresAt"])

    def challenge(self, *, purpose: str = "login") -> dict[str, Any]:
        return _checked(self.http.post(f"{self.info.portal}/auth/challenges", json={"purpose": purpose}))

    def login_eds(self, citizen: Citizen) -> PortalSession:
        """Sign a fresh portal challenge with the citizen's authentication key and log in with it."""
        challenge = self.challenge(purpose="login")
        body = _checked(self.http.post(f"{self.info.portal}/auth/login/eds", json={
            "challengeId": challenge["challengeId"], "signature": citizen.sign(challenge, usage="auth")}))
        return PortalSession(mesh=self, iin=body["iin"], token=body["token"], method=body["method"],
                             expires_at=body["expiresAt"])

    # ---- organisations at the portal: representatives, registration and login by BIN (seed 001) ---------------
    def new_representative(self, *, organisation: str = "ТОО «Тестовая организация»", bin_: str | None = None,
                           role: str = "head", register: bool = True, password: str | None = None,
                           pkcs12_password: str | None = None) -> Representative:
        """A person no other test is using (ГБД ФЛ), НУЦ's certificates of them as ``role`` of ``organisation``
        (``bin_``, or a new valid BIN), and — unless ``register`` is False — the organisation's portal account
        for them, registered with the organisation's EDS, with ``password`` (a strong one made up if not given)."""
        person = _checked(self.http.post(f"{self.info.gbd_fl}/admin/people/claim", headers=self._admin,
                                         json={"minAge": 25, "maxAge": 60}))
        pkcs12_password = pkcs12_password or secrets.token_urlsafe(12)
        certificates = _checked(self.http.post(f"{self.info.nuc}/certificates/employee", headers=self._admin, json={
            "iin": person["iin"], "surname": person["surname"], "name": person["name"],
            "patronymic": person.get("patronymic"), "organisation": organisation, "bin": bin_ or new_bin(),
            "role": role, "pkcs12Password": pkcs12_password}))
        representative = Representative(
            iin=person["iin"], surname=person["surname"], name=person["name"], patronymic=person.get("patronymic"),
            bin=certificates["signing"]["bin"], organisation=organisation, role=role, password=None,
            pkcs12_password=pkcs12_password, signing_p12=base64.b64decode(certificates["signing"]["pkcs12Base64"]),
            auth_p12=base64.b64decode(certificates["authentication"]["pkcs12Base64"]))
        if register:
            representative.password = password or strong_password()
            self.register_organisation(representative, password=representative.password)
        return representative

    def register_organisation(self, representative: Representative, *, bin_: str | None = None,
                              password: str | None = None) -> dict[str, Any]:
        """Register the representative at the portal for the organisation (``bin_``: the BIN named, by default
        the certificate's): a register challenge signed with the organisation certificate's authentication key."""
        challenge = self.challenge(purpose="register")
        body = {"bin": bin_ or representative.bin, "challengeId": challenge["challengeId"],
                "signature": representative.sign(challenge, usage="auth")} | (
            {"password": password} if password else {})
        return _checked(self.http.post(f"{self.info.portal}/auth/register/organisation", json=body))

    def login_organisation(self, bin_: str, iin: str, password: str) -> OrganisationSession:
        """Log in by BIN, the representative's IIN and the password."""
        body = _checked(self.http.post(f"{self.info.portal}/auth/login/organisation",
                                       json={"bin": bin_, "iin": iin, "password": password}))
        return OrganisationSession(mesh=self, bin=body["bin"], iin=body["iin"], token=body["token"],
                                   method=body["method"], expires_at=body["expiresAt"])

    def login_organisation_eds(self, representative: Representative, *,
                               bin_: str | None = None) -> OrganisationSession:
        """Log in by BIN with EDS: a fresh login challenge signed with the organisation certificate's
        authentication key (``bin_``: the BIN named, by default the certificate's)."""
        challenge = self.challenge(purpose="login")
        body = _checked(self.http.post(f"{self.info.portal}/auth/login/organisation/eds", json={
            "bin": bin_ or representative.bin, "challengeId": challenge["challengeId"],
            "signature": representative.sign(challenge, usage="auth")}))
        return OrganisationSession(mesh=self, bin=body["bin"], iin=body["iin"], token=body["token"],
                                   method=body["method"], expires_at=body["expiresAt"])

    # ---- ИС МИО staff, modes and the register (test support) ---------------------------------------------
    def staff(self, district: str, *, role: str) -> Staff:
        everyone = _checked(self.http.get(f"{self.info.mio}/admin/staff", headers=self._admin))["staff"]
        for item in everyone:
            if item["district"] == district and item["role"] == role:
                return Staff(iin=item["iin"], district=district, role=role, password=item["password"],
                             pkcs12_password=item["pkcs12Password"],
                             signing_p12=base64.b64decode(item["signingP12Base64"]),
                             auth_p12=base64.b64decode(item["authP12Base64"]))
        raise KitError(code="STAFF_NOT_FOUND", status=404, message=f"{district} has no {role}")

    def new_staff(self, district: str, *, role: str) -> Staff:
        """One more ИС МИО staff member of ``role`` in ``district`` (a second executor…), with НУЦ certificates;
        ``staff`` keeps giving the seeded one."""
        item = _checked(self.http.post(f"{self.info.mio}/admin/districts/{district}/staff", headers=self._admin,
                                       json={"role": role}))
        return Staff(iin=item["iin"], district=district, role=role, password=item["password"],
                     pkcs12_password=item["pkcs12Password"], signing_p12=base64.b64decode(item["signingP12Base64"]),
                     auth_p12=base64.b64decode(item["authP12Base64"]))

    def staff_login(self, staff: Staff) -> StaffSession:
        body = _checked(self.http.post(f"{self.info.mio}/staff/login",
                                       json={"iin": staff.iin, "password": staff.password}))
        return StaffSession(mesh=self, staff=staff, token=body["token"])

    def set_mode(self, district: str, mode: str, *, auto_share: float | None = None) -> None:
        """auto (simulated staff act after ``auto_share`` of each step's time) or manual, for a district."""
        body: dict[str, Any] = {"mode": mode} | ({"autoShare": auto_share} if auto_share is not None else {})
        _checked(self.http.put(f"{self.info.mio}/admin/districts/{district}/mode", headers=self._admin, json=body))

    def open_card(self, district: str, iin: str, *, kind: str = "job_seeker") -> dict[str, Any]:
        """Put a person on «Еңбек нарығы» directly, as a job seeker or as unemployed."""
        return _checked(self.http.post(f"{self.info.mio}/admin/districts/{district}/register/cards",
                                       headers=self._admin, json={"iin": iin, "kind": kind}))

    def record_assistance(self, district: str, iin: str, *, kind: str, granted_on: str, until: str | None = None,
                          decision: str | None = None) -> dict[str, Any]:
        """Note targeted social (``targeted-social``) or housing (``housing``) assistance on the person's open card
        in «Еңбек нарығы» (dates YYYY-MM-DD); the unemployed certificate lists it. The card, with its history."""
        body = {"iin": iin, "kind": kind, "grantedOn": granted_on, "until": until, "decision": decision}
        return _checked(self.http.post(f"{self.info.mio}/admin/districts/{district}/register/assistance",
                                       headers=self._admin, json={k: v for k, v in body.items() if v is not None}))

    def mio_application(self, number: str) -> dict[str, Any]:
        return _checked(self.http.get(f"{self.info.mio}/applications/{number}", headers=self._admin))

    def con_submit(self, request: dict[str, Any], *, district: str | None = None, signed_by: str = "operator",
                   idempotency_key: str | None = None, scenario: Scenario | str | None = None) -> dict[str, Any]:
        """An application through ИС ЦОН without a visit (test support: no queue, no desk): signed by the applicant
        (``request`` as ``Citizen.signed_request`` makes it), or — ``signed_by="operator"``, the default, with the
        ``district`` — by a seeded operator of the branch serving it. For a whole visit: ``operator_desk``."""
        if signed_by == "operator":
            if district is None:
                raise ValueError("an operator-signed submission names its district (the branch that serves it)")
            body = {"form": request["form"], "signedBy": "operator", "district": district,
                    "attachments": _with_copies(request)["attachments"]}
        else:
            body = _with_copies(request) | {"signedBy": signed_by} | ({"district": district} if district else {})
        return _submit(self.http, f"{self.info.con}/admin/applications", body=body,
                       headers=self._admin | scenario_headers(scenario), idempotency_key=idempotency_key)

    def con_cases(self, iin: str) -> list[dict[str, Any]]:
        """What ИС ЦОН sent for a person, with the status it last heard."""
        return _checked(self.http.get(f"{self.info.con}/admin/cases", headers=self._admin,
                                      params={"iin": iin}))["applications"]

    def con_notices(self, number: str) -> list[dict[str, Any]]:
        """The status notices ИС ЦОН received about one application, in arrival order."""
        return _checked(self.http.get(f"{self.info.con}/admin/notices", headers=self._admin,
                                      params={"applicationNumber": number}))["notices"]

    # ---- the gateway registry ------------------------------------------------------------------------------
    def grant(self, service_id: str, *, callers: list[str] | None = None, providers: list[str] | None = None,
              notify: list[str] | None = None, channel: str | None = None) -> dict[str, Any]:
        """Add callers, providers or notified members to a service; never removes any (see ``reset_registry``)."""
        body = {"callers": callers or [], "providers": providers or [], "notify": notify or []} | (
            {"channel": channel} if channel else {})
        return _checked(self.http.post(f"{self.info.gateway}/admin/services/{service_id}/grant", headers=self._admin,
                                       json=body))["service"]

    def reset_registry(self, *, kind: str | None = None, entry_id: str | None = None) -> dict[str, Any]:
        """One entry (``kind`` member or service, and its id) or the whole seed back to the seed's version; says
        what it reset (with what it was) and which entries the seed does not have (kept)."""
        body = {"kind": kind, "id": entry_id} if entry_id else {}
        return _checked(self.http.post(f"{self.info.gateway}/admin/registry/reset", headers=self._admin, json=body))

    # ---- the launcher: taking a member down on purpose ---------------------------------------------------------
    def service(self, action: str, name: str | None = None) -> dict[str, Any]:
        """``status`` of every service, or ``stop`` / ``start`` / ``kill`` (SIGKILL: the launcher restarts it, as
        after a crash) / ``restart`` one of them (``rabbitmq`` is the broker) — ``make run``'s launcher only."""
        if self.info.launcher is None:
            raise KitError(code="NO_LAUNCHER", status=0, message="this mesh was not started by `make run`: its "
                           "mesh.json names no launcher to stop or start services")
        if action == "status":
            return _checked(self.http.get(f"{self.info.launcher}/services", headers=self._admin))["services"]
        if name is None:
            raise KitError(code="SERVICE_REQUIRED", status=0, message=f"{action} needs a service name")
        return _checked(self.http.post(f"{self.info.launcher}/services/{name}/{action}", headers=self._admin,
                                       timeout=90))["services"]

    # ---- following a case ---------------------------------------------------------------------------------------
    def case(self, ref: str) -> dict[str, Any]:
        """Where a case stands, by its application number (ИС МИО's view) or its correlation id (the view of the
        portal or of ИС ЦОН, whichever sent it): at least ``status`` and ``applicationNumber``."""
        if NUMBER.match(ref):
            application = self.mio_application(ref)
            return {**application, "applicationNumber": application["number"]}
        for url in (self.info.portal, self.info.con):
            cases = _checked(self.http.get(f"{url}/admin/cases", headers=self._admin,
                                           params={"correlationId": ref}))["applications"]
            if cases:
                return cases[0]
        raise KitError(code="CASE_NOT_FOUND", status=404, message=f"neither an application number ИС МИО knows nor a "
                       f"case the portal or ИС ЦОН sent: {ref}")

    def latest_application(self, citizen: Citizen) -> dict[str, Any]:
        """The citizen's most recent application at the portal (logging in as them)."""
        session = self.login_eds(citizen) if citizen.password is None else self.login(citizen.iin, citizen.password)
        applications = session.applications()
        if not applications:
            raise KitError(code="NO_APPLICATION", status=404, message=f"citizen {citizen.iin} has sent nothing "
                           "through the portal")
        return max(applications, key=lambda a: a["submittedAt"])

    def wait_for_status(self, ref: str, status: str = "COMPLETED", *, timeout_s: float = 30.0,
                        every_s: float = 0.25) -> dict[str, Any]:
        """The case (number or correlation id) once it has reached ``status`` — or passed it: waiting for
        RECEIVED returns a case already «В работе». A case that ends otherwise (refused while COMPLETED was
        awaited) or does not get there in ``timeout_s`` raises ``KitError``, so a script never polls by hand."""
        wanted = STATUS_RANK.get(status)
        if wanted is None:
            raise KitError(code="STATUS_UNKNOWN", status=0, message=f"{status}: one of {', '.join(STATUS_RANK)}")
        deadline = time.monotonic() + timeout_s
        while True:
            case = self.case(ref)
            seen = STATUS_RANK.get(case["status"], 0)
            if case["status"] == status or (seen >= wanted and wanted < FINAL_RANK):
                return case
            if seen >= FINAL_RANK:
                raise KitError(code="CASE_ENDED_OTHERWISE", status=0, message=(
                    f"{ref} ended {case['status']}" + (f": {case.get('reason') or case.get('refusalReason')}"
                                                       if case.get("reason") or case.get("refusalReason") else "")))
            if time.monotonic() > deadline:
                raise KitError(code="WAIT_TIMED_OUT", status=0, message=f"{ref} is {case['status']} after "
                               f"{timeout_s:g} s, not {status} (auto-mode staff act on the mesh clock: `settle` it)")
            time.sleep(every_s)

    def schedule(self, number: str | None = None) -> dict[str, Any]:
        """When ИС МИО's simulated staff act next (mesh time) and how many steps are due now."""
        return _checked(self.http.get(f"{self.info.mio}/admin/schedule", headers=self._admin,
                                      params={"number": number} if number else None))

    def settle(self, case: str | None = None, *, max_jumps: int = 500, timeout_s: float = 300.0) -> dict[str, Any]:
        """Run the mesh until nothing is in flight and nothing is scheduled — for ``case`` (an application number
        or a correlation id: straight after ``apply`` is fine), or the whole mesh — jumping the mesh clock to each
        scheduled step, every step done at its scheduled time (the gateway's ``POST /admin/settle``). With a case it
        returns once the case is final *and* heard so by the portal or ИС ЦОН, and only that case's steps move the
        clock. Returns the gateway's answer (outcome, jumps, clock from and to, the case as each service sees it)
        with ``applications``: each application it moved, its steps. A settle that runs out of ``timeout_s`` (at
        most 600) raises ``KitError`` SETTLE_TIMED_OUT naming what was still in flight."""
        watched = ([case] if NUMBER.match(case) else []) if case else self._active_numbers()
        before = {n: self.mio_application(n)["status"] for n in watched}
        body = {"case": case, "timeoutSeconds": timeout_s, "maxJumps": max_jumps}
        answer = _checked(self.http.post(f"{self.info.gateway}/admin/settle", headers=self._admin,
                                         json={k: v for k, v in body.items() if v is not None},
                                         timeout=timeout_s + 30))
        if answer["outcome"] == "timed_out":
            raise KitError(code="SETTLE_TIMED_OUT", status=0, message=f"still in flight after {timeout_s:g} s: "
                           + "; ".join(answer["inFlight"]))
        numbers = {c["applicationNumber"] for c in answer["cases"] if c.get("applicationNumber")}
        moved = []
        for n in [*watched, *sorted(numbers - set(watched))]:
            application = self.mio_application(n)
            if application["status"] != before.get(n) or n in numbers:
                moved.append({"number": n, "from": before.get(n), "status": application["status"],
                              "completedAt": application["completedAt"],
                              "steps": [{k: t[k] for k in ("step", "role", "finishedAt", "overdue")}
                                        for t in application["timeline"]]})
        return answer | {"applications": moved}

    def _active_numbers(self) -> list[str]:
        districts = _checked(self.http.get(f"{self.info.mio}/districts"))["districts"]
        numbers = []
        for district in districts:
            for status in ACTIVE:
                inbox = _checked(self.http.get(f"{self.info.mio}/districts/{district['district']}/applications",
                                               headers=self._admin, params={"status": status}))
                numbers += [a["number"] for a in inbox["applications"]]
        return numbers

    # ---- the mesh clock ----------------------------------------------------------------------------------
    def now(self) -> dt.datetime:
        """The mesh's time now (the gateway's clock, which may be days ahead of this machine's): what the mesh's
        own signers put in a signature's signingTime."""
        return MeshClock(state=ClockState.model_validate(self.clock()["state"])).now()

    def clock(self, service_url: str | None = None) -> dict[str, Any]:
        """The clock as the gateway (its authority) or another service sees it."""
        if service_url is None:
            return _checked(self.http.get(f"{self.info.gateway}/clock"))
        return _checked(self.http.get(f"{service_url}/mesh"))["clock"]

    def advance_clock(self, *, seconds: float | None = None, working_days: int | None = None,
                      speed: float | None = None, reset: bool = False, wait_for: list[str] | None = None,
                      timeout_s: float = 15.0, force: bool = False) -> dict[str, Any]:
        """Change the mesh clock and wait until the services in ``wait_for`` (URLs; default ИС МИО) follow it.
        A move outside the certificates' validity is refused (``CLOCK_OUTSIDE_VALIDITY``) unless ``force``."""
        body: dict[str, Any] = {"advanceSeconds": seconds, "advanceWorkingDays": working_days, "speed": speed}
        body = {k: v for k, v in body.items() if v is not None} | ({"reset": True} if reset else {}) | (
            {"force": True} if force else {})
        state = _checked(self.http.post(f"{self.info.gateway}/admin/clock", headers=self._admin, json=body))
        version = state["state"]["version"]
        deadline = time.monotonic() + timeout_s
        for url in wait_for if wait_for is not None else [self.info.mio]:
            while self.clock(url)["state"]["version"] < version:
                if time.monotonic() > deadline:
                    raise KitError(code="CLOCK_NOT_FOLLOWED", status=0, message=f"{url} did not follow the clock")
                time.sleep(0.05)
        return state

    # ---- ИС ЦОН: branches, the queue, operators (test support hands out their keys) ---------------------------
    def branches(self) -> list[dict[str, Any]]:
        return _checked(self.http.get(f"{self.info.con}/branches"))["branches"]

    def take_ticket(self, branch: str, service_id: str, *, purpose: str = "apply") -> dict[str, Any]:
        """A citizen at the branch's kiosk takes a ticket (``purpose``: apply, or collect a result)."""
        return _checked(self.http.post(f"{self.info.con}/branches/{branch}/tickets",
                                       json={"serviceId": service_id, "purpose": purpose}))

    def tickets(self, branch: str, *, status: str | None = None) -> list[dict[str, Any]]:
        """A branch's queue (WAITING, CALLED, CLOSED or all), with waiting and service minutes."""
        return _checked(self.http.get(f"{self.info.con}/branches/{branch}/tickets", headers=self._admin,
                                      params={"status": status} if status else None))["tickets"]

    def operator(self, branch: str, *, index: int = 0, new: bool = False) -> Operator:
        """A seeded operator of ``branch`` (or, ``new=True``, one minted now with fresh НУЦ certificates)."""
        if new:
            item = _checked(self.http.post(f"{self.info.con}/admin/operators", headers=self._admin,
                                           json={"branch": branch}))
        else:
            everyone = _checked(self.http.get(f"{self.info.con}/admin/operators", headers=self._admin,
                                              params={"branch": branch}))["operators"]
            if len(everyone) <= index:
                raise KitError(code="OPERATOR_NOT_FOUND", status=404, message=f"{branch} has {len(everyone)} "
                               "operator(s)")
            item = everyone[index]
        return Operator(iin=item["iin"], branch=item["branch"], password=item["password"],
                        pkcs12_password=item["pkcs12Password"], signing_p12=base64.b64decode(item["signingP12Base64"]),
                        auth_p12=base64.b64decode(item["authP12Base64"]))

    def operator_login(self, operator: Operator) -> OperatorDesk:
        body = _checked(self.http.post(f"{self.info.con}/operators/login",
                                       json={"iin": operator.iin, "password": operator.password}))
        return OperatorDesk(mesh=self, operator=operator, token=body["token"])

    def operator_desk(self, branch: str, *, index: int = 0) -> OperatorDesk:
        """A seeded operator of ``branch``, logged in."""
        return self.operator_login(self.operator(branch, index=index))

    # ---- the mesh's SMS and e-mail outbox (member ``mail``, hosted by the portal) ---------------------------------
    def mail(self, *, to: str | None = None, kind: str | None = None, application_number: str | None = None,
             correlation_id: str | None = None) -> list[dict[str, Any]]:
        """Every e-mail and SMS sent through the mesh (oldest first), with the sender the gateway proved; filtered
        by address or phone (``to``), ``kind`` (email, sms), application number or correlation id. Attachments
        are listed by name and size; ``mail_message`` has their content."""
        params = {"to": to, "kind": kind, "applicationNumber": application_number, "correlationId": correlation_id}
        return _checked(self.http.get(f"{self.info.portal}/admin/mail", headers=self._admin,
                                      params={k: v for k, v in params.items() if v is not None}))["mail"]

    def wait_for_mail(self, *, timeout_s: float = 15.0, **filters: Any) -> list[dict[str, Any]]:
        """``mail(**filters)`` once it is not empty: mail leaves with the change that caused it and crosses the
        gateway, so it lands a moment after the call that sent it returned."""
        deadline = time.monotonic() + timeout_s
        while not (found := self.mail(**filters)):
            if time.monotonic() > deadline:
                raise KitError(code="TIMEOUT", status=0, message=f"no mail matching {filters} after {timeout_s:g} s")
            time.sleep(0.2)
        return found

    def mail_message(self, mail_id: int) -> dict[str, Any]:
        """One message of the outbox with its attachments' content (``contentBase64``)."""
        return _checked(self.http.get(f"{self.info.portal}/admin/mail/{mail_id}", headers=self._admin))

    # ---- result documents: verify one anyone holds (the portal's public check) ---------------------------------
    def verify_document(self, document: bytes | str | dict[str, Any]) -> dict[str, Any]:
        """Verify a result document at the portal (``POST /documents/verify``, anonymous): a PDF's bytes, the signed
        JSON (a dict, or its bytes), or a QR code's payload (a str). The answer says ``valid``, each check —
        ``content``, ``signature``, ``issuer`` (a body the mesh knows issues it), ``signer`` (an official of that
        issuer entitled to sign it, the one the content names), ``signingTime`` (the CMS signingTime, not before
        the document's date), ``certificate`` (valid then), ``revocation`` (not voided), ``qr`` for a PDF — and
        every failure by code (``verification_failures`` words them); it verifies what it is given, nothing
        stored."""
        if isinstance(document, dict):
            body, kind = json.dumps(document, ensure_ascii=False).encode(), "application/json"
        elif isinstance(document, str):
            body, kind = document.encode(), "text/plain"
        elif document.startswith(b"%PDF"):
            body, kind = document, "application/pdf"
        else:
            body, kind = document, "application/json"
        return _checked(self.http.post(f"{self.info.portal}/documents/verify", content=body,
                                       headers={"Content-Type": kind}))

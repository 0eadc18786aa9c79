"""ИС ЦОН HTTP API: branches and what they offer, the electronic queue, operator logins, intake (ГБД ФЛ look-up,
representative, scans), signing and sending, the result formed and handed out; statuses; admin test support."""

# No `from __future__ import annotations` here: the routes use Annotated dependency aliases made inside
# build_router, which FastAPI can only see as evaluated annotations.
import asyncio
import datetime as dt
import hmac
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.con_operator.branches import Branch
from services.con_operator.desk import Desk, IntakeData, Representation, scan_type, sign_as
from services.con_operator.operators import operator_public
from services.con_operator.store import OperatorAccount, Ticket, TicketPurpose, TicketStatus, Visit
from shared.clock import MeshClock
from shared.db import Sessions
from shared.employment.attachments import decode, refuse_mismatched, wire
from shared.employment.case_tracking import case_out, cases, notice_out, notices, submit_once
from shared.employment.documents import SignedResult, filename, render_pdf
from shared.employment.logins import SESSION_REFUSALS, bearer
from shared.errors import MeshError
from shared.mesh.contracts import (
    EMAIL_PATTERN,
    EMPLOYMENT_SERVICES,
    MAX_DOCUMENTS,
    PHONE_PATTERN,
    ApplicationForm,
    ApplicationRequest,
    DocumentContent,
    DocumentKind,
    PowerOfAttorney,
)
from shared.mesh.member import MemberRuntime
from shared.web.http_app import read_body
from shared.web.idempotency import HEADER, REPLAYED_HEADER, valid_key
from shared.web.openapi_errors import error_responses, raises
from shared.web.rate_limit import RateLimit


class Body(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")


class Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


# ---- requests ----------------------------------------------------------------------------------------------
class TicketIn(Body):
    service_id: str = Field(alias="serviceId", max_length=128)
    purpose: TicketPurpose = TicketPurpose.APPLY


class CallIn(Body):
    ticket_id: str | None = Field(default=None, alias="ticketId", max_length=36,
                                  description="a ticket of your branch; none: the longest waiting")


class CloseIn(Body):
    note: str | None = Field(default=None, max_length=256)


class LoginIn(Body):
    iin: str = Field(max_length=16)
    password: str = Field(max_length=256)


class EdsLoginIn(Body):
    challenge_id: str = Field(alias="challengeId", max_length=36)
    signature: str = Field(max_length=20_000)


class RepresentativeIn(Body):
    iin: str = Field(max_length=16)
    name: str | None = Field(default=None, max_length=200)
    power_of_attorney: PowerOfAttorney = Field(alias="powerOfAttorney")


class ScanRef(Body):
    """A scan uploaded before (``POST /scans``), named on the form as one of the Standard's п. 9 documents."""

    name: str = Field(min_length=1, max_length=256)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    kind: DocumentKind = "other"
    number: str | None = Field(default=None, max_length=32, description="the document's own number")
    valid_until: dt.date | None = Field(default=None, alias="validUntil",
                                        description="identity document: valid until, as the original shows it")


class IntakeIn(Body):
    iin: str = Field(max_length=16, description="the citizen's IIN, as the identity document shows it")
    service_id: str | None = Field(default=None, alias="serviceId", description="default: the ticket's service")
    phone: str | None = Field(default=None, pattern=PHONE_PATTERN)
    email: str | None = Field(default=None, max_length=128, pattern=EMAIL_PATTERN)
    period_from: dt.date | None = Field(default=None, alias="periodFrom")
    period_to: dt.date | None = Field(default=None, alias="periodTo")
    referral_kind: str | None = Field(default=None, alias="referralKind", max_length=32)
    representative: RepresentativeIn | None = None
    scans: list[ScanRef] = Field(default_factory=list, max_length=20)


class SignIn(Body):
    signature: str = Field(max_length=20_000, description="detached CMS over the RFC 8785 form")
    signed_by: Literal["operator", "applicant"] = Field(default="operator", alias="signedBy")


class ResultIn(Body):
    signature: str = Field(max_length=20_000, description="the operator's CMS over the result draft")


class HandOutIn(Body):
    delivery: Literal["in_person", "email"]
    ticket_id: str | None = Field(default=None, alias="ticketId", description="in person: the ticket being served")
    presented_iin: str | None = Field(default=None, alias="presentedIin", pattern=r"^\d{12}$",
                                      description="in person: the IIN on the identity document presented")
    email: str | None = Field(default=None, max_length=128, pattern=EMAIL_PATTERN, description=(
        "email: by default the form's (signed) address; another only with the citizen at the desk (ticketId and "
        "presentedIin)"))

    @model_validator(mode="after")
    def _fits_delivery(self) -> "HandOutIn":
        if self.delivery == "in_person" and self.email is not None:
            raise ValueError("email is for delivery 'email'")
        return self


class AdminIntakeIn(Body):
    form: ApplicationForm
    form_signature: str | None = Field(default=None, alias="formSignature", max_length=20_000,
                                       description="none with signedBy operator: a seeded operator of the branch "
                                                   "serving the district signs")
    signed_by: Literal["applicant", "operator"] = Field(default="operator", alias="signedBy")
    district: str | None = None
    attachments: list[DocumentContent] = Field(default_factory=list, max_length=MAX_DOCUMENTS,
                                               description="the copies of the documents the form names")


class MintIn(Body):
    branch: str = Field(max_length=64)


# ---- responses ---------------------------------------------------------------------------------------------
class CentreStepOut(Out):
    id: str
    start: str = Field(alias="from")
    end: str = Field(alias="to")
    max: str
    action: str
    source: str


class OfferOut(Out):
    service_id: str = Field(alias="serviceId")
    title: str
    regulation: str
    signed_by: list[str] = Field(alias="signedBy")
    forms_result: str | None = Field(alias="formsResult")
    steps: list[CentreStepOut]


class BranchOut(Out):
    id: str
    name: str
    region: str
    district: str
    address: str
    offers: list[OfferOut]


class BranchesOut(Out):
    branches: list[BranchOut]


class TicketOut(Out):
    id: str
    branch: str
    code: str
    service_id: str = Field(alias="serviceId")
    purpose: str
    status: str
    taken_at: str = Field(alias="takenAt")
    called_at: str | None = Field(alias="calledAt")
    closed_at: str | None = Field(alias="closedAt")
    operator_iin: str | None = Field(alias="operatorIin")
    wait_minutes: float = Field(alias="waitMinutes", description="taken → called (or now, while waiting)")
    service_minutes: float | None = Field(alias="serviceMinutes", description="called → closed (or now)")


class TicketsOut(Out):
    tickets: list[TicketOut]


class LoginOut(Out):
    token: str
    iin: str
    method: str
    expires_at: str = Field(alias="expiresAt")


class ChallengeOut(Out):
    model_config = ConfigDict(extra="allow")


class OperatorOut(Out):
    model_config = ConfigDict(extra="allow")
    iin: str
    branch: str


class OperatorsOut(Out):
    operators: list[OperatorOut]


class ScanOut(Out):
    sha256: str
    content_type: str = Field(alias="contentType")
    size: int


class VisitOut(Out):
    model_config = ConfigDict(extra="allow")
    id: str
    state: str
    status: str
    status_text: str = Field(alias="statusText")
    timeline: list[dict[str, Any]]


class VisitsOut(Out):
    visits: list[VisitOut]


class DraftOut(Out):
    content: dict[str, Any]


class CaseOut(Out):
    model_config = ConfigDict(extra="allow")
    correlation_id: str = Field(alias="correlationId")
    status: str


class CasesOut(Out):
    applications: list[CaseOut]


class NoticesOut(Out):
    notices: list[dict[str, Any]]


def _minutes(start: dt.datetime | None, end: dt.datetime) -> float:
    return round((end - start).total_seconds() / 60, 2) if start else 0.0


def ticket_out(ticket: Ticket, *, now: dt.datetime) -> TicketOut:
    return TicketOut(id=ticket.id, branch=ticket.branch, code=ticket.code, service_id=ticket.service_id,
                     purpose=ticket.purpose, status=ticket.status, taken_at=ticket.taken_at.isoformat(),
                     called_at=ticket.called_at.isoformat() if ticket.called_at else None,
                     closed_at=ticket.closed_at.isoformat() if ticket.closed_at else None,
                     operator_iin=ticket.operator_iin,
                     wait_minutes=_minutes(ticket.taken_at, ticket.called_at or now),
                     service_minutes=_minutes(ticket.called_at, ticket.closed_at or now) if ticket.called_at else None)


def build_router(*, desk: Desk, sessions: Sessions, runtime: MemberRuntime, clock: MeshClock, admin: Any,
                 admin_token: Any, tickets_per_minute: int) -> APIRouter:
    router = APIRouter()
    guarded = [Depends(admin)]
    operators = desk.operators
    kiosk = RateLimit(per_minute=tickets_per_minute, what="tickets")
    challenges = RateLimit(per_minute=tickets_per_minute, what="login challenges")  # anonymous, each one a row

    @raises(*SESSION_REFUSALS, "OPERATOR_NOT_FOUND")
    async def current_operator(authorization: Annotated[str | None, Header()] = None) -> OperatorAccount:
        return await operators.operator_of(bearer(authorization))

    @raises(*SESSION_REFUSALS, "OPERATOR_NOT_FOUND")
    async def viewer(authorization: Annotated[str | None, Header()] = None) -> OperatorAccount | None:
        """An operator, or None for the admin token (test support reads everything)."""
        token = bearer(authorization)
        if token is not None and hmac.compare_digest(token.encode(), admin_token().encode()):
            return None
        return await operators.operator_of(token)

    # Annotated dependency aliases (named as types, as FastAPI's documentation does)
    Operator = Annotated[OperatorAccount, Depends(current_operator)]  # noqa: N806
    Viewer = Annotated[OperatorAccount | None, Depends(viewer)]  # noqa: N806

    def branch_out(branch: Branch) -> BranchOut:
        offers = []
        for regulation in desk.branches.offers(branch):
            assert regulation.centre is not None
            offers.append(OfferOut(
                service_id=regulation.service, title=regulation.title, regulation=regulation.id,
                signed_by=list(regulation.centre.signed_by), forms_result=regulation.centre.forms_result,
                steps=[CentreStepOut(id=s.id, start=s.start.value, end=s.end.value, max=s.max.describe(),
                                     action=s.action, source=s.source) for s in regulation.centre.steps]))
        return BranchOut(id=branch.id, name=branch.name, region=branch.region, district=branch.district,
                         address=branch.address, offers=offers)

    async def visit_out(visit: Visit) -> VisitOut:
        return VisitOut.model_validate(await desk.view(visit))

    async def visible_visit(visit_id: str, who: OperatorAccount | None) -> Visit:
        """A visit an operator of its branch (or the admin) may read."""
        found = await desk.visit(visit_id)
        if who is not None and who.branch != found.branch:
            raise MeshError("NOT_YOUR_BRANCH", f"this visit is of branch {found.branch}")
        return found

    # ---- branches and the queue --------------------------------------------------------------------------
    @router.get("/branches", tags=["queue"], response_model=BranchesOut,
                summary="ЦОН branches, and the services each takes with their ЦОН-side steps")
    async def branch_list() -> BranchesOut:
        return BranchesOut(branches=[branch_out(b) for b in desk.branches.all.values()])

    @router.post("/branches/{branch}/tickets", tags=["queue"], status_code=201, response_model=TicketOut,
                 summary="Take a ticket of the electronic queue (the kiosk; anonymous, rate-limited)",
                 responses=error_responses("BRANCH_NOT_FOUND", "SERVICE_NOT_OFFERED_AT_CON", "TOO_MANY_ATTEMPTS"))
    async def take_ticket(branch: str, body: TicketIn, request: Request) -> TicketOut:
        kiosk.check(request.client.host if request.client else "unknown")
        ticket = await desk.take_ticket(branch_id=branch, service_id=body.service_id, purpose=body.purpose)
        return ticket_out(ticket, now=clock.now())

    @router.get("/branches/{branch}/tickets", tags=["queue"], response_model=TicketsOut,
                summary="The branch's tickets with their waiting and service times (mesh clock)",
                responses=error_responses("NOT_YOUR_BRANCH", "BRANCH_NOT_FOUND"))
    async def ticket_list(branch: str, who: Viewer, status: TicketStatus | None = None) -> TicketsOut:
        if who is not None and who.branch != branch:
            raise MeshError("NOT_YOUR_BRANCH", f"you serve {who.branch}, not {branch}")
        now = clock.now()
        return TicketsOut(tickets=[ticket_out(t, now=now) for t in await desk.tickets(branch_id=branch,
                                                                                      status=status)])

    @router.post("/tickets/call", tags=["queue"], response_model=TicketOut,
                 summary="Call the next waiting ticket of your branch (or the one named)",
                 responses=error_responses("NOT_YOUR_BRANCH", "QUEUE_EMPTY", "TICKET_NOT_FOUND", "OPERATOR_BUSY",
                                           "TICKET_ALREADY_CALLED"))
    async def call(operator: Operator, body: CallIn | None = None) -> TicketOut:
        ticket = await desk.call(operator, ticket_id=body.ticket_id if body else None)
        return ticket_out(ticket, now=clock.now())

    @router.post("/tickets/{ticket_id}/close", tags=["queue"], response_model=TicketOut,
                 summary="Close the ticket you are serving",
                 responses=error_responses("NOT_YOUR_BRANCH", "TICKET_NOT_YOURS", "TICKET_NOT_FOUND", "TICKET_CLOSED",
                                           "TICKET_NOT_CALLED"))
    async def close(ticket_id: str, operator: Operator, body: CloseIn | None = None) -> TicketOut:
        ticket = await desk.close(operator, ticket_id=ticket_id, note=body.note if body else None)
        return ticket_out(ticket, now=clock.now())

    # ---- operators ---------------------------------------------------------------------------------------
    @router.post("/operators/login", tags=["operators"], response_model=LoginOut,
                 summary="Log in with IIN and password (lock-out after 5 wrong passwords)",
                 responses=error_responses("PASSWORD_NOT_SET", "PASSWORD_WRONG", "ACCOUNT_NOT_FOUND",
                                           "IIN_BAD_BIRTH_DATE", "IIN_BAD_CENTURY_DIGIT", "IIN_BAD_CHECK_DIGIT",
                                           "IIN_LENGTH", "IIN_NEVER_ISSUED", "IIN_NOT_DIGITS", "ACCOUNT_LOCKED"))
    async def login(body: LoginIn) -> LoginOut:
        return LoginOut.model_validate((await operators.login(iin=body.iin, password=body.password)).public())

    @router.post("/operators/login/eds/challenge", tags=["operators"], response_model=ChallengeOut,
                 summary="A challenge to sign with the operator's authentication certificate",
                 responses=error_responses("TOO_MANY_ATTEMPTS"))
    async def challenge(request: Request) -> ChallengeOut:
        challenges.check(request.client.host if request.client else "unknown")
        return ChallengeOut.model_validate(await operators.logins.challenge(purpose="login"))

    @router.post("/operators/login/eds", tags=["operators"], response_model=LoginOut,
                 summary="Log in with EDS (State Corporation employee certificate with the operator role)",
                 responses=error_responses("CHALLENGE_EXPIRED", "CHALLENGE_REPLAYED", "CHALLENGE_UNKNOWN",
                                           "EDS_BIN_MISMATCH", "EDS_CERTIFICATE_EXPIRED",
                                           "EDS_CERTIFICATE_NOT_YET_VALID", "EDS_CERTIFICATE_REVOKED",
                                           "EDS_CERTIFICATE_STATUS_UNKNOWN", "EDS_CERTIFICATE_UNTRUSTED",
                                           "EDS_IIN_MISMATCH", "EDS_ROLE_MISSING", "EDS_SIGNATURE_INVALID",
                                           "EDS_WRONG_HOLDER", "EDS_WRONG_KEY_USAGE", "OPERATOR_NOT_FOUND",
                                           "ACCOUNT_LOCKED", "EDS_CLOCK_SKEW", "EDS_OCSP_UNREACHABLE", "NOT_READY"))
    async def login_eds(body: EdsLoginIn) -> LoginOut:
        login = await operators.login_with_eds(challenge_id=body.challenge_id, signature=body.signature)
        return LoginOut.model_validate(login.public())

    @router.post("/operators/logout", tags=["operators"], status_code=204, summary="End this login",
                 responses=error_responses("SESSION_EXPIRED", "SESSION_INVALID", "SESSION_MISSING"))
    async def logout(authorization: Annotated[str | None, Header()] = None) -> Response:
        await operators.logins.end(bearer(authorization))
        return Response(status_code=204)

    @router.get("/operators/me", tags=["operators"], response_model=OperatorOut, summary="Who is logged in")
    async def me(operator: Operator) -> OperatorOut:
        return OperatorOut.model_validate(operator_public(operator, branch=desk.branches.all.get(operator.branch),
                                                         secrets_too=False))

    # ---- scans, intake, signing --------------------------------------------------------------------------
    @router.post("/scans", tags=["intake"], status_code=201, response_model=ScanOut,
                 summary="Upload a scanned document (the body; PDF, JPEG, PNG or TIFF); kept once by SHA-256",
                 responses=error_responses("SCAN_NOT_FOUND", "REQUEST_TOO_LARGE", "SCAN_TOO_LARGE",
                                           "SCAN_TYPE_NOT_ALLOWED", "SCAN_EMPTY"))
    async def upload(request: Request, operator: Operator,
                     content_type: Annotated[str, Header(alias="Content-Type")] = "") -> ScanOut:
        scan_type(content_type)  # refused before the body is read
        content = await read_body(request, limit=desk.max_scan_bytes, code="SCAN_TOO_LARGE", what="a scan")
        scan = await desk.store_scan(operator, content=content, content_type=content_type)
        return ScanOut(sha256=scan.sha256, content_type=scan.content_type, size=scan.size)

    @router.get("/scans/{sha256}", tags=["intake"], summary="A scan's content", response_class=Response,
                responses=error_responses("SCAN_NOT_FOUND"))
    async def scan(sha256: str, who: Viewer) -> Response:
        found = await desk.scan(sha256, branch=who.branch if who is not None else None)
        return Response(content=found.content, media_type=found.content_type)

    @router.post("/tickets/{ticket_id}/intake", tags=["intake"], response_model=VisitOut,
                 summary="Intake for the ticket you serve: ГБД ФЛ asked, the form filled (not yet signed)",
                 responses=error_responses("NOT_YOUR_BRANCH", "TICKET_NOT_YOURS", "BRANCH_NOT_FOUND", "SCAN_NOT_FOUND",
                                           "TICKET_NOT_FOUND", "VISIT_NOT_FOUND", "TICKET_ALREADY_USED",
                                           "TICKET_CLOSED", "TICKET_NOT_CALLED", "TICKET_NOT_FOR_APPLYING",
                                           "ATTACHMENTS_TOO_LARGE", "ATTACHMENT_DUPLICATE", "FORM_INVALID",
                                           "GBD_FL_NO_DATA", "IIN_BAD_BIRTH_DATE", "IIN_BAD_CENTURY_DIGIT",
                                           "IIN_BAD_CHECK_DIGIT", "IIN_LENGTH", "IIN_NEVER_ISSUED", "IIN_NOT_DIGITS",
                                           "PERSON_DECEASED", "POWER_OF_ATTORNEY_EXPIRED", "POWER_OF_ATTORNEY_FOREIGN",
                                           "POWER_OF_ATTORNEY_NOT_THIS_REPRESENTATIVE",
                                           "POWER_OF_ATTORNEY_NOT_YET_VALID", "POWER_OF_ATTORNEY_SCOPE",
                                           "REPRESENTATIVE_IS_APPLICANT", "SERVICE_NOT_OFFERED_AT_CON",
                                           "BROKER_UNAVAILABLE", "GATEWAY_UNAVAILABLE", "NUC_UNAVAILABLE",
                                           "REGISTRY_UNAVAILABLE"))
    async def intake(ticket_id: str, body: IntakeIn, operator: Operator) -> VisitOut:
        fields = {"phone": body.phone, "email": body.email, "referralKind": body.referral_kind,
                  "periodFrom": body.period_from.isoformat() if body.period_from else None,
                  "periodTo": body.period_to.isoformat() if body.period_to else None}
        representative = None
        if body.representative is not None:
            representative = Representation(iin=body.representative.iin, name=body.representative.name,
                                            power_of_attorney=body.representative.power_of_attorney.model_dump(
                                                by_alias=True))
        visit = await desk.intake(operator, ticket_id=ticket_id, data=IntakeData(
            iin=body.iin, service_id=body.service_id, fields={k: v for k, v in fields.items() if v is not None},
            representative=representative, scans=[s.model_dump(by_alias=True, mode="json", exclude_none=True)
                                                  for s in body.scans]))
        return await visit_out(visit)

    @router.post("/visits/{visit_id}/sign", tags=["intake"], response_model=VisitOut,
                 summary="Sign the form (RFC 8785 JSON of `form`) and send it through the gateway to ИС МИО",
                 responses=error_responses("EDS_BIN_MISMATCH", "EDS_CERTIFICATE_EXPIRED",
                                           "EDS_CERTIFICATE_NOT_YET_VALID", "EDS_CERTIFICATE_REVOKED",
                                           "EDS_CERTIFICATE_STATUS_UNKNOWN", "EDS_CERTIFICATE_UNTRUSTED",
                                           "EDS_IIN_MISMATCH", "EDS_ROLE_MISSING", "EDS_SIGNATURE_INVALID",
                                           "EDS_WRONG_HOLDER", "EDS_WRONG_KEY_USAGE", "NOT_YOUR_BRANCH",
                                           "TICKET_NOT_YOURS", "VISIT_NOT_YOURS", "SCAN_NOT_FOUND", "TICKET_NOT_FOUND",
                                           "VISIT_NOT_FOUND", "TICKET_CLOSED", "TICKET_NOT_CALLED",
                                           "VISIT_ALREADY_SENT", "VISIT_CHANGED", "SIGNER_NOT_ALLOWED",
                                           "EDS_CLOCK_SKEW", "EDS_OCSP_UNREACHABLE", "NOT_READY"))
    async def sign(visit_id: str, body: SignIn, operator: Operator) -> VisitOut:
        return await visit_out(await desk.sign_and_send(operator, visit_id=visit_id, signature=body.signature,
                                                        signed_by=body.signed_by))

    @router.get("/visits", tags=["visits"], response_model=VisitsOut, summary="Visits of your branch")
    async def visit_list(who: Viewer, iin: Annotated[str | None, Query(pattern=r"^\d{12}$")] = None,
                         branch: str | None = None) -> VisitsOut:
        branch = who.branch if who is not None else branch
        return VisitsOut(visits=[await visit_out(v) for v in await desk.visits(branch=branch, iin=iin)])

    @router.get("/visits/{visit_id}", tags=["visits"], response_model=VisitOut,
                summary="A visit: form, statuses from ИС МИО, ЦОН-side steps with overdue flags, result",
                responses=error_responses("NOT_YOUR_BRANCH", "VISIT_NOT_FOUND"))
    async def visit(visit_id: str, who: Viewer) -> VisitOut:
        return await visit_out(await visible_visit(visit_id, who))

    @router.post("/visits/{visit_id}/result/draft", tags=["result"], response_model=DraftOut,
                 summary="The notice to form and sign (where the regulation gives it to the State Corporation); "
                         "made once and kept, so the draft signed is the draft stored",
                 responses=error_responses("NOT_YOUR_BRANCH", "BRANCH_NOT_FOUND", "VISIT_NOT_FOUND",
                                           "RESULT_NOT_FORMED_HERE", "RESULT_NOT_READY", "RESULT_REFUSED"))
    async def draft(visit_id: str, operator: Operator) -> DraftOut:
        return DraftOut(content=await desk.result_draft(operator, visit_id=visit_id))

    @router.post("/visits/{visit_id}/result", tags=["result"], response_model=VisitOut,
                 summary="Form the result: the operator's EDS over the draft",
                 responses=error_responses("EDS_BIN_MISMATCH", "EDS_CERTIFICATE_EXPIRED",
                                           "EDS_CERTIFICATE_NOT_YET_VALID", "EDS_CERTIFICATE_REVOKED",
                                           "EDS_CERTIFICATE_STATUS_UNKNOWN", "EDS_CERTIFICATE_UNTRUSTED",
                                           "EDS_IIN_MISMATCH", "EDS_ROLE_MISSING", "EDS_SIGNATURE_INVALID",
                                           "EDS_WRONG_HOLDER", "EDS_WRONG_KEY_USAGE", "NOT_YOUR_BRANCH",
                                           "VISIT_NOT_FOUND", "RESULT_ALREADY_FORMED", "RESULT_DRAFTED_FOR_ANOTHER",
                                           "RESULT_NOT_DRAFTED", "SIGNING_TIME_MISSING", "SIGNING_TIME_SKEWED",
                                           "EDS_CLOCK_SKEW", "EDS_OCSP_UNREACHABLE", "NOT_READY"))
    async def form_result(visit_id: str, body: ResultIn, operator: Operator) -> VisitOut:
        return await visit_out(await desk.form_result(operator, visit_id=visit_id, signature=body.signature))

    @router.post("/visits/{visit_id}/hand-out", tags=["result"], response_model=VisitOut,
                 summary="Hand the result out: in person (identity checked) or by e-mail (the mesh mail outbox)",
                 responses=error_responses("IDENTITY_MISMATCH", "NOT_YOUR_BRANCH", "TICKET_NOT_YOURS",
                                           "TICKET_NOT_FOUND", "VISIT_NOT_FOUND", "RESULT_ALREADY_HANDED_OUT",
                                           "RESULT_NOT_FORMED", "RESULT_NOT_READY", "TICKET_CLOSED",
                                           "TICKET_NOT_CALLED", "EMAIL_REQUIRED", "IDENTITY_REQUIRED", "MAIL_INVALID",
                                           "POWER_OF_ATTORNEY_EXPIRED", "TICKET_REQUIRED"))
    async def hand_out(visit_id: str, body: HandOutIn, operator: Operator) -> VisitOut:
        return await visit_out(await desk.hand_out(operator, visit_id=visit_id, delivery=body.delivery,
                                                   ticket_id=body.ticket_id, presented_iin=body.presented_iin,
                                                   email=body.email))

    @router.get("/notices", tags=["statuses"], response_model=NoticesOut,
                summary="Status notices ИС ЦОН heard for your branch's district (every channel the seed routes)",
                responses=error_responses("BRANCH_NOT_FOUND"))
    async def branch_notices(who: Viewer, number: Annotated[str | None, Query(alias="applicationNumber")] = None,
                             ) -> NoticesOut:
        heard = await notices(sessions, number=number)
        if who is not None:
            district = desk.branches.get(who.branch).district
            heard = [n for n in heard if n.district == district]
        return NoticesOut(notices=[notice_out(n) for n in heard])

    # ---- admin -------------------------------------------------------------------------------------------
    @router.get("/admin/operators", tags=["admin"], dependencies=guarded, response_model=OperatorsOut,
                summary="Operators, with their test passwords and PKCS#12 files")
    async def operator_list(branch: str | None = None) -> OperatorsOut:
        return OperatorsOut(operators=[OperatorOut.model_validate(operator_public(
            o, branch=desk.branches.all.get(o.branch), secrets_too=True)) for o in await operators.everyone(branch)])

    @router.post("/admin/operators", tags=["admin"], dependencies=guarded, status_code=201,
                 response_model=OperatorOut, summary="Mint a new operator of a branch (НУЦ certificates)",
                 responses=error_responses("BRANCH_NOT_FOUND"))
    async def mint(body: MintIn) -> OperatorOut:
        branch = desk.branches.get(body.branch)
        account, _ = await operators.mint(branch)
        return OperatorOut.model_validate(operator_public(account, branch=branch, secrets_too=True))

    @router.post("/admin/operators/{iin}/unlock", tags=["admin"], dependencies=guarded, response_model=OperatorOut,
                 summary="Lift an operator's lock-out",
                 responses=error_responses("OPERATOR_NOT_FOUND"))
    async def unlock(iin: str) -> OperatorOut:
        account = await operators.unlock(iin)
        return OperatorOut.model_validate(operator_public(account, branch=desk.branches.all.get(account.branch),
                                                          secrets_too=False))

    @router.post("/admin/applications", tags=["admin"], dependencies=guarded, status_code=202,
                 response_model=CaseOut, summary="Send an application through ИС ЦОН without a visit (test support: "
                                                 "batches, benchmarks)",
                 description="Skips the queue and the desk, not the rules: the form is signed by the applicant, or "
                             "(no `formSignature`) by a seeded operator of the branch serving `district`, and ИС МИО "
                             "checks it as any ЦОН application. `Idempotency-Key` makes it safe to repeat.",
                 responses=error_responses("CANONICAL_FORM_IMPOSSIBLE", "IDEMPOTENCY_KEY_INVALID", "BRANCH_NOT_FOUND",
                                           "OPERATOR_NOT_FOUND", "ATTACHMENTS_TOO_LARGE", "ATTACHMENT_TOO_LARGE",
                                           "ATTACHMENT_TYPE_NOT_ALLOWED", "ATTACHMENT_DIGEST_MISMATCH",
                                           "ATTACHMENT_DUPLICATE", "ATTACHMENT_EMPTY", "ATTACHMENT_MISMATCH",
                                           "ATTACHMENT_MISSING", "ATTACHMENT_NOT_BASE64", "ATTACHMENT_NOT_SIGNED",
                                           "ATTACHMENT_TOO_MANY", "IDEMPOTENCY_KEY_REUSED", "SERVICE_UNKNOWN",
                                           "SIGNATURE_REQUIRED"))
    async def admin_intake(body: AdminIntakeIn, response: Response,
                           key: Annotated[str | None, Header(alias=HEADER)] = None) -> CaseOut:
        if body.form.service_id not in EMPLOYMENT_SERVICES:
            raise MeshError("SERVICE_UNKNOWN", f"ИС ЦОН sends {', '.join(EMPLOYMENT_SERVICES)}")
        form, signature = body.form, body.form_signature
        if signature is None:
            if body.signed_by != "operator" or body.district is None:
                raise MeshError("SIGNATURE_REQUIRED", "give formSignature, or signedBy operator with a district")
            branch = next((b for b in desk.branches.all.values() if b.district == body.district), None)
            if branch is None:
                raise MeshError("BRANCH_NOT_FOUND", f"no ЦОН branch serves {body.district}")
            staff = await operators.everyone(branch.id)
            if not staff:
                raise MeshError("OPERATOR_NOT_FOUND", f"branch {branch.id} has no operator")
            form = ApplicationForm.model_validate(body.form.model_dump(by_alias=True, exclude_unset=True) | {
                "operatorIin": staff[0].iin, "centreBranch": branch.id})
            signature = sign_as(operators, staff[0], form.model_dump(by_alias=True, exclude_unset=True))
        copies = decode([a.model_dump(by_alias=True) for a in body.attachments])
        refuse_mismatched(form.model_dump(by_alias=True, exclude_unset=True).get("documents") or [], copies,
                          content_required=True)
        request = ApplicationRequest(form=form, form_signature=signature, signed_by=body.signed_by,
                                     attachments=wire(copies))
        sent = await submit_once(sessions, runtime=runtime, request=request, route_id=body.district, now=clock.now(),
                                 scope="admin", key=valid_key(key))
        if sent.replayed:
            response.headers[REPLAYED_HEADER] = "true"
        return CaseOut.model_validate(case_out(sent.case))

    @router.get("/admin/cases", tags=["admin"], dependencies=guarded, response_model=CasesOut,
                summary="Applications ИС ЦОН sent, with their current status")
    async def case_list(iin: Annotated[str | None, Query(pattern=r"^\d{12}$")] = None) -> CasesOut:
        return CasesOut(applications=[CaseOut.model_validate(case_out(c)) for c in await cases(sessions, iin=iin)])

    @router.get("/admin/notices", tags=["admin"], dependencies=guarded, response_model=NoticesOut,
                summary="Status notices received from ИС МИО («Поступившие», «В работе», …)")
    async def notice_list(number: Annotated[str | None, Query(alias="applicationNumber")] = None,
                          iin: Annotated[str | None, Query(pattern=r"^\d{12}$")] = None) -> NoticesOut:
        return NoticesOut(notices=[notice_out(n) for n in await notices(sessions, iin=iin, number=number)])

    @router.get("/visits/{visit_id}/document.pdf", tags=["result"], response_class=Response,
                responses={200: {"content": {"application/pdf": {}}}}
                | error_responses("NOT_YOUR_BRANCH", "VISIT_NOT_FOUND", "DOCUMENT_NOT_READY"),
                summary="The result to hand out as a printable bilingual (kk/ru) PDF with its QR code and the signed "
                        "JSON embedded: the notice the operator formed where the ЦОН forms it, else ИС МИО's document")
    async def document_pdf(visit_id: str, who: Viewer) -> Response:
        view = await desk.view(await visible_visit(visit_id, who))
        formed = view.get("result") or {}
        signed = formed if formed.get("signature") else view.get("document")
        if not signed or not signed.get("signature"):
            raise MeshError("DOCUMENT_NOT_READY", "this visit has no signed result yet")
        document = SignedResult.parse(signed)
        return Response(content=await asyncio.to_thread(render_pdf, document), media_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="{filename(document, "pdf")}"'})

    return router

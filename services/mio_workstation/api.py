"""ИС МИО HTTP API: staff login, each district's inbox, applications with their timelines, the step actions
per role, the labour-market register, regulations, and (admin) staff identities and staff modes."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from services.mio_workstation.actions import ActionBody
from services.mio_workstation.domain import STATUS_TEXT
from services.mio_workstation.handlers import Workstation
from services.mio_workstation.reads import ApplicationView
from services.mio_workstation.staff import StaffBook, staff_public
from services.mio_workstation.store import Application, LabourCard, LabourCardEvent, StaffAccount, StepRecord
from shared.clock import KZ_TZ
from shared.employment.documents import SignedResult, filename, render_pdf
from shared.employment.forms import document_problems
from shared.employment.logins import SESSION_REFUSALS, bearer
from shared.employment.regulations import RegulationBook
from shared.errors import MeshError
from shared.mesh.contracts import ApplicationRequest
from shared.web.idempotency import HEADER, REPLAYED_HEADER, valid_key
from shared.web.openapi_errors import error_responses, raises


class Body(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")


class LoginIn(Body):
    iin: str
    password: str = Field(max_length=256)


class EdsLoginIn(Body):
    challenge_id: str = Field(alias="challengeId", max_length=36)
    signature: str = Field(max_length=20_000)


class ActionIn(Body):
    accept: bool = Field(default=True, description="accept: false refuses acceptance (where the regulation allows)")
    reason: str | None = Field(default=None, max_length=500)
    executor_iin: str | None = Field(default=None, alias="executorIin", pattern=r"^\d{12}$")
    decision: Literal["approve", "refuse"] | None = None
    signature: str | None = Field(default=None, max_length=20_000, description="sign: CMS over the draft (RFC 8785)")
    delivery: Literal["in_person", "email"] | None = Field(
        default=None, description="issue, office applications only: hand the result out in person (default) or "
                                  "e-mail it with the signed document attached (the mesh's outbox, GET /admin/mail "
                                  "on the portal); for a portal or ИС ЦОН application: 422 DELIVERY_NOT_OFFICE")
    email: str | None = Field(default=None, max_length=254, description="issue with delivery email: the address "
                              "(default: the form's email; neither: 422 EMAIL_REQUIRED)")


class ModeIn(Body):
    mode: Literal["auto", "manual"]
    auto_share: float | None = Field(default=None, alias="autoShare", gt=0, le=1.5)


class OpenCardIn(Body):
    iin: str = Field(min_length=1, max_length=16)
    kind: Literal["job_seeker", "unemployed"]


class AssistanceIn(Body):
    iin: str = Field(pattern=r"^\d{12}$")
    kind: Literal["targeted-social", "housing"] = Field(description="адресная социальная помощь | жилищная помощь")
    granted_on: dt.date = Field(alias="grantedOn", description="the first day it is granted for (YYYY-MM-DD)")
    until: dt.date | None = Field(default=None, description="the last day (none: open-ended)")
    decision: str | None = Field(default=None, max_length=200, description="the granting body's decision, as cited")


class StaffIn(Body):
    role: str = Field(min_length=1, max_length=32, description="a role of the district's regulations' steps")


class CloseCardIn(Body):
    reason: str = Field(min_length=1, max_length=256)


def _step_out(record: StepRecord, regulation_step: Any, *, overdue: bool) -> dict[str, Any]:
    return {"position": record.position, "step": record.step_id, "role": record.role,
            "action": regulation_step.action if regulation_step else None,
            "max": regulation_step.max.describe() if regulation_step else None,
            "startedAt": record.started_at.isoformat(), "dueAt": record.due_at.isoformat(),
            "autoAt": record.auto_at.isoformat() if record.auto_at else None, "done": record.done,
            "finishedAt": record.finished_at.isoformat() if record.finished_at else None, "actor": record.actor,
            "overdue": overdue}


def application_out(app: Application, *, view: ApplicationView | None, book: RegulationBook) -> dict[str, Any]:
    """An application as ИС МИО shows it; with ``view``, its timeline as of the moment it was read."""
    regulation = book.all.get(app.regulation_id)
    out: dict[str, Any] = {
        "number": app.number, "district": app.district, "serviceId": app.service_id, "channel": app.channel,
        "regulation": app.regulation_id, "status": app.status, "statusText": STATUS_TEXT[app.status],
        "mode": app.mode, "applicantIin": app.applicant_iin, "origin": app.origin_member,
        "correlationId": app.correlation_id, "receivedAt": app.received_at.isoformat(),
        "termDue": app.term_due.isoformat() if app.term_due else None, "decision": app.decision,
        "reason": app.reason, "executorIin": app.executor_iin, "signerIin": app.signer_iin,
        "completedAt": app.completed_at.isoformat() if app.completed_at else None, "form": app.form,
        "delivery": app.delivery, "deliveredTo": app.delivered_to,
        # the provider's document check (condition 3) as of the day it came: what a refusal over documents cites
        "documentCheck": document_problems(app.form, on=app.received_at.astimezone(KZ_TZ).date()),
    }
    if app.draft is not None:
        out["document"] = {"content": app.draft, "signature": app.document_signature}
    if view is not None:
        steps = {s.id: s for s in regulation.steps} if regulation else {}
        out["timeline"] = [_step_out(r, steps.get(r.step_id), overdue=view.overdue(r)) for r in view.timeline]
    return out


def _card_out(card: LabourCard, events: list[LabourCardEvent]) -> dict[str, Any]:
    return {"id": card.id, "district": card.district, "iin": card.iin, "kind": card.kind, "status": card.status,
            "openedAt": card.opened_at.isoformat(),
            "unemployedSince": card.unemployed_since.isoformat() if card.unemployed_since else None,
            "closedAt": card.closed_at.isoformat() if card.closed_at else None, "closeReason": card.close_reason,
            "history": [{"at": e.at.isoformat(), "kind": e.kind, "detail": e.detail,
                         "applicationNumber": e.application_number} for e in events]}


def build_router(*, workstation: Workstation, staff: StaffBook, book: RegulationBook, admin: Any,
                 admin_token: Any) -> APIRouter:
    router = APIRouter()
    guarded = [Depends(admin)]

    @raises(*SESSION_REFUSALS, "STAFF_NOT_FOUND")
    async def current_staff(authorization: str | None = Header(default=None)) -> StaffAccount:
        return await staff.staff_of(bearer(authorization))

    @raises(*SESSION_REFUSALS, "STAFF_NOT_FOUND")
    async def viewer(authorization: str | None = Header(default=None)) -> StaffAccount | None:
        """A staff member, or None for the admin token (test support reads everything)."""
        token = bearer(authorization)
        if token is not None and token == admin_token():
            return None
        return await staff.staff_of(token)

    def same_district(who: StaffAccount | None, district: str) -> None:
        if who is not None and who.district != district:
            raise MeshError("NOT_YOUR_DISTRICT", f"you work in {who.district}, not {district}")

    @router.get("/regulations", tags=["regulations"], summary="Every regulation this workstation runs")
    async def regulations() -> dict:
        return {"regulations": [{"id": r.id, "title": r.title, "service": r.service, "channel": r.channel,
                                 "districts": list(r.districts), "act": r.act, "steps": len(r.steps)}
                                for r in book.all.values()]}

    @router.get("/regulations/{regulation_id}", tags=["regulations"], summary="A regulation: steps, term, sources",
                responses=error_responses("REGULATION_NOT_FOUND"))
    async def regulation(regulation_id: str) -> dict:
        found = book.all.get(regulation_id)
        if found is None:
            raise MeshError("REGULATION_NOT_FOUND", f"no regulation {regulation_id}")
        return found.model_dump(mode="json", by_alias=True)

    @router.get("/districts", tags=["districts"], summary="Districts served, their organisations and regulations")
    async def districts() -> dict:
        return {"districts": [{"district": d, "memberId": f"mio.{d}", **staff.organisations.get(d, {}),
                               "regulations": [r.id for r in book.for_district(d)]}
                              for d in (k.split(".", 1)[1] for k in workstation._runtimes)]}

    @router.post("/staff/login", tags=["staff"], summary="Log in with IIN and password",
                 responses=error_responses("PASSWORD_NOT_SET", "PASSWORD_WRONG", "ACCOUNT_NOT_FOUND",
                                           "IIN_BAD_BIRTH_DATE", "IIN_BAD_CENTURY_DIGIT", "IIN_BAD_CHECK_DIGIT",
                                           "IIN_LENGTH", "IIN_NEVER_ISSUED", "IIN_NOT_DIGITS", "ACCOUNT_LOCKED"))
    async def login(body: LoginIn) -> dict:
        return (await staff.login(iin=body.iin, password=body.password)).public()

    @router.post("/staff/challenges", tags=["staff"], status_code=201, summary="An EDS challenge to log in with")
    async def challenge() -> dict:
        return await staff.logins.challenge(purpose="login")

    @router.post("/staff/login/eds", tags=["staff"], summary="Log in with EDS (employee authentication certificate)",
                 responses=error_responses("CHALLENGE_EXPIRED", "CHALLENGE_REPLAYED", "CHALLENGE_UNKNOWN",
                                           "EDS_BIN_MISMATCH", "EDS_CERTIFICATE_EXPIRED",
                                           "EDS_CERTIFICATE_NOT_YET_VALID", "EDS_CERTIFICATE_REVOKED",
                                           "EDS_CERTIFICATE_STATUS_UNKNOWN", "EDS_CERTIFICATE_UNTRUSTED",
                                           "EDS_IIN_MISMATCH", "EDS_ROLE_MISSING", "EDS_SIGNATURE_INVALID",
                                           "EDS_WRONG_HOLDER", "EDS_WRONG_KEY_USAGE", "STAFF_NOT_FOUND",
                                           "EDS_CLOCK_SKEW", "EDS_OCSP_UNREACHABLE", "NOT_READY"))
    async def login_eds(body: EdsLoginIn) -> dict:
        return (await staff.login_with_eds(challenge_id=body.challenge_id, signature=body.signature)).public()

    @router.post("/staff/logout", tags=["staff"], summary="End this login",
                 responses=error_responses("SESSION_EXPIRED", "SESSION_INVALID", "SESSION_MISSING"))
    async def logout(authorization: str | None = Header(default=None)) -> dict:
        await staff.logins.end(bearer(authorization))
        return {"loggedOut": True}

    @router.get("/staff/me", tags=["staff"], summary="Who is logged in",
                responses=error_responses("STAFF_NOT_FOUND"))
    async def me(who: StaffAccount = Depends(current_staff)) -> dict:
        return staff_public(who, secrets_too=False)

    @router.get("/districts/{district}/applications", tags=["inbox"],
                summary="A district's inbox: ?status=RECEIVED (Поступившие), IN_PROGRESS (В работе), OVERDUE, DONE",
                responses=error_responses("STAFF_NOT_FOUND", "NOT_YOUR_DISTRICT", "DISTRICT_UNKNOWN"))
    async def inbox(district: str, status: Annotated[str | None, Query(
            pattern="^(RECEIVED|IN_PROGRESS|OVERDUE|DONE|COMPLETED|REFUSED|NOT_ACCEPTED)$")] = None,
                    who: StaffAccount | None = Depends(viewer)) -> dict:
        same_district(who, district)
        workstation.runtime(district)
        apps, overdue_steps = await workstation.reads.inbox(district=district, status=status)
        return {"district": district, "applications": [application_out(a, view=None, book=book) for a in apps],
                "overdueSteps": overdue_steps}

    @router.post("/districts/{district}/applications", tags=["inbox"], status_code=201,
                 summary="Enter a paper application at the office (the accepting role of the regulation)",
                 description="`Idempotency-Key` (a UUID) makes the call safe to repeat: a repeat with the same key "
                             "and body answers with the same application (`Idempotent-Replayed: true`).",
                 responses=error_responses("CANONICAL_FORM_IMPOSSIBLE", "IDEMPOTENCY_KEY_INVALID", "STAFF_NOT_FOUND",
                                           "WRONG_ROLE", "APPLICATION_NOT_FOUND", "CHANNEL_NOT_PROVIDED",
                                           "ATTACHMENTS_TOO_LARGE", "ATTACHMENT_TOO_LARGE",
                                           "ATTACHMENT_TYPE_NOT_ALLOWED", "ATTACHMENT_DIGEST_MISMATCH",
                                           "ATTACHMENT_DUPLICATE", "ATTACHMENT_EMPTY", "ATTACHMENT_MISMATCH",
                                           "ATTACHMENT_MISSING", "ATTACHMENT_NOT_BASE64", "ATTACHMENT_NOT_SIGNED",
                                           "ATTACHMENT_TOO_MANY", "DISTRICT_UNKNOWN", "FORM_INVALID",
                                           "FORM_SIGNATURE_NOT_CONFIRMED", "IDEMPOTENCY_KEY_REUSED",
                                           "SIGNER_NOT_ALLOWED", "NOT_READY", "Server.ClockSkew",
                                           "Server.OcspResponderUnreachable"))
    async def enter(district: str, body: ApplicationRequest, response: Response,
                    who: StaffAccount = Depends(current_staff),
                    key: Annotated[str | None, Header(alias=HEADER)] = None) -> dict:
        app, replayed = await workstation.intake_at_office(district=district, staff=who, request=body,
                                                           idempotency_key=valid_key(key))
        if replayed:
            response.headers[REPLAYED_HEADER] = "true"
        return await _full(app.number)

    async def _full(number: str) -> dict[str, Any]:
        view = await workstation.reads.application(number)
        return application_out(view.app, view=view, book=book)

    @router.get("/applications/{number}", tags=["applications"], summary="An application with its full timeline",
                description="Read from one snapshot; a step is overdue when it finished after its maximum, or is "
                            "still open past it and not scheduled to be done before it (on the mesh clock).",
                responses=error_responses("STAFF_NOT_FOUND", "NOT_YOUR_DISTRICT", "APPLICATION_NOT_FOUND"))
    async def application(number: str, who: StaffAccount | None = Depends(viewer)) -> dict:
        view = await workstation.reads.application(number)
        same_district(who, view.app.district)
        return application_out(view.app, view=view, book=book)

    @router.get("/applications/{number}/documents/{sha256}", tags=["applications"], response_class=Response,
                summary="An electronic copy the application came with (named on its signed form by this SHA-256)",
                responses=error_responses("STAFF_NOT_FOUND", "NOT_YOUR_DISTRICT", "APPLICATION_NOT_FOUND",
                                          "DOCUMENT_COPY_NOT_FOUND"))
    async def document_copy(number: str, sha256: str, who: StaffAccount | None = Depends(viewer)) -> Response:
        app = await workstation.application(number)
        same_district(who, app.district)
        copy = await workstation.reads.copy(number, sha256)
        return Response(content=copy.content, media_type=copy.content_type,
                        headers={"Content-Disposition": f'attachment; filename="{sha256[:16]}"',
                                 "X-Content-Type-Options": "nosniff"})

    @router.get("/applications/{number}/draft", tags=["applications"],
                summary="The result document to sign (its RFC 8785 form is what the head signs)",
                responses=error_responses("STAFF_NOT_FOUND", "NOT_YOUR_DISTRICT", "APPLICATION_NOT_FOUND",
                                          "NO_DRAFT_YET"))
    async def draft(number: str, who: StaffAccount | None = Depends(viewer)) -> dict:
        app = await workstation.application(number)
        same_district(who, app.district)
        if app.draft is None:
            raise MeshError("NO_DRAFT_YET", f"application {number} has no decision yet")
        return app.draft

    @router.get("/applications/{number}/document.pdf", tags=["applications"], response_class=Response,
                responses={200: {"content": {"application/pdf": {}}}}
                | error_responses("NOT_YOUR_DISTRICT", "APPLICATION_NOT_FOUND", "DOCUMENT_NOT_READY"),
                summary="The signed result as a printable bilingual (kk/ru) PDF with its QR code and the signed JSON "
                        "embedded (staff of the district, or admin)")
    async def document_pdf(number: str, who: StaffAccount | None = Depends(viewer)) -> Response:
        app = await workstation.application(number)
        same_district(who, app.district)
        if app.draft is None or not app.document_signature:
            raise MeshError("DOCUMENT_NOT_READY", f"application {number} has no signed result yet")
        document = SignedResult(content=app.draft, signature=app.document_signature)
        return Response(content=await asyncio.to_thread(render_pdf, document), media_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="{filename(document, "pdf")}"'})

    @router.post("/applications/{number}/actions/{action}", tags=["applications"],
                 summary="Do the current step's next action: accept, assign, decide, sign, issue (by its role)",
                 description="`assign` names (`executorIin`, default: the seeded one) a staff member of the "
                             "application's district with the role of the deciding step — else `422 "
                             "EXECUTOR_NOT_IN_DISTRICT` / `NOT_AN_EXECUTOR`; `decide` is then that member's alone "
                             "(`403 NOT_THE_ASSIGNED_EXECUTOR`), and approving a form that does not name the person "
                             "as ГБД ФЛ holds them is `409 APPLICANT_NOT_CONFIRMED`. `403 WRONG_ROLE` for another "
                             "role's step.",
                 responses=error_responses("EDS_BIN_MISMATCH", "EDS_CERTIFICATE_EXPIRED",
                                           "EDS_CERTIFICATE_NOT_YET_VALID", "EDS_CERTIFICATE_REVOKED",
                                           "EDS_CERTIFICATE_STATUS_UNKNOWN", "EDS_CERTIFICATE_UNTRUSTED",
                                           "EDS_IIN_MISMATCH", "EDS_ROLE_MISSING", "EDS_SIGNATURE_INVALID",
                                           "EDS_WRONG_HOLDER", "EDS_WRONG_KEY_USAGE", "STAFF_NOT_FOUND",
                                           "NOT_THE_ASSIGNED_EXECUTOR", "NOT_THE_NAMED_SIGNER", "NOT_YOUR_DISTRICT",
                                           "WRONG_ROLE", "APPLICATION_NOT_FOUND", "ACTION_NOT_DUE",
                                           "APPLICANT_NOT_CONFIRMED", "APPLICATION_CLOSED", "CARD_REQUIRED",
                                           "NO_SIGNER", "REFUSAL_NOT_PROVIDED", "STEP_ALREADY_DONE",
                                           "DECISION_REQUIRED", "DELIVERY_NOT_OFFICE", "DISTRICT_UNKNOWN",
                                           "EMAIL_INVALID", "EMAIL_REQUIRED", "EMAIL_WITHOUT_DELIVERY",
                                           "EXECUTOR_NOT_IN_DISTRICT", "MAIL_INVALID", "NOT_AN_EXECUTOR",
                                           "REASON_REQUIRED", "SIGNATURE_REQUIRED", "SIGNING_TIME_MISSING",
                                           "SIGNING_TIME_SKEWED", "EDS_CLOCK_SKEW", "EDS_OCSP_UNREACHABLE",
                                           "NOT_READY"))
    async def act(number: str, action: Literal["accept", "assign", "decide", "sign", "issue"], body: ActionIn,
                  who: StaffAccount = Depends(current_staff)) -> dict:
        await workstation.act(number=number, action=action, actor=who, body=ActionBody(
            accept=body.accept, reason=body.reason, executor_iin=body.executor_iin, decision=body.decision,
            signature=body.signature, delivery=body.delivery, email=body.email))
        return await _full(number)

    @router.get("/districts/{district}/register", tags=["Еңбек нарығы"],
                summary="Personal cards of job seekers and unemployed people, with their history",
                responses=error_responses("STAFF_NOT_FOUND", "NOT_YOUR_DISTRICT"))
    async def register(district: str, iin: Annotated[str | None, Query(pattern=r"^\d{12}$")] = None,
                       who: StaffAccount | None = Depends(viewer)) -> dict:
        same_district(who, district)
        return {"cards": [_card_out(c, e) for c, e in await workstation.register.cards(district=district, iin=iin)]}

    @router.post("/register/cards/{card_id}/close", tags=["Еңбек нарығы"], summary="Close a card, with the reason",
                 description="By staff of the card's district (`403 NOT_YOUR_DISTRICT`) whose role its regulation "
                             "files name as the register's keeper, `registerKeeper` — who enters people there (`403 "
                             "NOT_THE_REGISTER_KEEPER`, `details.roles`); `409 CARD_CLOSED`, `404 CARD_NOT_FOUND`.",
                 responses=error_responses("STAFF_NOT_FOUND", "NOT_THE_REGISTER_KEEPER", "NOT_YOUR_DISTRICT",
                                           "CARD_NOT_FOUND", "CARD_CLOSED"))
    async def close_card(card_id: str, body: CloseCardIn, who: StaffAccount = Depends(current_staff)) -> dict:
        card = await workstation.register.close(card_id=card_id, reason=body.reason, actor=who)
        return _card_out(card, [])

    @router.post("/admin/districts/{district}/register/cards", tags=["test support"], dependencies=guarded,
                 status_code=201, summary="Put a person on the register directly (already a job seeker or unemployed)",
                 responses=error_responses("CARD_EXISTS", "DISTRICT_UNKNOWN", "IIN_BAD_BIRTH_DATE",
                                           "IIN_BAD_CENTURY_DIGIT", "IIN_BAD_CHECK_DIGIT", "IIN_LENGTH",
                                           "IIN_NEVER_ISSUED", "IIN_NOT_DIGITS"))
    async def open_card(district: str, body: OpenCardIn) -> dict:
        workstation.runtime(district)
        card = await workstation.register.open_directly(district=district, iin=body.iin, kind=body.kind)
        return _card_out(card, [])

    @router.post("/admin/districts/{district}/register/assistance", tags=["test support"], dependencies=guarded,
                 status_code=201, summary="Note targeted social or housing assistance on a person's open card (the "
                                          "unemployed certificate, 003 app. 5, lists it)",
                 description="404 CARD_NOT_FOUND without an open card in the district; 422 ASSISTANCE_PERIOD_INVALID "
                             "when `until` is before `grantedOn`.",
                 responses=error_responses("CARD_NOT_FOUND", "ASSISTANCE_PERIOD_INVALID", "DISTRICT_UNKNOWN",
                                           "IIN_BAD_BIRTH_DATE", "IIN_BAD_CENTURY_DIGIT", "IIN_BAD_CHECK_DIGIT",
                                           "IIN_LENGTH", "IIN_NEVER_ISSUED", "IIN_NOT_DIGITS"))
    async def record_assistance(district: str, body: AssistanceIn) -> dict:
        workstation.runtime(district)
        card = await workstation.register.record_assistance(district=district, iin=body.iin, kind=body.kind,
                                                            granted=body.granted_on, until=body.until,
                                                            decision=body.decision)
        return _card_out(card, await workstation.register.history(card.id))

    @router.get("/admin/staff", tags=["test support"], dependencies=guarded,
                summary="Seeded staff identities with their passwords and PKCS#12 files (test identities)")
    async def staff_list() -> dict:
        return {"staff": [staff_public(s, secrets_too=True) for s in await staff.everyone()]}

    @router.post("/admin/districts/{district}/staff", tags=["test support"], dependencies=guarded, status_code=201,
                 summary="Mint one more staff member of a role the district's regulations have (a second executor…), "
                         "with НУЦ certificates; its password and PKCS#12 files as /admin/staff gives them",
                 description="422 DISTRICT_UNKNOWN; 422 ROLE_NOT_IN_DISTRICT (with the district's roles). The seeded "
                             "member of the role stays the district's first (default assignments, simulated staff).",
                 responses=error_responses("STAFF_NOT_FOUND", "DISTRICT_UNKNOWN", "ROLE_NOT_IN_DISTRICT"))
    async def mint_staff(district: str, body: StaffIn) -> dict:
        return staff_public(await staff.mint(district=district, role=body.role), secrets_too=True)

    @router.post("/admin/staff/{iin}/unlock", tags=["test support"], dependencies=guarded,
                 summary="Lift a staff member's lock-out (admin)",
                 responses=error_responses("STAFF_NOT_FOUND"))
    async def staff_unlock(iin: str) -> dict:
        return staff_public(await staff.unlock(iin), secrets_too=False)

    @router.put("/admin/districts/{district}/mode", tags=["test support"], dependencies=guarded,
                summary="auto (simulated staff) or manual (staff act through the API) for a district",
                responses=error_responses("APPLICATION_NOT_FOUND", "DISTRICT_UNKNOWN"))
    async def district_mode(district: str, body: ModeIn) -> dict:
        await workstation.set_mode(district=district, number=None, mode=body.mode, share=body.auto_share)
        return {"district": district, "mode": body.mode}

    @router.put("/admin/applications/{number}/mode", tags=["test support"], dependencies=guarded,
                summary="auto or manual for one application",
                responses=error_responses("APPLICATION_NOT_FOUND", "DISTRICT_UNKNOWN"))
    async def application_mode(number: str, body: ModeIn) -> dict:
        await workstation.set_mode(district=None, number=number, mode=body.mode, share=body.auto_share)
        return await _full(number)

    @router.get("/admin/schedule", tags=["test support"], dependencies=guarded,
                summary="When simulated staff act next (mesh time) and how many steps are due now — for `settle`")
    async def schedule(number: Annotated[str | None, Query()] = None) -> dict:
        return await workstation.reads.schedule(number=number)

    return router

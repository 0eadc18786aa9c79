"""The citizen's cabinet beyond the history: «Уведомления» read and unread, and the quality survey of seed 003
appendix 3 («качество» и «доступность»: two questions, three answers each), once per finished application."""

# No `from __future__ import annotations`: the routes' dependencies are closures FastAPI must see evaluated.
import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Column, update
from sqlmodel import Field as SqlField
from sqlmodel import SQLModel, col, func, select

from shared.clock import MeshClock
from shared.db import Sessions, UtcDateTime, insert_if_absent
from shared.employment.case_tracking import DECIDED, CaseNotice, TrackedCase, notice_out, notices
from shared.employment.logins import SESSION_REFUSALS, Logins, LoginSession, bearer, refuse_unless_citizen
from shared.errors import MeshError
from shared.web.http_app import SQL_INT_MAX
from shared.web.openapi_errors import error_responses, raises

ANSWERS = {1: {"ru": "не удовлетворен", "kk": "қанағаттанбаймын"},
           2: {"ru": "частично удовлетворен", "kk": "ішінара қанағаттанамын"},
           3: {"ru": "удовлетворен", "kk": "қанағаттанамын"}}
QUESTIONS = {
    "quality": {"ru": "Удовлетворены ли Вы качеством процесса и результатом оказания электронной государственной "
                      "услуги?",
                "kk": "Электрондық мемлекеттік қызмет көрсету процесінің сапасына және нәтижесіне қанағаттанасыз ба?"},
    "information": {"ru": "Удовлетворены ли Вы качеством информации о порядке оказания электронной государственной "
                          "услуги?",
                    "kk": "Электрондық мемлекеттік қызмет көрсету тәртібі туралы ақпараттың сапасына қанағаттанасыз "
                          "ба?"},
}


class SurveyAnswer(SQLModel, table=True):
    """One survey per application (its correlation id): the first answer stays."""

    __tablename__ = "survey_answer"

    correlation_id: str = SqlField(primary_key=True, max_length=128)
    iin: str = SqlField(index=True, max_length=12)
    quality: int
    information: int
    answered_at: dt.datetime = SqlField(sa_column=Column(UtcDateTime, nullable=False))


class SurveyIn(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    quality: int = Field(ge=1, le=3, description="1 не удовлетворен, 2 частично удовлетворен, 3 удовлетворен")
    information: int = Field(ge=1, le=3)


class SurveyOut(BaseModel):
    correlationId: str  # noqa: N815 - the wire's spelling
    quality: int
    information: int
    answeredAt: str  # noqa: N815


class SurveyFormOut(BaseModel):
    questions: dict[str, dict[str, str]]
    answers: dict[int, dict[str, str]]
    source: str


class NoticeOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: int
    read: bool


class NoticesOut(BaseModel):
    notifications: list[NoticeOut]
    unread: int


class ReadOut(BaseModel):
    marked: int
    unread: int


class ReadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[Annotated[int, Field(ge=1, le=SQL_INT_MAX)]] | None = Field(default=None, max_length=1000,
                                                                          description="none: every unread one")


def build_cabinet_router(*, sessions: Sessions, logins: Logins, clock: MeshClock, admin: Any) -> APIRouter:
    router = APIRouter(tags=["cabinet"])

    @raises(*SESSION_REFUSALS)
    async def current(authorization: Annotated[str | None, Header()] = None) -> LoginSession:
        return await logins.session_of(bearer(authorization))

    own = refuse_unless_citizen  # every citizen resource: only its owner, logged in as a citizen

    async def unread(iin: str) -> int:
        async with sessions() as session:
            return (await session.exec(select(func.count()).select_from(CaseNotice).where(
                CaseNotice.applicant_iin == iin, col(CaseNotice.read_at).is_(None)))).one()

    @router.get("/citizens/{iin}/notifications/unread", response_model=NoticesOut,
                summary="«Уведомления» not read yet (the whole list: GET /citizens/{iin}/notifications)",
                responses=error_responses("NOT_YOUR_DATA"))
    async def unread_list(iin: str, login: Annotated[LoginSession, Depends(current)]) -> NoticesOut:
        own(iin, login)
        fresh = [n for n in await notices(sessions, iin=iin) if n.read_at is None]
        return NoticesOut(notifications=[NoticeOut.model_validate(notice_out(n)) for n in fresh], unread=len(fresh))

    @router.post("/citizens/{iin}/notifications/read", response_model=ReadOut,
                 summary="Mark notifications read: the ones named (`ids`), or all",
                 responses=error_responses("NOT_YOUR_DATA"))
    async def mark_read(iin: str, login: Annotated[LoginSession, Depends(current)],
                        body: ReadIn | None = None) -> ReadOut:
        own(iin, login)
        ids = body.ids if body is not None else None
        async with sessions() as session, session.begin():
            query = update(CaseNotice).where(col(CaseNotice.applicant_iin) == iin, col(CaseNotice.read_at).is_(None))
            if ids is not None:
                query = query.where(col(CaseNotice.id).in_(ids))
            marked = (await session.exec(query.values(read_at=clock.now()))).rowcount  # type: ignore[call-overload]
        return ReadOut(marked=marked, unread=await unread(iin))

    @router.get("/services/survey", response_model=SurveyFormOut,
                summary="The quality survey's form (seed 003 appendix 3): two questions, three answers each")
    async def survey_form() -> SurveyFormOut:
        return SurveyFormOut(questions=QUESTIONS, answers=ANSWERS,
                             source="приложение 3 к регламенту «Выдача справок безработным гражданам»")

    @router.post("/citizens/{iin}/applications/{correlation_id}/survey", status_code=201, response_model=SurveyOut,
                 summary="Answer the quality survey for a finished application: once",
                 responses=error_responses("NOT_YOUR_DATA", "APPLICATION_NOT_FOUND", "SURVEY_ALREADY_ANSWERED",
                                           "SURVEY_NOT_YET"))
    async def answer(iin: str, correlation_id: str, body: SurveyIn,
                     login: Annotated[LoginSession, Depends(current)]) -> SurveyOut:
        own(iin, login)
        async with sessions() as session:
            case = await session.get(TrackedCase, correlation_id)
        if case is None or case.applicant_iin != iin:
            raise MeshError("APPLICATION_NOT_FOUND", "no such application of yours")
        if case.status not in DECIDED:
            raise MeshError("SURVEY_NOT_YET", f"the survey follows the result; the application is {case.status}")
        now = clock.now()
        async with sessions() as session, session.begin():
            fresh = await insert_if_absent(session, SurveyAnswer.__table__, {  # type: ignore[attr-defined]
                "correlation_id": correlation_id, "iin": iin, "quality": body.quality,
                "information": body.information, "answered_at": now})
        if not fresh:
            raise MeshError("SURVEY_ALREADY_ANSWERED", "this application's survey was answered already")
        return SurveyOut(correlationId=correlation_id, quality=body.quality, information=body.information,
                         answeredAt=now.isoformat())

    @router.get("/admin/surveys", dependencies=[Depends(admin)],
                summary="Every survey answer, with the counts per answer (test support)")
    async def survey_results() -> dict[str, Any]:
        async with sessions() as session:
            rows = list((await session.exec(select(SurveyAnswer))).all())
        counts = {q: {a: sum(1 for r in rows if getattr(r, q) == a) for a in ANSWERS} for q in QUESTIONS}
        return {"answers": len(rows), "counts": counts}

    return router

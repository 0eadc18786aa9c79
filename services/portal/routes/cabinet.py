"""The citizen's cabinet: who is logged in, their account and their data from ГБД ФЛ, «Уведомления» read and unread,
and the quality survey of seed 003 appendix 3 once per finished application."""

from __future__ import annotations

from fastapi import APIRouter

from services.portal.deps import ADMIN, CurrentLogin, PortalDep
from services.portal.schemas.accounts import AccountPublic, CitizenMe, OrganisationMe, ProfilePublic
from services.portal.schemas.cases import (
    NoticePublic,
    ReadOut,
    SurveyFormOut,
    SurveyOut,
    SurveyResultsOut,
    UnreadOut,
)
from services.portal.schemas.requests import ReadIn, SurveyIn
from services.portal.usecases.survey import ANSWERS, QUESTIONS, SOURCE
from shared.employment.logins import refuse_unless_citizen as own
from shared.web.openapi_errors import error_responses

router = APIRouter()


@router.get("/me", response_model=CitizenMe | OrganisationMe, tags=["cabinet"], summary="Who is logged in",
            responses=error_responses("ACCOUNT_NOT_FOUND"))
async def me(login: CurrentLogin, portal: PortalDep) -> CitizenMe | OrganisationMe:
    if login.representative_iin is not None:  # an organisation's login: its BIN and who logged in for it
        account = await portal.accounts.organisation_account(bin_=login.subject, iin=login.representative_iin)
        return OrganisationMe.of_login(account, login)
    return CitizenMe.of_login(await portal.accounts.account(login.subject), login)


@router.get("/citizens/{iin}/account", response_model=AccountPublic, tags=["cabinet"],
            summary="A citizen's account (only their own)",
            responses=error_responses("NOT_YOUR_DATA", "ACCOUNT_NOT_FOUND"))
async def account(iin: str, login: CurrentLogin, portal: PortalDep) -> AccountPublic:
    own(iin, login)
    return AccountPublic.of(await portal.accounts.account(iin))


@router.get("/citizens/{iin}/profile", response_model=ProfilePublic, response_model_exclude_unset=True,
            tags=["cabinet"],
            summary="A citizen's data as ГБД ФЛ holds it, asked through the gateway (only their own)",
            responses=error_responses("NOT_YOUR_DATA", "PERSON_NOT_FOUND", "BROKER_UNAVAILABLE",
                                      "GATEWAY_UNAVAILABLE", "NUC_UNAVAILABLE", "REGISTRY_UNAVAILABLE"))
async def profile(iin: str, login: CurrentLogin, portal: PortalDep) -> ProfilePublic:
    own(iin, login)
    person = await portal.profile.read(iin)
    return ProfilePublic.model_validate(person.model_dump(by_alias=True, exclude_none=True))


@router.get("/citizens/{iin}/notifications/unread", tags=["cabinet"], response_model=UnreadOut,
            summary="«Уведомления» not read yet (the whole list: GET /citizens/{iin}/notifications)",
            responses=error_responses("NOT_YOUR_DATA"))
async def unread_list(iin: str, login: CurrentLogin, portal: PortalDep) -> UnreadOut:
    own(iin, login)
    fresh = await portal.following.unread(iin)
    return UnreadOut(notifications=[NoticePublic.of(n) for n in fresh], unread=len(fresh))


@router.post("/citizens/{iin}/notifications/read", tags=["cabinet"], response_model=ReadOut,
             summary="Mark notifications read: the ones named (`ids`), or all",
             responses=error_responses("NOT_YOUR_DATA"))
async def mark_read(iin: str, login: CurrentLogin, portal: PortalDep, body: ReadIn | None = None) -> ReadOut:
    own(iin, login)
    marked = await portal.following.mark_read(iin, ids=body.ids if body is not None else None)
    return ReadOut(marked=marked, unread=await portal.following.unread_count(iin))


@router.get("/services/survey", tags=["cabinet"], response_model=SurveyFormOut,
            summary="The quality survey's form (seed 003 appendix 3): two questions, three answers each")
async def survey_form() -> SurveyFormOut:
    return SurveyFormOut.model_validate({"questions": QUESTIONS, "answers": ANSWERS, "source": SOURCE})


@router.post("/citizens/{iin}/applications/{correlation_id}/survey", tags=["cabinet"], status_code=201,
             response_model=SurveyOut,
             summary="Answer the quality survey for a finished application: once",
             responses=error_responses("NOT_YOUR_DATA", "APPLICATION_NOT_FOUND", "SURVEY_ALREADY_ANSWERED",
                                       "SURVEY_NOT_YET"))
async def answer(iin: str, correlation_id: str, body: SurveyIn, login: CurrentLogin, portal: PortalDep) -> SurveyOut:
    own(iin, login)
    at = await portal.survey.answer(iin=iin, correlation_id=correlation_id, quality=body.quality,
                                    information=body.information)
    return SurveyOut(correlation_id=correlation_id, quality=body.quality, information=body.information,
                     answered_at=at.isoformat())


@router.get("/admin/surveys", tags=["cabinet"], response_model=SurveyResultsOut, dependencies=ADMIN,
            summary="Every survey answer, with the counts per answer (test support)")
async def survey_results(portal: PortalDep) -> SurveyResultsOut:
    answers, counts = await portal.survey.results()
    return SurveyResultsOut(answers=answers, counts={q: {str(a): n for a, n in c.items()} for q, c in counts.items()})

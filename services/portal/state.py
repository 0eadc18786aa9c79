"""What a reset and a snapshot of the portal cover (shared/web/state_admin.py): accounts, organisations, copies,
survey answers, the cases it follows with their notices, and the mesh's mail it hosts; sessions and idempotency keys
are transient. One citizen: their account, copies, answers, cases, notices and the mail about their cases. One
district: the cases of that district, their notices and mail."""

from __future__ import annotations

from services.portal.mailbox import MailMessage
from services.portal.store import Account, CitizenCopy, OrganisationAccount, SurveyAnswer
from shared.employment.case_tracking import CaseNotice, TrackedCase
from shared.employment.logins import Challenge, LoginGuess, LoginSession
from shared.web.idempotency import IdempotencyRecord
from shared.web.state_admin import Scoped, StatePlan


def portal_state() -> StatePlan:
    return StatePlan(
        state=[Account, OrganisationAccount, CitizenCopy, SurveyAnswer, TrackedCase, CaseNotice, MailMessage],
        transient=[LoginSession, Challenge, LoginGuess, IdempotencyRecord],
        scopes={
            "iin": [Scoped(MailMessage, "correlation_id", via=(TrackedCase, "correlation_id", "applicant_iin")),
                    Scoped(CaseNotice, "applicant_iin"), Scoped(TrackedCase, "applicant_iin"),
                    Scoped(CitizenCopy, "iin"), Scoped(SurveyAnswer, "iin"), Scoped(LoginSession, "subject"),
                    Scoped(Account, "iin")],
            "district": [Scoped(MailMessage, "correlation_id", via=(TrackedCase, "correlation_id", "district")),
                         Scoped(CaseNotice, "district"), Scoped(TrackedCase, "district")],
        })

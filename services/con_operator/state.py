"""What a reset and a snapshot of ИС ЦОН cover (shared/web/state_admin.py): tickets and their counters (numbering
starts again), visits, scans, the cases it follows with their notices; operators, certified by НУЦ, are kept, their
sessions are transient. One citizen: their visits with the tickets they came on, their cases and notices. One
district: the visits and cases of that district."""

from __future__ import annotations

from services.con_operator.store import Scan, ScanRef, Ticket, TicketCounter, Visit
from shared.employment.case_tracking import CaseNotice, TrackedCase
from shared.employment.logins import Challenge, LoginGuess, LoginSession
from shared.web.idempotency import IdempotencyRecord
from shared.web.state_admin import Scoped, StatePlan


def centre_state() -> StatePlan:
    return StatePlan(
        state=[TicketCounter, Ticket, Visit, Scan, ScanRef, TrackedCase, CaseNotice],
        transient=[LoginSession, Challenge, LoginGuess, IdempotencyRecord],
        scopes={
            "iin": [Scoped(Ticket, "id", via=(Visit, "ticket_id", "applicant_iin")), Scoped(Visit, "applicant_iin"),
                    Scoped(CaseNotice, "applicant_iin"), Scoped(TrackedCase, "applicant_iin")],
            "district": [Scoped(Ticket, "id", via=(Visit, "ticket_id", "district")), Scoped(Visit, "district"),
                         Scoped(CaseNotice, "district"), Scoped(TrackedCase, "district")],
        })

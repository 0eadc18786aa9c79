"""What a reset and a snapshot of ИС МИО cover (shared/web/state_admin.py): applications with their steps and
documents, the counters that number them (numbering starts again), «Еңбек нарығы» cards and events, the districts'
modes; staff, certified by НУЦ, are kept, their sessions are transient. One citizen: their applications (steps,
documents) and cards (events). One district: the same for the district, its counters and its mode."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from services.mio_workstation.store import (
    Application,
    ApplicationDocument,
    DistrictMode,
    DocumentCounter,
    LabourCard,
    LabourCardEvent,
    NumberCounter,
    StepRecord,
)
from shared.employment.logins import Challenge, LoginGuess, LoginSession
from shared.web.idempotency import IdempotencyRecord
from shared.web.state_admin import Scoped, ScopeRule, StatePlan


def _owned(column: str) -> list[ScopeRule]:
    return [Scoped(StepRecord, "application_number", via=(Application, "number", column)),
            Scoped(ApplicationDocument, "application_number", via=(Application, "number", column)),
            Scoped(LabourCardEvent, "card_id", via=(LabourCard, "id", "iin" if column == "applicant_iin" else column)),
            Scoped(Application, column), Scoped(LabourCard, "iin" if column == "applicant_iin" else column)]


def office_state(*, wake: Callable[[], None], rejoin: Callable[[], Awaitable[None]]) -> StatePlan:
    """``rejoin``: the districts join their services in the gateway's registry again (a mesh reset puts the registry
    back to its seed first, which may lack the districts regulation files add)."""
    async def woken() -> None:  # the simulated staff's schedule was the deleted applications'
        wake()

    refreshed: list[Callable[[], Awaitable[None]]] = [woken]
    return StatePlan(
        state=[DistrictMode, NumberCounter, DocumentCounter, Application, ApplicationDocument, StepRecord, LabourCard,
               LabourCardEvent],
        transient=[LoginSession, Challenge, LoginGuess, IdempotencyRecord],
        scopes={"iin": _owned("applicant_iin"),
                "district": [*_owned("district"), Scoped(NumberCounter, "district"),
                             Scoped(DocumentCounter, "district"), Scoped(DistrictMode, "district")]},
        reseed=[rejoin], refreshed=refreshed)

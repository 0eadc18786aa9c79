"""The decision: simulated staff decide by the Standard's grounds (``domain.automatic_decision``); staff decide
themselves, but cannot approve what the registries contradict (a form that does not name the person as ГБД ФЛ
holds them; a service that needs a card on «Еңбек нарығы» the person does not have). Either way the result
document is drafted here, from ГБД ФЛ's facts and the card, for the head to sign."""

from __future__ import annotations

from services.mio_workstation.domain import (
    FORCED_GROUNDS,
    Circumstances,
    Decision,
    automatic_decision,
    card_missing,
    draft_document,
)
from services.mio_workstation.store import StaffAccount
from services.mio_workstation.usecases.actions.base import (
    ActionRequest,
    Decided,
    Facilities,
    Prepared,
    StepAction,
    card_summary,
    official,
)
from services.mio_workstation.usecases.roles import check_assigned_executor
from shared.clock import KZ_TZ
from shared.employment.regulations import Action
from shared.errors import MeshError
from shared.mesh.scenarios import current_rule

CERTIFICATE = "employment.unemployed-certificate"


def staff_decision(request: ActionRequest, facts: Circumstances) -> tuple[bool, str | None]:
    """What a staff member decided, unless the registries contradict an approval (then refused with the code)."""
    approve, reason = request.body.decision == "approve", request.body.reason
    if approve and facts.identity:  # the result would name ГБД ФЛ's person, whom the form does not name
        raise MeshError("APPLICANT_NOT_CONFIRMED", facts.identity)
    missing = card_missing(regulation=request.regulation, facts=facts) if approve else None
    if missing:
        raise MeshError("CARD_REQUIRED", missing)
    return approve, reason


def forced_decision() -> Decision | None:
    """A refusal the flow's scenario forces (``mio:refuse:<ground>``) on simulated staff, on the ground named —
    staff deciding by hand decide themselves."""
    rule = current_rule("mio", "refuse")
    return (False, FORCED_GROUNDS[rule.argument]) if rule is not None and rule.argument in FORCED_GROUNDS else None


async def _preparer(request: ActionRequest, facilities: Facilities) -> StaffAccount | None:
    """Who prepared the result: the staff member deciding, else (simulated staff) the executor the head assigned
    when the deciding step is theirs, else the district's seeded staff member of the deciding step's role."""
    if request.actor is not None:
        return request.actor
    app, role = request.app, request.step.role
    if app.executor_iin:
        assigned = await facilities.staff.known(app.executor_iin)
        if assigned is not None and assigned.role == role:
            return assigned
    return await facilities.staff.find(district=app.district, role=role)


class Decide(StepAction):
    action = Action.DECIDE

    def check(self, request: ActionRequest) -> None:
        if request.actor is None:
            return
        check_assigned_executor(app=request.app, actor=request.actor, role=request.step.role)
        if request.body.decision not in ("approve", "refuse"):
            raise MeshError("DECISION_REQUIRED", "decision must be 'approve' or 'refuse'")
        if request.body.decision == "refuse" and not request.body.reason:
            raise MeshError("REASON_REQUIRED", "a motivated refusal names its reason")

    async def prepare(self, request: ActionRequest, facilities: Facilities) -> Prepared:
        app, regulation = request.app, request.regulation
        facts, card = await facilities.registries.circumstances(app, on=request.at.astimezone(KZ_TZ).date())
        if request.actor is None:  # simulated staff: as the Standard's grounds say, or as the flow's scenario forces
            approve, reason = forced_decision() or automatic_decision(regulation=regulation, facts=facts, form=app.form)
        else:
            approve, reason = staff_decision(request, facts)
        # only the certificate prints the card's history and the specialist (003 app. 5): read them for it alone
        certificate = approve and regulation.service == CERTIFICATE
        history = await facilities.register.history(card.id) if certificate and card is not None else []
        specialist = await _preparer(request, facilities) if certificate else None
        signer = await facilities.staff.find(district=app.district, role=regulation.signature.role)
        organisation = facilities.staff.organisation(app.district)
        draft = draft_document(regulation=regulation, application_number=app.number, applied=app.received_at,
                               issued=request.at, organisation=organisation["name"], issuer_bin=organisation["bin"],
                               form=app.form, person=facts.named, approve=approve, reason=reason,
                               card=card_summary(card, history),
                               signer=official(signer), specialist=official(specialist))
        return Decided(approve=approve, reason=reason, draft=draft)

"""Accepting an application (the clerk's first step), or refusing acceptance where the regulation allows it —
always with the reason, which the NOT_ACCEPTED notice carries."""

from __future__ import annotations

from services.mio_workstation.usecases.actions.base import (
    Accepted,
    ActionRequest,
    Facilities,
    Prepared,
    StepAction,
)
from shared.employment.regulations import Action
from shared.errors import MeshError


class Accept(StepAction):
    action = Action.ACCEPT

    def check(self, request: ActionRequest) -> None:
        if not request.body.accept and not request.regulation.may_refuse_acceptance:
            raise MeshError("REFUSAL_NOT_PROVIDED", "this regulation does not let the clerk refuse acceptance")
        if not request.body.accept and not request.body.reason:
            raise MeshError("REASON_REQUIRED", "a refusal to accept names its reason")

    async def prepare(self, request: ActionRequest, facilities: Facilities) -> Prepared:
        return Accepted(accept=request.body.accept, reason=request.body.reason)

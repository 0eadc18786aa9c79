"""Each staff action of a step, one unit per kind, looked up by the action the regulation's step does."""

from __future__ import annotations

from services.mio_workstation.usecases.actions.accept import Accept
from services.mio_workstation.usecases.actions.assign import Assign
from services.mio_workstation.usecases.actions.base import (
    Accepted,
    ActionBody,
    ActionRequest,
    Assigned,
    Decided,
    Facilities,
    Issued,
    Prepared,
    Signed,
    StepAction,
    apply,
)
from services.mio_workstation.usecases.actions.decide import Decide
from services.mio_workstation.usecases.actions.issue import Issue
from services.mio_workstation.usecases.actions.sign import Sign
from shared.employment.regulations import Action

ACTIONS: dict[Action, StepAction] = {a.action: a for a in (Accept(), Assign(), Decide(), Sign(), Issue())}

__all__ = ["ACTIONS", "Accepted", "ActionBody", "ActionRequest", "Assigned", "Decided", "Facilities", "Issued",
           "Prepared", "Signed", "StepAction", "apply"]

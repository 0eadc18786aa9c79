"""The head «определяет ответственного исполнителя» (000 п. 5, пп. 2; 001 п. 5, пп. 2; 002 п. 6, пп. 3): one of
the application's own district — its staff — of the role whose step decides (the executor; where the step after it
is the head's decision, 004's unemployed registration, the head it goes to for signing)."""

from __future__ import annotations

from services.mio_workstation.usecases.actions.base import (
    ActionRequest,
    Assigned,
    Facilities,
    Prepared,
    StepAction,
)
from services.mio_workstation.usecases.roles import check_executor
from shared.employment.regulations import Action


class Assign(StepAction):
    action = Action.ASSIGN

    async def prepare(self, request: ActionRequest, facilities: Facilities) -> Prepared:
        executor = request.body.executor_iin
        role = request.regulation.step_doing(Action.DECIDE).role
        if executor is None:  # the district's seeded member of the role
            found = await facilities.staff.find(district=request.app.district, role=role)
            return Assigned(executor=found.iin if found else None)
        check_executor(app=request.app, regulation=request.regulation, executor=executor,
                       named=await facilities.staff.known(executor), role=role)
        return Assigned(executor=executor)

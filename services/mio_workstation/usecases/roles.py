"""Who may do what, in one place: staff act only on their own district's applications and cards; a step's action is
its role's (and only when it is that action's turn); the head's choice of executor binds the decision; the draft's
named signer signs it; the accepting role enters paper applications; the register's keepers close cards.

Simulated staff (``actor`` None) are the district's staff of each role: these rules do not hold them back."""

from __future__ import annotations

from services.mio_workstation.domain import next_action
from services.mio_workstation.store import Application, LabourCard, StaffAccount, StepRecord
from shared.employment.regulations import Regulation
from shared.errors import MeshError


def same_district(who: StaffAccount | None, district: str) -> None:
    """Staff read and act in their own district (``who`` None: the admin, who reads everything)."""
    if who is not None and who.district != district:
        raise MeshError("NOT_YOUR_DISTRICT", f"you work in {who.district}, not {district}")


def check_turn(*, app: Application, regulation: Regulation, record: StepRecord, action: str,
               actor: StaffAccount | None) -> None:
    """Is ``action`` the open step's next one, and the actor's role's? Done already and not due are told apart
    (with the action due and its role), so a client that repeats a call learns it was done."""
    step = regulation.steps[record.position]
    due_action = next_action(step, record.done)
    finished = [a for s in regulation.steps[:record.position] for a in s.does] + record.done
    if action in finished:
        raise MeshError("STEP_ALREADY_DONE", f"'{action}' of application {app.number} is done already; it waits "
                        f"for '{due_action}' by the {step.role}", details={"due": due_action, "role": step.role})
    if action != due_action:
        raise MeshError("ACTION_NOT_DUE", f"application {app.number} waits for '{due_action}' by the "
                        f"{step.role} (step {step.id})", details={"due": due_action, "role": step.role})
    if actor is not None and actor.role != step.role:
        raise MeshError("WRONG_ROLE", f"'{action}' in step {step.id} is the {step.role}'s, not the {actor.role}'s")


def check_office_clerk(*, staff: StaffAccount, district: str, regulation: Regulation) -> None:
    """A paper application is entered by the regulation's accepting role (its first step's) of the district."""
    accept_role = regulation.steps[0].role
    if staff.district != district or staff.role != accept_role:
        raise MeshError("WRONG_ROLE", f"applications are entered by the {accept_role} of {district}")


def check_assigned_executor(*, app: Application, actor: StaffAccount | None, role: str) -> None:
    """The head's choice binds (``Assign``): only the executor assigned decides."""
    if actor is not None and app.executor_iin is not None and actor.iin != app.executor_iin:
        raise MeshError("NOT_THE_ASSIGNED_EXECUTOR", f"application {app.number} was assigned to another {role}: it "
                        "is theirs to decide")


def check_executor(*, app: Application, regulation: Regulation, executor: str, named: StaffAccount | None,
                   role: str) -> None:
    """Whom the head may assign: a staff member of the application's own district, of the deciding step's role.
    One answer for a stranger and another district's staff: nothing is told of other districts' staff."""
    if named is None or named.district != app.district:
        raise MeshError("EXECUTOR_NOT_IN_DISTRICT", f"{executor} is no staff member of {app.district}, whose "
                        f"application {app.number} is: assign one of its own")
    if named.role != role:
        raise MeshError("NOT_AN_EXECUTOR", f"{executor} is the {named.role} of {app.district}, not a {role}: the "
                        f"decision in {regulation.id} is a {role}'s", details={"role": role})


def check_named_signer(*, app: Application, actor: StaffAccount | None) -> None:
    """The draft names the official who signs it: theirs to sign, no one else's."""
    named = (app.draft or {}).get("signer", {}).get("iin")
    if actor is not None and named and actor.iin != named:
        raise MeshError("NOT_THE_NAMED_SIGNER", f"the draft of {app.number} names {named} as its signer; it is "
                        "theirs to sign")


def check_register_keeper(*, actor: StaffAccount, card: LabourCard, keepers: list[str]) -> None:
    """Cards are closed by staff of the district that keeps them, of a role its regulation files name as the
    register's keeper (``registerKeeper``: who enters people there)."""
    if actor.district != card.district:
        raise MeshError("NOT_YOUR_DISTRICT", f"card {card.id} belongs to {card.district}")
    if actor.role in keepers:
        return
    raise MeshError("NOT_THE_REGISTER_KEEPER", (
        f"cards on «Еңбек нарығы» in {card.district} are closed by the {' or the '.join(keepers)}, who enters people "
        "there (its regulations' registerKeeper), not the " + actor.role) if keepers else (
        f"no regulation of {card.district} registers people on «Еңбек нарығы» (none names a registerKeeper): its "
        "staff close no card"), details={"roles": keepers})

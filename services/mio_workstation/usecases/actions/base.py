"""The five things staff do in a regulation's steps — accept, assign, decide, sign, issue — one unit each
(``accept``, ``assign``, ``decide``, ``sign``, ``issue``), run by ``usecases.act``.

Every action is done in three parts, whoever does it (a staff member through the API, or simulated staff):
``check`` the request (no I/O: a refusal to accept needs a reason…), ``prepare`` what takes I/O before the
transaction (ГБД ФЛ's facts, a signature and its certificate), and ``apply`` what was prepared to the
application inside the transaction — one ``match`` over the prepared outcomes.
"""

from __future__ import annotations

import datetime as dt
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from services.mio_workstation.domain import Official, Status
from services.mio_workstation.store import Application, LabourCard, LabourCardEvent, StaffAccount
from services.mio_workstation.usecases.districts import Districts
from services.mio_workstation.usecases.register import LabourRegister
from services.mio_workstation.usecases.registries import Registries
from services.mio_workstation.usecases.staff_directory import StaffDirectory
from shared.clock import KZ_TZ
from shared.employment.regulations import Action, Regulation, Step
from shared.mesh.contracts import EMAIL_PATTERN


@dataclass(frozen=True)
class ActionBody:
    """What a staff member sends with an action (simulated staff send the defaults)."""

    accept: bool = True
    reason: str | None = None
    executor_iin: str | None = None
    decision: str | None = None
    signature: str | None = None
    delivery: str | None = None  # issue, office applications: in_person (the default) or email
    email: str | None = None  # issue with delivery email: the address (default: the form's email)


@dataclass(frozen=True)
class ActionRequest:
    app: Application
    regulation: Regulation
    step: Step
    actor: StaffAccount | None  # None: simulated staff
    body: ActionBody
    at: dt.datetime  # the mesh time it is done at (simulated staff: the step's scheduled time)


# ---- what an action prepared, to be applied in the transaction ------------------------------------------------
@dataclass(frozen=True)
class Accepted:
    accept: bool
    reason: str | None


@dataclass(frozen=True)
class Assigned:
    executor: str | None


@dataclass(frozen=True)
class Decided:
    approve: bool
    reason: str | None
    draft: dict[str, Any]


@dataclass(frozen=True)
class Signed:
    signature: str
    signer: str


@dataclass(frozen=True)
class Issued:
    delivery: str | None = None  # office applications: in_person or email; None: the portal's or ИС ЦОН's business
    address: str | None = None  # delivery email: where the result goes (queued with the issue, shared.employment.mail)
    sms_to: str | None = None  # the regulation tells the result by SMS: the applicant's phone


Prepared = Accepted | Assigned | Decided | Signed | Issued


def apply(app: Application, prepared: Prepared, *, at: dt.datetime) -> None:
    """The state change an action makes, in the transaction that records it."""
    match prepared:
        case Accepted(accept=False, reason=reason):
            app.status, app.reason, app.completed_at = Status.NOT_ACCEPTED, reason, at
        case Accepted():
            pass
        case Assigned(executor=executor):
            app.executor_iin = executor
        case Decided(approve=approve, reason=reason, draft=draft):
            app.decision, app.reason, app.draft = "approve" if approve else "refuse", reason, draft
        case Signed(signature=signature, signer=signer):
            app.document_signature, app.signer_iin = signature, signer
        case Issued(delivery=delivery, address=address):
            app.status = Status.COMPLETED if app.decision == "approve" else Status.REFUSED
            app.completed_at = at
            app.delivery, app.delivered_to = delivery, address


@dataclass(frozen=True)
class Facilities:
    """What actions need beside the request: the staff, the registries' facts, «Еңбек нарығы», НУЦ's trust store."""

    staff: StaffDirectory
    register: LabourRegister
    registries: Registries
    districts: Districts


class StepAction(ABC):
    action: ClassVar[Action]

    def check(self, request: ActionRequest) -> None:  # noqa: B027 - most actions ask nothing of the body
        """Refuse a request that cannot be right whatever the registries say (no I/O)."""

    @abstractmethod
    async def prepare(self, request: ActionRequest, facilities: Facilities) -> Prepared:
        """What the action needs that takes I/O, before the transaction."""


def is_email(value: Any) -> bool:
    """An address the mail outbox takes (the ``mesh.mail`` contract's pattern)."""
    return isinstance(value, str) and re.fullmatch(EMAIL_PATTERN, value) is not None


def card_summary(card: LabourCard | None, history: list[LabourCardEvent] | None = None) -> dict[str, Any] | None:
    """The card as the draft reads it: its kind, since when unemployed, and its events by Kazakh day."""
    if card is None:
        return None
    since = card.unemployed_since.astimezone(KZ_TZ).date().isoformat() if card.unemployed_since else None
    return {"id": card.id, "kind": card.kind, "unemployedSince": since,
            "events": [{"kind": e.kind, "on": e.at.astimezone(KZ_TZ).date().isoformat(), "detail": e.detail}
                       for e in history or []]}


def official(staff: StaffAccount | None) -> Official | None:
    return Official(iin=staff.iin, surname=staff.surname, name=staff.name, role=staff.role) if staff else None

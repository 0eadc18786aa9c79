"""«Еңбек нарығы», the labour-market register: a person's card as a job seeker, which becomes an unemployed
person's card, with its history — opened, became unemployed, active measures, certificates, closed.

A completed application writes its consequence on the card in the transaction that completes it (a referral
is a measure on the card, a certificate is noted there); staff close cards with a reason; test support opens
a card as if the person had registered before the mesh existed, and notes assistance other bodies granted.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.mio_workstation.domain import Status
from services.mio_workstation.store import Application, LabourCard, LabourCardEvent, StaffAccount
from services.mio_workstation.usecases.roles import check_register_keeper
from shared.clock import KZ_TZ, MeshClock
from shared.db import Sessions, snapshot
from shared.errors import MeshError
from shared.ids import parse_iin

JOB_SEEKER, UNEMPLOYED = "job_seeker", "unemployed"


class LabourRegister:
    def __init__(self, *, sessions: Sessions, clock: MeshClock, keepers: Callable[[str], list[str]]) -> None:
        self._sessions = sessions
        self._clock = clock
        self._keepers = keepers  # a district's roles that keep the register (``RegulationBook.register_keepers``)

    async def open_card(self, iin: str) -> LabourCard | None:
        """The person's open card, whichever district keeps it: «Еңбек нарығы» is one national register, so a
        person is on it once (``uq_labour_card_open_iin``), and what one district recorded (registered as
        unemployed since, the measures taken) is what another reads when it decides or certifies."""
        async with self._sessions() as session:
            return await open_card_anywhere(session, iin=iin)

    async def record(self, session: AsyncSession, *, app: Application, service: str, at: dt.datetime) -> None:
        """What a completed application means for the applicant's card, written in its own transaction. A referral
        goes on the person's open card wherever it is kept («Еңбек нарығы» is one register): the certificate
        (003 app. 5) lists the measures taken, with the referral's number and date."""
        if app.status != Status.COMPLETED:
            return
        document = app.draft or {}
        detail: dict[str, Any]
        card = await open_card_anywhere(session, iin=app.applicant_iin)  # one register: wherever it is kept
        if service == "employment.job-seeker-registration" and card is None:
            card = LabourCard(id=str(uuid.uuid4()), district=app.district, iin=app.applicant_iin, kind=JOB_SEEKER,
                              opened_at=at)
            session.add(card)
            event, detail = "opened", {"kind": JOB_SEEKER}
        elif card is None or service == "employment.job-seeker-registration":
            return  # nothing to write on: or already on the register (staff approved all the same)
        elif service == "employment.unemployed-registration":
            # registered from the day of the decision the notice gives (004 п. 3: «о дате регистрации»)
            since = _day_start(document.get("registeredOn")) or at
            card.kind, card.unemployed_since = UNEMPLOYED, since
            session.add(card)
            event, detail = "became_unemployed", {"since": since.astimezone(KZ_TZ).date().isoformat()}
        elif service == "employment.active-measures-referral":
            event, detail = "measure", {"referralKind": app.form.get("referralKind"), "district": app.district}
        else:
            event = "certificate"
            detail = {"periodFrom": app.form.get("periodFrom"), "periodTo": app.form.get("periodTo")}
        detail |= {k: document[k] for k in ("documentNumber", "date") if document.get(k)}
        session.add(LabourCardEvent(card_id=card.id, at=at, kind=event, detail=detail, application_number=app.number))

    async def history(self, card_id: str) -> list[LabourCardEvent]:
        """A card's events, oldest first."""
        async with self._sessions() as session:
            return list((await session.exec(select(LabourCardEvent).where(LabourCardEvent.card_id == card_id)
                                            .order_by(col(LabourCardEvent.id)))).all())

    async def record_assistance(self, *, district: str, iin: str, kind: str, granted: dt.date, until: dt.date | None,
                                decision: str | None) -> LabourCard:
        """Test support: targeted social or housing assistance granted to a person on the register (decided by
        another body; «Еңбек нарығы» notes it, and the certificate of 003 app. 5 lists it)."""
        parse_iin(iin)
        if until is not None and until < granted:
            raise MeshError("ASSISTANCE_PERIOD_INVALID", f"assistance ends ({until}) before it is granted ({granted})")
        async with self._sessions() as session, session.begin():
            card = await open_card_of(session, district=district, iin=iin)
            if card is None:
                raise MeshError("CARD_NOT_FOUND", f"{iin} has no open card in {district}")
            detail = {"kind": kind, "from": granted.isoformat()} | ({"to": until.isoformat()} if until else {}) \
                | ({"decision": decision} if decision else {})
            session.add(LabourCardEvent(card_id=card.id, at=self._clock.now(), kind="assistance", detail=detail))
        return card

    async def open_directly(self, *, district: str, iin: str, kind: str) -> LabourCard:
        """Test support: a person already on the register, as if registered before the mesh existed."""
        parse_iin(iin)
        now = self._clock.now()
        try:
            async with self._sessions() as session, session.begin():
                existing = await open_card_anywhere(session, iin=iin)  # one register: a person is on it once
                if existing is not None:
                    raise MeshError("CARD_EXISTS", f"{iin} already has an open card in {existing.district}")
                card = LabourCard(id=str(uuid.uuid4()), district=district, iin=iin, kind=kind, opened_at=now,
                                  unemployed_since=now if kind == UNEMPLOYED else None)
                session.add(card)
                session.add(LabourCardEvent(card_id=card.id, at=now, kind="opened",
                                            detail={"kind": kind, "source": "test support"}))
        except IntegrityError:  # another call opened one meanwhile (the one-open-card index)
            raise MeshError("CARD_EXISTS", f"{iin} has just been put on the register") from None
        return card

    async def close(self, *, card_id: str, reason: str, actor: StaffAccount) -> LabourCard:
        """Close a card (снятие с учета), with the reason: staff of the district that keeps it, of a role its
        regulation files name as the register's keeper (``registerKeeper``: who enters people there)."""
        async with self._sessions() as session, session.begin():
            card = await session.get(LabourCard, card_id, with_for_update=True)
            if card is None:
                raise MeshError("CARD_NOT_FOUND", f"no card {card_id}")
            check_register_keeper(actor=actor, card=card, keepers=self._keepers(card.district))
            if card.status != "open":
                raise MeshError("CARD_CLOSED", f"card {card_id} was closed on {card.closed_at}")
            card.status, card.closed_at, card.close_reason = "closed", self._clock.now(), reason
            session.add(card)
            session.add(LabourCardEvent(card_id=card.id, at=card.closed_at, kind="closed", detail={"reason": reason}))
        return card

    async def cards(self, *, district: str, iin: str | None) -> list[tuple[LabourCard, list[LabourCardEvent]]]:
        async with snapshot(self._sessions) as session:
            query = select(LabourCard).where(LabourCard.district == district)
            if iin:
                query = query.where(LabourCard.iin == iin)
            cards = list((await session.exec(query.order_by(col(LabourCard.opened_at)))).all())
            events = (await session.exec(select(LabourCardEvent).where(
                col(LabourCardEvent.card_id).in_([c.id for c in cards])).order_by(col(LabourCardEvent.id)))).all()
        history: dict[str, list[LabourCardEvent]] = {card.id: [] for card in cards}
        for event in events:
            history[event.card_id].append(event)
        return [(card, history[card.id]) for card in cards]


def _day_start(day: Any) -> dt.datetime | None:
    """The start of a Kazakh calendar day given as ISO text (None for anything else)."""
    if not isinstance(day, str):
        return None
    try:
        return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(), tzinfo=KZ_TZ)
    except ValueError:
        return None


async def open_card_anywhere(session: AsyncSession, *, iin: str) -> LabourCard | None:
    """The person's open card in whichever district keeps it (one at most: a partial unique index)."""
    return (await session.exec(select(LabourCard).where(LabourCard.iin == iin, LabourCard.status == "open")
                               .order_by(col(LabourCard.opened_at)))).first()


async def open_card_of(session: AsyncSession, *, district: str, iin: str) -> LabourCard | None:
    return (await session.exec(select(LabourCard).where(LabourCard.district == district, LabourCard.iin == iin,
                                                        LabourCard.status == "open"))).first()

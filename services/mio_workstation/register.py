"""«Еңбек нарығы», the labour-market register: a person's card as a job seeker, which becomes an unemployed
person's card, with its history — opened, became unemployed, active measures, certificates, closed.

A completed application writes its consequence on the card in the transaction that completes it (a referral
is a measure on the card, a certificate is noted there); staff close cards with a reason; test support opens
a card as if the person had registered before the mesh existed.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.mio_workstation.domain import Status
from services.mio_workstation.store import Application, LabourCard, LabourCardEvent, StaffAccount
from shared.clock import MeshClock
from shared.db import Sessions, snapshot
from shared.errors import MeshError
from shared.ids import parse_iin

JOB_SEEKER, UNEMPLOYED = "job_seeker", "unemployed"


class LabourRegister:
    def __init__(self, *, sessions: Sessions, clock: MeshClock) -> None:
        self._sessions = sessions
        self._clock = clock

    async def open_card(self, district: str, iin: str) -> LabourCard | None:
        async with self._sessions() as session:
            return await open_card_of(session, district=district, iin=iin)

    async def record(self, session: AsyncSession, *, app: Application, service: str, at: dt.datetime) -> None:
        """What a completed application means for the applicant's card, written in its own transaction."""
        if app.status != Status.COMPLETED:
            return
        card = await open_card_of(session, district=app.district, iin=app.applicant_iin)
        if service == "employment.job-seeker-registration" and card is None:
            card = LabourCard(id=str(uuid.uuid4()), district=app.district, iin=app.applicant_iin, kind=JOB_SEEKER,
                              opened_at=at)
            session.add(card)
            event, detail = "opened", {"kind": JOB_SEEKER}
        elif card is None:
            return
        elif service == "employment.unemployed-registration":
            card.kind, card.unemployed_since = UNEMPLOYED, at
            session.add(card)
            event, detail = "became_unemployed", {}
        elif service == "employment.active-measures-referral":
            event, detail = "measure", {"referralKind": app.form.get("referralKind")}
        else:
            event = "certificate"
            detail = {"periodFrom": app.form.get("periodFrom"), "periodTo": app.form.get("periodTo")}
        session.add(LabourCardEvent(card_id=card.id, at=at, kind=event, detail=detail, application_number=app.number))

    async def open_directly(self, *, district: str, iin: str, kind: str) -> LabourCard:
        """Test support: a person already on the register, as if registered before the mesh existed."""
        parse_iin(iin)
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            if await open_card_of(session, district=district, iin=iin) is not None:
                raise MeshError("CARD_EXISTS", f"{iin} already has an open card in {district}", status=409)
            card = LabourCard(id=str(uuid.uuid4()), district=district, iin=iin, kind=kind, opened_at=now,
                              unemployed_since=now if kind == UNEMPLOYED else None)
            session.add(card)
            session.add(LabourCardEvent(card_id=card.id, at=now, kind="opened",
                                        detail={"kind": kind, "source": "test support"}))
        return card

    async def close(self, *, card_id: str, reason: str, actor: StaffAccount) -> LabourCard:
        async with self._sessions() as session, session.begin():
            card = await session.get(LabourCard, card_id, with_for_update=True)
            if card is None:
                raise MeshError("CARD_NOT_FOUND", f"no card {card_id}", status=404)
            if actor.district != card.district:
                raise MeshError("NOT_YOUR_DISTRICT", f"card {card_id} belongs to {card.district}", status=403)
            if card.status != "open":
                raise MeshError("CARD_CLOSED", f"card {card_id} was closed on {card.closed_at}", status=409)
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


async def open_card_of(session: AsyncSession, *, district: str, iin: str) -> LabourCard | None:
    return (await session.exec(select(LabourCard).where(LabourCard.district == district, LabourCard.iin == iin,
                                                        LabourCard.status == "open"))).first()

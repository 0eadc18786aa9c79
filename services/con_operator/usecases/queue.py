"""The electronic queue (004 п. 9 пп. 1: «безбарьерное» обслуживание путем электронной очереди): a citizen takes a
ticket at the kiosk, an operator calls it (the next one, or one named), serves it and closes it.

An operator serves one ticket at a time: the database's partial unique index (``store.Ticket``) holds it even for
two calls at once, so nothing here reads-then-writes without a guard in the write itself."""

from __future__ import annotations

import uuid

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.con_operator.branches import BranchBook
from services.con_operator.store import OperatorAccount, Ticket, TicketCounter, TicketPurpose, TicketStatus
from shared.clock import KZ_TZ, MeshClock
from shared.db import Sessions, raise_counter
from shared.errors import MeshError
from shared.logging import get_logger

log = get_logger(__name__)
CALL_ATTEMPTS = 20  # the next waiting ticket: another operator may take it just before; so many tries, then refuse


class Queue:
    def __init__(self, *, sessions: Sessions, clock: MeshClock, branches: BranchBook) -> None:
        self._sessions = sessions
        self._clock = clock
        self._branches = branches

    async def take_ticket(self, *, branch_id: str, service_id: str, purpose: TicketPurpose) -> Ticket:
        """A citizen at the kiosk: a ticket for a service the branch takes (or to collect its result). The code
        is a letter (A: to apply, B: to collect) and the branch's number of the day (Kazakhstan's day)."""
        branch = self._branches.get(branch_id)
        self._branches.regulation(branch, service_id)
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            day = now.astimezone(KZ_TZ).date().isoformat()
            letter = "A" if purpose == TicketPurpose.APPLY else "B"
            sequence = await raise_counter(session, TicketCounter, branch=branch.id, day=day, letter=letter)
            ticket = Ticket(id=str(uuid.uuid4()), branch=branch.id, code=f"{letter}{sequence:03d}",
                            service_id=service_id, purpose=purpose, taken_at=now)
            session.add(ticket)
        log.info("ticket_taken", branch=branch.id, code=ticket.code)
        return ticket

    async def tickets(self, *, branch_id: str, status: TicketStatus | None) -> list[Ticket]:
        self._branches.get(branch_id)
        query = select(Ticket).where(Ticket.branch == branch_id).order_by(col(Ticket.taken_at))
        if status is not None:
            query = query.where(Ticket.status == status)
        async with self._sessions() as session:
            return list((await session.exec(query)).all())

    async def ticket(self, ticket_id: str) -> Ticket:
        async with self._sessions() as session:
            ticket = await session.get(Ticket, ticket_id)
        if ticket is None:
            raise MeshError("TICKET_NOT_FOUND", f"no ticket {ticket_id}")
        return ticket

    async def call(self, operator: OperatorAccount, *, ticket_id: str | None) -> Ticket:
        """Call the next waiting ticket of the operator's branch (or the one named). One at a time per operator:
        the database's partial unique index refuses a second, even for two calls at once."""
        if ticket_id is not None:
            found = await self.ticket(ticket_id)
            if found.branch != operator.branch:
                raise MeshError("NOT_YOUR_BRANCH", f"ticket {found.code} is of branch {found.branch}; you serve "
                                f"{operator.branch}")
        try:
            async with self._sessions() as session, session.begin():
                await self._not_busy(session, operator)
                called = await (self._claim(session, operator, ticket_id) if ticket_id is not None
                                else self._claim_next(session, operator))
        except IntegrityError:
            raise MeshError("OPERATOR_BUSY", "you are serving another ticket: close it first") from None
        log.info("ticket_called", branch=operator.branch)
        return await self.ticket(called)

    async def _claim(self, session: AsyncSession, operator: OperatorAccount, ticket_id: str) -> str:
        """The named ticket, if it is still waiting: else who took it is told (its status)."""
        if await self._take(session, operator, ticket_id):
            return ticket_id
        raise await self._taken(session, ticket_id)

    @staticmethod
    async def _taken(session: AsyncSession, ticket_id: str) -> MeshError:
        ticket = await session.get(Ticket, ticket_id)
        assert ticket is not None
        return MeshError("TICKET_ALREADY_CALLED", f"ticket {ticket.code} is {ticket.status.lower()} already",
                        details={"status": ticket.status})

    async def _claim_next(self, session: AsyncSession, operator: OperatorAccount) -> str:
        """The longest-waiting ticket of the branch; another operator may take it between the read and the
        update, so the next one is tried (``CALL_ATTEMPTS`` times)."""
        ticket_id: str | None = None
        for _ in range(CALL_ATTEMPTS):
            ticket_id = (await session.exec(select(Ticket.id).where(
                Ticket.branch == operator.branch, Ticket.status == TicketStatus.WAITING)
                .order_by(col(Ticket.taken_at)).limit(1))).first()
            if ticket_id is None:
                raise MeshError("QUEUE_EMPTY", f"no one is waiting at {operator.branch}")
            if await self._take(session, operator, ticket_id):
                return ticket_id
        assert ticket_id is not None
        raise await self._taken(session, ticket_id)

    async def _take(self, session: AsyncSession, operator: OperatorAccount, ticket_id: str) -> bool:
        called = await session.exec(update(Ticket).where(
            col(Ticket.id) == ticket_id, col(Ticket.status) == TicketStatus.WAITING)
            .values(status=TicketStatus.CALLED, operator_iin=operator.iin, called_at=self._clock.now()))
        return bool(called.rowcount)

    @staticmethod
    async def _not_busy(session: AsyncSession, operator: OperatorAccount) -> None:
        serving = (await session.exec(select(Ticket).where(Ticket.operator_iin == operator.iin,
                                                           Ticket.status == TicketStatus.CALLED))).first()
        if serving is not None:
            raise MeshError("OPERATOR_BUSY", f"you are serving ticket {serving.code}: close it first",
                            details={"ticketId": serving.id})

    async def close(self, operator: OperatorAccount, *, ticket_id: str, note: str | None) -> Ticket:
        ticket = await self.serving(operator, ticket_id)
        async with self._sessions() as session, session.begin():
            closed = await session.exec(update(Ticket).where(
                col(Ticket.id) == ticket.id, col(Ticket.status) == TicketStatus.CALLED)
                .values(status=TicketStatus.CLOSED, closed_at=self._clock.now(), close_note=note))
            if not closed.rowcount:
                raise MeshError("TICKET_CLOSED", f"ticket {ticket.code} is closed already")
        return await self.ticket(ticket.id)

    async def serving(self, operator: OperatorAccount, ticket_id: str) -> Ticket:
        """The ticket, if this operator is serving it now (the citizen is at their desk)."""
        ticket = await self.ticket(ticket_id)
        if ticket.branch != operator.branch:
            raise MeshError("NOT_YOUR_BRANCH", f"ticket {ticket.code} is of branch {ticket.branch}")
        if ticket.status == TicketStatus.WAITING:
            raise MeshError("TICKET_NOT_CALLED", f"call ticket {ticket.code} first")
        if ticket.status == TicketStatus.CLOSED:
            raise MeshError("TICKET_CLOSED", f"ticket {ticket.code} is closed")
        if ticket.operator_iin != operator.iin:
            raise MeshError("TICKET_NOT_YOURS", f"ticket {ticket.code} is served by another operator")
        return ticket

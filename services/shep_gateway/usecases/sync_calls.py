"""Synchronous calls in flight: one is opened when its request is routed (in that transaction), closed by the first
answer in time, and timed out by a timer per call — the database, not the timer, is the truth, so a restart
re-arms them (``restore``). What a time-out does is ``sync_timeouts``'."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from sqlalchemy import bindparam, update
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.shep_gateway.domain import Destination, Refusal, Refused, Routed
from services.shep_gateway.store import SyncCall
from services.shep_gateway.usecases.examined import Examined, Txn
from shared.db import Sessions
from shared.telemetry import TRACEPARENT, trace_carrier

DeadlineHandler = Callable[[str], Awaitable[None]]


class SyncCalls:
    def __init__(self, *, sessions: Sessions) -> None:
        self._sessions = sessions
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self.on_deadline: DeadlineHandler | None = None  # what a timer runs: ``SyncTimeouts.fire``

    def open(self, txn: Txn, *, item: Examined, destination: Destination, deadline: float) -> None:
        """The call is PENDING from the routing transaction on; its timer is armed once that commits."""
        assert item.parsed is not None
        assert item.delivery.reply_to
        env = item.parsed.envelope
        txn.session.add(SyncCall(message_id=item.message_id, caller=env.sender, provider=destination.recipient,
                                 service_id=env.service_id, correlation_id=env.correlation_id,
                                 reply_to=item.delivery.reply_to, deadline=deadline,
                                 traceparent=trace_carrier(item.delivery.headers).get(TRACEPARENT)))
        txn.timers.append((item.message_id, deadline))

    async def answer_in_time(self, session: AsyncSession, *, item: Examined, routed: Routed) -> Routed | Refused:
        """A synchronous answer closes its call; if the deadline or another answer got there first, refuse it."""
        assert item.parsed is not None
        call_id = str(item.parsed.envelope.in_reply_to)
        result = await (await session.connection()).execute(_ANSWERED, {"call": call_id})
        if result.rowcount:
            self.cancel(call_id)
            return routed
        call = await session.get(SyncCall, call_id)
        if call is not None and call.state == "TIMED_OUT":
            return Refused(Refusal("Server.LateResponse", "the caller's deadline passed; it was told Server.Timeout"))
        return Refused(Refusal("Client.DuplicateResponse", f"request {call_id} is already answered"))

    def schedule(self, *, message_id: str, deadline: float) -> None:
        """A timer per call in flight; the database, not the timer, is the truth, so a restart re-arms them."""
        handler = self.on_deadline
        assert handler is not None
        loop = asyncio.get_running_loop()
        delay = max(0.0, deadline - time.time())
        self._timers[message_id] = loop.call_later(delay, lambda: asyncio.ensure_future(handler(message_id)))

    def arm(self, txn: Txn) -> None:
        """The timers of the calls a committed transaction opened: open whatever happens next."""
        for message_id, deadline in txn.timers:
            self.schedule(message_id=message_id, deadline=deadline)

    def fired(self, message_id: str) -> None:
        self._timers.pop(message_id, None)

    def cancel(self, message_id: str) -> None:
        timer = self._timers.pop(message_id, None)
        if timer is not None:
            timer.cancel()

    def cancel_all(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    async def restore(self) -> None:
        async with self._sessions() as session:
            pending = (await session.exec(select(SyncCall).where(SyncCall.state == "PENDING"))).all()
        for call in pending:
            self.schedule(message_id=call.message_id, deadline=call.deadline)


_CALLS = SyncCall.__table__  # type: ignore[attr-defined]
_ANSWERED = update(_CALLS).where(_CALLS.c.message_id == bindparam("call"), _CALLS.c.state == "PENDING").values(
    state="ANSWERED")  # built once (as ``Ledger``'s statements): every synchronous answer runs it

"""Where a checked message goes, by the registry: a member's receipt is the gateway's own business; an answer goes
back to whoever asked (the log says who), a request to its provider — or is parked while ГБД ФЛ says the
applicant's district — and a synchronous request gets its deadline, bounded by the gateway's."""

from __future__ import annotations

import time
import uuid

from sqlalchemy import bindparam
from sqlmodel import col, select

from services.shep_gateway.domain import (
    Decision,
    Destination,
    DistrictLookup,
    Outcome,
    Parked,
    PriorRequest,
    Refusal,
    Refused,
    Routed,
)
from services.shep_gateway.registry_book import RegistryBook
from services.shep_gateway.settings import GatewaySettings
from services.shep_gateway.store import LogRecord, SyncCall
from services.shep_gateway.usecases.examined import Examined
from shared.db import Sessions
from shared.mesh.envelope import MessageType
from shared.mesh.receipts import RECEIPT_SERVICE
from shared.mesh.topology import INGRESS_SYNC_QUEUE, SYNC_INGRESS_KEY, ingress_queue_of, read_deadline


class Routing:
    def __init__(self, *, book: RegistryBook, sessions: Sessions, settings: GatewaySettings) -> None:
        self._book = book
        self._sessions = sessions
        self._settings = settings

    @property
    def member_id(self) -> str:
        return self._settings.member_id

    async def route(self, item: Examined) -> Decision:
        decision = await self._route(item)
        if ingress_queue_of(item.delivery) != INGRESS_SYNC_QUEUE:
            return decision
        item.checks["lane"] = "sync"  # the log shows which way it came; the asynchronous lane is the default
        if not _fits_the_fast_lane(decision):
            # The fast lane is for what has a deadline; anything else there would jump every other member's queue.
            item.checks["route"] = "wrong lane"
            return Refused(Refusal("Client.WrongLane", f"only synchronous requests and their answers take routing "
                                   f"key '{SYNC_INGRESS_KEY}'; publish this one with routing key ''"))
        return decision

    async def _route(self, item: Examined) -> Decision:
        assert item.parsed is not None
        env = item.parsed.envelope
        if env.service_id == RECEIPT_SERVICE:  # a member's receipt for a delivery: the gateway's own business
            return self._receipt(item)
        prior = None
        if env.message_type in (MessageType.RESPONSE, MessageType.ERROR):
            prior = await self._prior_request(env.in_reply_to)
        decision = self._book.registry.route(env, prior=prior)
        if isinstance(decision, Refusal):
            item.checks["route"] = "denied"
            return Refused(decision)
        if isinstance(decision, DistrictLookup):
            item.checks["route"] = "district of the applicant's registered address"
            return Parked(decision)
        item.checks["route"] = decision.recipient
        recipient = self._book.registry.members.get(decision.recipient)
        if recipient is not None and recipient.door == "soap":  # the way it leaves: pushed by ШЭП's SOAP channel
            item.checks["recipientDoor"] = "soap"
        if decision.channel == "sync" and env.message_type is MessageType.REQUEST:
            return self._sync_request(item, decision)
        return Routed(decision)

    def _receipt(self, item: Examined) -> Decision:
        assert item.parsed is not None
        env = item.parsed.envelope
        if env.message_type is not MessageType.NOTIFICATION or env.recipient not in (None, self.member_id):
            return Refused(Refusal("Client.InvalidReceipt", f"a {RECEIPT_SERVICE} is a NOTIFICATION to "
                                   f"{self.member_id}"))
        item.checks["route"] = self.member_id
        return Routed(Destination(recipient=self.member_id, exchange="", routing_key="", channel="async"))

    def _sync_request(self, item: Examined, destination: Destination) -> Decision:
        """A synchronous request names its reply queue and gets a deadline: the one it asks for, at most the
        gateway's ``max_sync_deadline_s`` away."""
        if not item.delivery.reply_to:
            return Refused(Refusal("Client.ReplyToRequired", "a synchronous request names its reply queue "
                                   "(reply_to)"))
        now = time.time()
        asked = read_deadline(item.delivery.headers, default_s=now + self._settings.mesh.sync_timeout_s)
        deadline = min(asked, now + self._settings.max_sync_deadline_s)
        if deadline <= now:
            return Refused(Refusal("Server.Timeout", "the request's deadline passed before the gateway could "
                                   "route it"))
        return Routed(destination, deadline=deadline)

    async def _prior_request(self, message_id: uuid.UUID | None) -> PriorRequest | None:
        """What the log knows of the request an answer names: routed, by whom, to whom, and its call's state."""
        if message_id is None:
            return None
        async with self._sessions() as session:  # one round trip: the record and its call, if it was synchronous
            found = (await session.exec(_PRIOR_REQUEST, params={"mid": str(message_id)})).first()
        record, call = found if found is not None else (None, None)
        if record is None or record.sender is None:
            return None
        return PriorRequest(message_id=record.message_id, sender=record.sender, recipient=record.recipient,
                            service_id=record.service_id or "", sync_state=call.state if call else None,
                            reply_to=call.reply_to if call else None)


def _fits_the_fast_lane(decision: Decision) -> bool:
    """A synchronous request routed to its provider, or an answer routed to its caller (refusals are their own)."""
    return isinstance(decision, Refused) or (isinstance(decision, Routed) and decision.destination.channel == "sync")


# Built once (as ``Ledger``'s statements): every answer routed asks it.
_PRIOR_REQUEST = select(LogRecord, SyncCall).outerjoin(
    SyncCall, col(SyncCall.message_id) == LogRecord.message_id).where(
    LogRecord.message_id == bindparam("mid"), LogRecord.outcome == Outcome.ROUTED.value,
    LogRecord.message_type == MessageType.REQUEST.value)

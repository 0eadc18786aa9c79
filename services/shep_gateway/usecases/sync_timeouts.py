"""A provider that misses a synchronous call's deadline: the call is TIMED_OUT, the caller gets ``Server.Timeout``
on its reply queue, and the log says so — in one transaction. When the call was the gateway's own district lookup,
the request parked on it is asked for again (or refused, ``district_lookup``)."""

from __future__ import annotations

import time
import uuid

import orjson
from sqlalchemy import update
from sqlmodel import col

from services.shep_gateway.district_routing import StoredDelivery
from services.shep_gateway.domain import Outcome, Refusal, Refused
from services.shep_gateway.store import SyncCall
from services.shep_gateway.usecases.district_lookup import DistrictLookups
from services.shep_gateway.usecases.examined import Examined, Txn
from services.shep_gateway.usecases.ledger import Ledger
from services.shep_gateway.usecases.outcomes import Outcomes
from services.shep_gateway.usecases.sealing import Sealer
from services.shep_gateway.usecases.sync_calls import SyncCalls
from shared.clock import MeshClock
from shared.logging import get_logger
from shared.mesh.contracts import ErrorPayload
from shared.mesh.envelope import MessageType, parse_envelope
from shared.mesh.member import Composer
from shared.mesh.outbox import StagedBatch, outbox_values
from shared.telemetry import TRACEPARENT

log = get_logger(__name__)
RETRY_FAILED_TIMEOUT_S = 2.0  # a time-out that could not be recorded is tried again this much later


class SyncTimeouts:
    def __init__(self, *, ledger: Ledger, sealer: Sealer, composer: Composer, clock: MeshClock,
                 outcomes: Outcomes, districts: DistrictLookups, calls: SyncCalls) -> None:
        self._ledger = ledger
        self._sealer = sealer
        self._composer = composer
        self._clock = clock
        self._outcomes = outcomes
        self._districts = districts
        self._calls = calls

    async def fire(self, message_id: str) -> None:
        """The provider did not answer in time: tell the caller Server.Timeout and log it."""
        self._calls.fired(message_id)
        try:
            async with self._ledger.lock:
                async with self._ledger.sessions() as session, session.begin():
                    result = await session.exec(update(SyncCall).where(
                        col(SyncCall.message_id) == message_id, col(SyncCall.state) == "PENDING")
                        .values(state="TIMED_OUT"))
                    if result.rowcount == 0:
                        return
                    call = await session.get(SyncCall, message_id)
                    assert call is not None
                    txn = await self._ledger.open(session)
                    rows = await self._timed_out(txn, call)
                self._calls.arm(txn)
                await self._ledger.publish(rows)
            log.warning("sync_call_timed_out", message_id=message_id, service_id=call.service_id)
        except Exception:
            log.exception("sync_timeout_failed", message_id=message_id)
            # The call is still PENDING in the database: try again shortly rather than leave it open for ever.
            self._calls.schedule(message_id=message_id, deadline=time.time() + RETRY_FAILED_TIMEOUT_S)

    async def _timed_out(self, txn: Txn, call: SyncCall) -> StagedBatch:
        """Log the time-out, and stage the caller's ERROR (or the gateway's next lookup); written, not committed."""
        error = ErrorPayload(
            code="Server.Timeout", where="gateway", refused_message_id=call.message_id,
            message=f"{call.provider} did not answer {call.service_id} before the deadline",
            details={"failedAt": call.provider})
        wire = self._composer.compose(service_id=call.service_id, message_type=MessageType.ERROR,
                                      data=error.model_dump(by_alias=True), correlation_id=call.correlation_id,
                                      recipient=call.caller, in_reply_to=uuid.UUID(call.message_id))
        body = orjson.dumps(wire)
        trace = {TRACEPARENT: call.traceparent} if call.traceparent else {}  # the request's: one trace to its end
        timeout = Examined(delivery=StoredDelivery(body=body, headers=dict(trace)), message_id=wire["messageId"],
                           received_at=self._clock.now(), parsed=parse_envelope(body),
                           decision=Refused(Refusal("Server.Timeout", error.message)),
                           checks={"deadline": call.deadline})
        seq = self._ledger.log(txn, timeout, outcome=Outcome.TIMEOUT, recipient=call.caller,
                               refusal=Refusal("Server.Timeout", error.message))
        if call.caller == self._composer.member_id:  # the gateway's own district lookup
            following = await self._districts.timed_out(txn, lookup_id=call.message_id)
            if following is not None:
                await self._outcomes.apply(txn, item=following)
        else:
            txn.staged.append(outbox_values(exchange="", routing_key=call.reply_to, message=(
                self._sealer.sealed_own(wire, recipient=call.caller, log_seq=seq, headers=trace))))
        return await self._ledger.write(txn)

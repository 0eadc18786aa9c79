"""A batch of examined ingress messages committed: recorded, routed and refused in one transaction, what it staged
published, then acknowledged to the broker — only after the commit. A message that cannot be decided now (``Retry``)
goes round its ingress queue's retry tiers instead; a second copy of one already logged is refused
``Client.DuplicateMessage``."""

from __future__ import annotations

import uuid

from services.shep_gateway.domain import Refusal, Refused, Retry
from services.shep_gateway.usecases.examined import Examined
from services.shep_gateway.usecases.ledger import Ledger
from services.shep_gateway.usecases.outcomes import Outcomes
from services.shep_gateway.usecases.sync_calls import SyncCalls
from shared.logging import get_logger
from shared.mesh.bus import Bus, BusError
from shared.mesh.contracts import DUPLICATE_MESSAGE
from shared.mesh.dead_letters import copy_of
from shared.mesh.failures import Attempts, Failure, FailureKind
from shared.mesh.topology import H_DOOR, H_DOOR_CHECKS, H_PUBLISHER, first_publisher, ingress_queue_of, publish_retry

log = get_logger(__name__)


class IngressCommit:
    def __init__(self, *, ledger: Ledger, outcomes: Outcomes, calls: SyncCalls, bus: Bus) -> None:
        self._ledger = ledger
        self._outcomes = outcomes
        self._calls = calls
        self._bus = bus

    async def commit(self, batch: list[Examined]) -> None:
        """Record, route and refuse a batch in one transaction, publish what it staged, then ack."""
        retries = [e for e in batch if isinstance(e.decision, Retry)]
        final = [e for e in batch if not isinstance(e.decision, Retry)]
        if final:
            await self._apply_all(final)
        for item in retries:
            await self._retry(item)
        await self._bus.ack_all([item.delivery for item in final])

    async def _apply_all(self, final: list[Examined]) -> None:
        async with self._ledger.lock:
            async with self._ledger.sessions() as session, session.begin():
                logged = await self._ledger.already_logged(session, [e.message_id for e in final])
                seen = set(logged)
                txn = await self._ledger.open(session)
                for item in final:
                    if item.message_id in logged and item.delivery.redelivered:
                        # The broker handing back a delivery whose ack it lost (a gateway restart): the same
                        # message, handled already — not a second copy.
                        log.info("redelivery_already_handled", message_id=item.message_id)
                        continue
                    if item.message_id in seen:
                        await self._outcomes.apply(txn, item=replayed(item))
                        continue
                    seen.add(item.message_id)
                    await self._outcomes.apply(txn, item=item)
                rows = await self._ledger.write(txn)
            self._calls.arm(txn)  # committed: the calls are open whatever happens next
            await self._ledger.publish(rows)

    async def _retry(self, item: Examined) -> None:
        """Round its ingress queue's retry tiers, its attempts counted and its first publisher named."""
        assert isinstance(item.decision, Retry)
        attempts = Attempts.after_failure(item.delivery.headers, failure=Failure(
            FailureKind.OUTAGE, item.decision.refusal.code, item.decision.refusal.message))
        log.warning("ingress_retry_scheduled", message_id=item.message_id, attempt=attempts.attempt,
                    in_s=item.decision.delay_s, reason=item.decision.refusal.message)
        # The copy goes out under the gateway's own login: a door header it carries is kept only when the door set
        # it (checked on this copy's way in), or a member's own message would come back as one from the SOAP door.
        kept = {k: v for k, v in item.delivery.headers.items()
                if k not in (H_DOOR, H_DOOR_CHECKS) or item.checks.get("door") == "soap"}
        try:
            publisher = first_publisher(item.delivery, me=self._bus.login)
            headers = {**kept, **attempts.headers(), **({H_PUBLISHER: publisher} if publisher else {})}
            await publish_retry(self._bus, queue=ingress_queue_of(item.delivery), tier_s=item.decision.delay_s,
                                message=copy_of(item.delivery, headers=headers))
        except BusError:
            await item.delivery.reject(requeue=True)
            return
        await item.delivery.ack()


def replayed(item: Examined) -> Examined:
    """A second copy of a message already logged: not delivered again, but never dropped silently either —
    refused as ``Client.DuplicateMessage`` (logged, dead-lettered, its proven sender told). The log record
    gets an id of its own (the log keeps one record per message id); ``checks.replayOf`` names the first.

    A sender's own at-least-once redelivery ends here too; the ERROR it gets back names the first copy,
    which went through, and recipients do not apply it to a case (``shared.employment.case_tracking``)."""
    return Examined(delivery=item.delivery, message_id=f"{item.message_id}~{uuid.uuid4().hex[:8]}",
                    received_at=item.received_at, parsed=item.parsed, wire=item.wire, proven=item.proven,
                    checks={**item.checks, "replayOf": item.message_id},
                    decision=Refused(Refusal(DUPLICATE_MESSAGE, f"message {item.message_id} went through the "
                                             "gateway already; this copy is not delivered again")))

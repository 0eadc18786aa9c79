"""Deliveries no receipt came for: delivered again (the same sealed bytes), the wait doubling each time, and after
``SHEP_DELIVERY_ATTEMPTS`` NOT_DELIVERED — logged, dead-lettered, its sender told. A member that is down or behind is
waited for without counting attempts (``shared.mesh.receipts``)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

import orjson
from sqlalchemy import bindparam, func, update
from sqlmodel import col, select

from services.shep_gateway.district_routing import StoredDelivery
from services.shep_gateway.domain import Outcome, Refusal, Refused
from services.shep_gateway.registry_book import RegistryBook
from services.shep_gateway.settings import GatewaySettings
from services.shep_gateway.store import DeliveryRow
from services.shep_gateway.usecases.examined import Examined, Txn
from services.shep_gateway.usecases.ledger import Ledger
from services.shep_gateway.usecases.receipts import Receipts
from services.shep_gateway.usecases.sealing import Sealer
from shared.clock import MeshClock
from shared.logging import get_logger, message_context
from shared.mesh.bus import Bus, BusError, OutgoingMessage
from shared.mesh.contracts import ErrorPayload
from shared.mesh.dead_letters import dead_copy
from shared.mesh.envelope import MessageType, parse_envelope
from shared.mesh.member import Composer
from shared.mesh.outbox import outbox_values
from shared.mesh.payload_crypto import read_wire
from shared.mesh.receipts import H_REDELIVERY, NOT_DELIVERED, RECEIPT_SERVICE
from shared.mesh.topology import DEAD_EXCHANGE, DELIVERY_EXCHANGE, RETRY_TIERS_S, member_queue, retry_queue

log = get_logger(__name__)

WAIT_CHUNK = 500  # deliveries put off in one statement while their member is down or behind


class Redelivery:
    def __init__(self, *, bus: Bus, settings: GatewaySettings, ledger: Ledger, sealer: Sealer, composer: Composer,
                 book: RegistryBook, receipts: Receipts, clock: MeshClock) -> None:
        self._bus = bus
        self._settings = settings
        self._ledger = ledger
        self._sessions = ledger.sessions
        self._sealer = sealer
        self._composer = composer
        self._book = book
        self._receipts = receipts
        self._clock = clock
        # A member a fault-injection rule has down (``chaos``): its deliveries wait, uncounted, as for one really down
        self.down: Callable[[str], str | None] = lambda _recipient: None

    async def redeliver_due(self, *, limit: int = 200) -> float | None:
        """Deliver again each delivery no receipt came for in time (the same sealed bytes), or, once it has had
        ``SHEP_DELIVERY_ATTEMPTS``, mark it NOT_DELIVERED. Returns the seconds until the next one is due (None:
        nothing is on delivery).

        An attempt counts only when the delivery can have been taken: the member's queue has a consumer and holds
        nothing waiting. A member that is down (no consumer) or behind (messages still queued — ours may be among
        them) is waited for without counting, however long: an outage of a member loses nothing and fails no case,
        as before receipts existed; the row says what it waits for (``waits``, ``waitingFor``)."""
        now = time.time()
        present = await self._recipients_present(now)
        async with self._sessions() as session:
            due = (await session.exec(select(DeliveryRow).where(
                DeliveryRow.state == "ON_DELIVERY", col(DeliveryRow.next_attempt_at) <= now,
                col(DeliveryRow.recipient).in_(present)).order_by(col(DeliveryRow.next_attempt_at)).limit(limit))).all()
        again = []
        for row in due:
            if row.attempts >= self._settings.delivery_attempts:
                await self._not_delivered(row)
            else:
                again.append(row)
        await self._deliver_again(again)
        async with self._sessions() as session:
            upcoming = (await session.exec(select(func.min(DeliveryRow.next_attempt_at)).where(
                DeliveryRow.state == "ON_DELIVERY"))).one()
        return None if upcoming is None else max(0.0, upcoming - time.time())

    async def _recipients_present(self, now: float) -> list[str]:
        """The recipients of deliveries due that can have taken them; the others' deliveries wait, uncounted."""
        async with self._sessions() as session:
            recipients = (await session.exec(select(DeliveryRow.recipient).where(
                DeliveryRow.state == "ON_DELIVERY", col(DeliveryRow.next_attempt_at) <= now).distinct())).all()
        present = []
        for recipient in recipients:  # one look at each member's queue, and one statement for all it waits with
            why = self.down(recipient) or await self.member_absent(member_queue(recipient))
            if why is None:
                present.append(recipient)
            else:
                await self._wait_for_member(recipient, why=why, now=now)
        return present

    async def member_absent(self, queue: str) -> str | None:
        """Why a delivery on ``queue`` cannot have been taken yet (None: it can): no consumer, or messages waiting in
        the queue or in its retry tiers (a member holding deliveries through an outage of its own — OCSP, its
        database — parks them there: ``shared.mesh.failures``). A queue the broker cannot describe now is judged as
        before: attempts count."""
        try:
            status = await self._bus.queue_status(queue=queue)
            waiting = status.ready
            for tier in RETRY_TIERS_S:
                waiting += (await self._bus.queue_status(queue=retry_queue(queue, tier))).ready
        except BusError:
            return None
        if status.consumers == 0:
            return f"no consumer on {queue}: the member is down"
        if waiting:
            return f"{waiting} messages still queued on {queue} or its retry tiers"
        return None

    async def _wait_for_member(self, recipient: str, *, why: str, now: float) -> None:
        """Every delivery due to ``recipient`` waits one more receipt timeout, no attempt counted: a statement per
        ``WAIT_CHUNK`` deliveries, each its own transaction, the event loop free between them — a member down with
        thousands waiting (or a receiver that sends no receipts) does not hold up routing while they are put off."""
        later = time.time() + self._settings.receipt_timeout_s
        waited = 0
        while True:
            async with self._sessions() as session, session.begin():
                chunk = select(DeliveryRow.message_id).where(
                    col(DeliveryRow.recipient) == recipient, col(DeliveryRow.state) == "ON_DELIVERY",
                    col(DeliveryRow.next_attempt_at) <= now).limit(WAIT_CHUNK)
                done = (await session.exec(update(DeliveryRow).where(col(DeliveryRow.message_id).in_(chunk)).values(
                    waits=col(DeliveryRow.waits) + 1, waiting_for=why[:128], next_attempt_at=later))).rowcount
            waited += done
            if done < WAIT_CHUNK:
                break
            await asyncio.sleep(0)
        log.debug("deliveries_await_member", recipient=recipient, deliveries=waited, reason=why)

    async def _deliver_again(self, rows: list[DeliveryRow]) -> None:
        """No receipt: the delivery was taken by someone else, or the member is slow or down. The same sealed
        bytes go to its queue again; its inbox takes a copy it has recorded as a duplicate (and acknowledges it).
        What went out is counted in one transaction for the sweep's batch."""
        sent: list[tuple[DeliveryRow, float]] = []
        for row in rows:
            attempt = row.attempts + 1
            message = OutgoingMessage(body=row.body, headers={**row.headers, H_REDELIVERY: attempt},
                                      message_id=row.message_id, correlation_id=row.correlation_id)
            try:
                await self._bus.publish(exchange=row.exchange, routing_key=row.routing_key, message=message)
            except BusError as exc:  # looked at again next time
                log.warning("redelivery_deferred", message_id=row.message_id, error=str(exc)[:200])
                break
            sent.append((row, self._settings.receipt_timeout_s * 2 ** (attempt - 1)))
        if not sent:
            return
        async with self._sessions() as session, session.begin():  # one statement, executed for each (executemany)
            await (await session.connection()).execute(_COUNTED, [
                {"mid": row.message_id, "was": row.attempts, "now_at": row.attempts + 1, "next_at": time.time() + wait}
                for row, wait in sent])
        for row, wait in sent:
            with message_context(correlation_id=row.correlation_id, message_id=row.message_id):
                log.warning("delivery_not_acknowledged", recipient=row.recipient, attempt=row.attempts + 1,
                            next_in_s=round(wait, 1))

    async def _not_delivered(self, row: DeliveryRow) -> None:
        """Every attempt went unacknowledged: NOT_DELIVERED — a log record of its own (``checks.notDelivered``
        names the message), the last copy in the dead-letter queue, and its sender told (``Server.NotDelivered``,
        naming the message), unless what was not delivered is itself an ERROR."""
        waited = time.time() - row.first_sent_at
        refusal = Refusal(NOT_DELIVERED, f"{row.recipient} did not acknowledge {row.message_id} after "
                          f"{row.attempts} deliveries over {waited:.0f} s: someone else took it from its queue, or "
                          "it is down")
        async with self._ledger.lock:
            async with self._sessions() as session, session.begin():
                gone = await session.exec(update(DeliveryRow).where(
                    col(DeliveryRow.message_id) == row.message_id, col(DeliveryRow.state) == "ON_DELIVERY")
                    .values(state="NOT_DELIVERED", settled_at=time.time(), settled_by=NOT_DELIVERED, body=b""))
                if not gone.rowcount:
                    return  # its receipt came meanwhile
                txn = await self._ledger.open(session)
                self._record_not_delivered(txn, row, refusal)
                rows = await self._ledger.write(txn)
            await self._ledger.publish(rows)
        with message_context(correlation_id=row.correlation_id, message_id=row.message_id):
            log.error("delivery_not_delivered", recipient=row.recipient, attempts=row.attempts, sender=row.sender)

    def _record_not_delivered(self, txn: Txn, row: DeliveryRow, refusal: Refusal) -> None:
        """The log record, the dead letter and the sender's ERROR of a delivery NOT_DELIVERED, staged in ``txn``."""
        stored = StoredDelivery(body=row.body, headers=dict(row.headers), message_id=row.message_id,
                                correlation_id=row.correlation_id)
        item = Examined(delivery=stored, message_id=f"{row.message_id}~not-delivered"[:64],
                        received_at=self._clock.now(), decision=Refused(refusal), wire=read_wire(row.body),
                        checks={"notDelivered": row.message_id, "attempts": row.attempts, "recipient": row.recipient})
        seq = self._ledger.log(txn, item, outcome=Outcome.NOT_DELIVERED, recipient=row.recipient, refusal=refusal)
        txn.staged.append(outbox_values(exchange=DEAD_EXCHANGE, routing_key=row.routing_key, message=dead_copy(
            stored, code=NOT_DELIVERED, reason=refusal.message, queue=member_queue(row.recipient))))
        if row.message_type == MessageType.ERROR.value or not row.sender or row.sender == self._composer.member_id \
                or row.sender not in self._book.registry.members:
            return
        error = ErrorPayload(code=NOT_DELIVERED, message=refusal.message, where="gateway",
                             refused_message_id=row.message_id, details={"failedAt": row.recipient})
        wire = self._composer.compose(
            service_id=row.service_id or RECEIPT_SERVICE, message_type=MessageType.ERROR,
            data=error.model_dump(by_alias=True), correlation_id=row.correlation_id or row.message_id,
            recipient=row.sender, in_reply_to=uuid.UUID(row.message_id))
        message = self._sealer.sealed_own(wire, recipient=row.sender, log_seq=seq)
        txn.staged.append(outbox_values(exchange=DELIVERY_EXCHANGE, routing_key=row.sender, message=message))
        self._receipts.track(txn, message, env=parse_envelope(orjson.dumps(wire)).envelope, recipient=row.sender,
                             log_seq=seq, routing_key=row.sender)


_DELIVERIES = DeliveryRow.__table__  # type: ignore[attr-defined]
_COUNTED = update(_DELIVERIES).where(  # built once, as the other statements of a message's path
    _DELIVERIES.c.message_id == bindparam("mid"), _DELIVERIES.c.state == "ON_DELIVERY",
    _DELIVERIES.c.attempts == bindparam("was")).values(attempts=bindparam("now_at"),
                                                        next_attempt_at=bindparam("next_at"))

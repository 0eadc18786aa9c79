"""The gateway's one message entry point: the ingress's two lanes, handled in batches by a single worker.

One worker writes the log chain in the order it takes messages; batching lets one transaction (and one fsync) carry many
messages when traffic is heavy, while a lone message is handled at once. The two lanes of the ingress
(``shared.mesh.topology``) are batched apart, the synchronous first: a request or an answer with a deadline waits
for the batch in work, not for the asynchronous backlog behind it. Never two synchronous batches in a row while
asynchronous messages wait, so a stream of calls cannot starve the rest: a call waits for the batch in work, the
calls ahead of it and, while calls keep coming, one asynchronous batch.

One message never holds up the others. When a batch cannot be committed, its messages are taken one by one:
those that go through are routed as usual; one that fails on its own is sent round the retry tiers and,
when it fails every time (``shared.mesh.failures``: a fault, a few attempts), logged refused and dead-lettered
with the reason. When the failure is an outage (the database or the broker is down), nothing is counted
against the messages: they go back to the queue and the worker waits, and /ready says so meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress

from services.shep_gateway.handlers import Gateway
from services.shep_gateway.usecases.examined import Examined
from shared.logging import get_logger, message_context
from shared.mesh.background import BackgroundTask
from shared.mesh.bus import Bus, BusError, Delivery, Subscription
from shared.mesh.consumer import ack_or_let_go, retry_later
from shared.mesh.dead_letters import settle_dead
from shared.mesh.failures import Attempts, Failure, FailureKind, classify
from shared.mesh.topology import INGRESS_QUEUE, INGRESS_QUEUES, INGRESS_SYNC_QUEUE, ingress_queue_of

log = get_logger(__name__)
SYNC_LANE, ASYNC_LANE = (INGRESS_QUEUES.index(q) for q in (INGRESS_SYNC_QUEUE, INGRESS_QUEUE))


class IngressWorker:
    def __init__(self, *, gateway: Gateway, bus: Bus, batch_size: int, prefetch: int, stall_s: float = 30.0) -> None:
        self._gateway = gateway
        self._bus = bus
        self._batch_size = batch_size
        self._prefetch = prefetch
        self._stall_s = stall_s
        # What was taken from each lane (INGRESS_QUEUES' order: synchronous, asynchronous), in arrival order
        self._lanes: tuple[asyncio.Queue[Delivery], ...] = tuple(asyncio.Queue() for _ in INGRESS_QUEUES)
        self._arrived = asyncio.Event()
        self._last_lane = ASYNC_LANE
        self._subscriptions: list[Subscription] = []
        self._loop = BackgroundTask(name="gateway-ingress", run=self._run)
        self._busy_since: float | None = None
        self._in_work = 0  # the batch taken from the inbox, until it is committed and its deliveries published
        self._outage: Failure | None = None  # the dependency that stopped the last batch, until one goes through
        self._backoff = 0.0

    async def start(self) -> None:
        self._loop.start()
        for lane, queue in enumerate(INGRESS_QUEUES):
            self._subscriptions.append(await self._bus.consume(queue=queue, handler=self._taker(lane),
                                                               prefetch=self._prefetch))

    def _taker(self, lane: int) -> Callable[[Delivery], Awaitable[None]]:
        async def take(delivery: Delivery) -> None:
            self._lanes[lane].put_nowait(delivery)
            self._arrived.set()
        return take

    async def stop(self) -> None:
        subscriptions, self._subscriptions = self._subscriptions, []
        for subscription in subscriptions:
            await subscription.cancel()
        await self._loop.stop()
        await self._gateway.ledger.stop()

    async def discard_waiting(self) -> int:
        """After ``stop``, for a mesh reset: what was taken from the ingress queues but not yet examined was meant for
        the state being deleted. Acked where the channel still stands (the in-memory broker); on RabbitMQ the closed
        channel has already put it back in the queue, which the reset drains."""
        discarded = 0
        for lane in self._lanes:
            while not lane.empty():
                with suppress(Exception):
                    await lane.get_nowait().ack()
                discarded += 1
        return discarded

    def holding(self) -> int:
        """Messages taken from the ingress and not yet through (waiting for the batch, or in it): in flight for
        the settle, though the broker no longer counts them as ready."""
        return self._waiting() + self._in_work

    def _waiting(self) -> int:
        return sum(lane.qsize() for lane in self._lanes)

    async def progress(self) -> str | None:
        """Readiness: None while messages go through; otherwise what holds the ingress up."""
        if not self._loop.running:
            return "the ingress worker is not running"
        if self._outage is not None:
            return f"ingress waiting: {self._outage.code}: {self._outage.reason}"[:300]
        if self._busy_since is not None and time.monotonic() - self._busy_since > self._stall_s:
            return (f"ingress stalled: a batch has been in work for {time.monotonic() - self._busy_since:.0f} s "
                    f"({self._waiting()} more waiting)")
        return None

    async def _run(self) -> None:
        while True:
            batch = await self._next_batch()
            self._busy_since, self._in_work = time.monotonic(), len(batch)
            try:
                await self._handle(batch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("ingress_batch_failed", size=len(batch), error=f"{type(exc).__name__}: {exc}"[:300])
                try:
                    await self._one_by_one(batch)
                except asyncio.CancelledError:
                    raise
                except Exception as inner:  # the worker must outlive anything: what is left goes back to the queue
                    log.exception("ingress_isolation_failed")
                    self._outage = classify(inner)
                    await self._hand_back(batch)
                    await asyncio.sleep(1.0)
            finally:
                self._busy_since = None
                self._in_work = 0

    async def _next_batch(self) -> list[Delivery]:
        """Up to a batch from one lane: the synchronous, unless the last batch was and asynchronous messages wait."""
        while not self._waiting():
            self._arrived.clear()
            await self._arrived.wait()
        sync, rest = self._lanes[SYNC_LANE], self._lanes[ASYNC_LANE]
        self._last_lane = SYNC_LANE if not sync.empty() and (self._last_lane != SYNC_LANE or rest.empty()) \
            else ASYNC_LANE
        lane = self._lanes[self._last_lane]
        return [lane.get_nowait() for _ in range(min(lane.qsize(), self._batch_size))]

    async def _handle(self, batch: list[Delivery]) -> None:
        # One after another: examine only waits on a cache miss (OCSP, a prior request), so a task per message
        # would cost more than it could overlap.
        examined: list[Examined] = [await self._gateway.examine(d) for d in batch]
        await self._gateway.commit(examined)
        self._outage, self._backoff = None, 0.0

    async def _one_by_one(self, batch: list[Delivery]) -> None:
        for position, delivery in enumerate(batch):
            try:
                await self._handle([delivery])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failure = classify(exc)
                if failure.kind is FailureKind.OUTAGE:
                    await self._wait_out(batch[position:], failure)
                    return
                await self._poisoned(delivery, failure)

    async def _wait_out(self, rest: list[Delivery], failure: Failure) -> None:
        """A dependency is down: hand the messages back untouched and wait a little before the next batch."""
        self._outage = failure
        self._backoff = min(max(self._backoff * 2, 0.5), 10.0)
        log.warning("ingress_outage", code=failure.code, reason=failure.reason, retry_in_s=self._backoff)
        await self._hand_back(rest)
        await asyncio.sleep(self._backoff)

    @staticmethod
    async def _hand_back(deliveries: list[Delivery]) -> None:
        """Back to the queue, what is not settled yet. Left unsettled on a channel that stays open, a delivery would
        be acknowledged unhandled by the next batch's ack (``Bus.ack_all`` acks every earlier tag at once)."""
        for delivery in deliveries:
            if delivery.settled:
                continue
            try:
                await delivery.reject(requeue=True)
            except BusError:  # the channel is gone; the broker requeues unacked messages itself
                log.info("ingress_requeue_failed")

    async def _poisoned(self, delivery: Delivery, failure: Failure) -> None:
        """This message fails on its own: retry it a few times; then refuse it — logged, dead-lettered with the
        reason, its proven sender told — or, if even that fails, park it in the dead-letter queue directly."""
        with message_context(correlation_id=delivery.correlation_id, message_id=delivery.message_id):
            log.error("ingress_message_failed", code=failure.code, reason=failure.reason)
            policy = self._gateway.policy
            attempts = Attempts.after_failure(delivery.headers, failure=failure)
            if policy.delay(failure, attempts) is not None:
                await retry_later(bus=self._bus, delivery=delivery, queue=ingress_queue_of(delivery), failure=failure,
                                  policy=policy)
                return
            code, reason = policy.gave_up(failure, attempts)
            try:
                await self._gateway.refuse_failed(delivery, code=code, reason=reason)
            except Exception:  # nothing was committed: park it directly, with the reason
                log.exception("ingress_failure_not_logged")
                await settle_dead(bus=self._bus, delivery=delivery, queue=ingress_queue_of(delivery), code=code,
                                  reason=reason)
                return
            await ack_or_let_go(delivery, queue=ingress_queue_of(delivery))

"""Running a work queue: prepare (parse, verify) → claim the message id and apply it in one transaction →
ack after commit.

Failures are sorted by ``shared.mesh.failures``, never dropped and never mistaken for a duplicate: a permanent one
goes to the dead-letter queue at once with its code and reason; an outage or a fault is re-queued through
the back-off tiers and dead-lettered with its reason when its retries run out. Only the inbox claim says a
message was processed already.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import Sessions
from shared.logging import get_logger, message_context
from shared.mesh.bus import Bus, BusError, Delivery, Subscription
from shared.mesh.dead_letters import copy_of, settle_dead
from shared.mesh.failures import Attempts, Failure, FailureKind, PermanentFailure, RetryPolicy, classify
from shared.mesh.inbox import claim
from shared.mesh.outbox import OutboxRelay
from shared.mesh.topology import H_PUBLISHER, first_publisher, publish_retry
from shared.telemetry import metrics

log = get_logger(__name__)
T = TypeVar("T")

__all__ = ["MessageConsumer", "PermanentFailure", "ack_or_let_go", "retry_later"]


async def retry_later(*, bus: Bus, delivery: Delivery, queue: str, failure: Failure, policy: RetryPolicy,
                      deadline_s: float | None = None) -> bool:
    """Send a failed message round its queue's back-off tiers, or, when its retries are used up, to the
    dead-letter queue with why. Acks (or hands back) the original either way; True if it will come again."""
    attempts = Attempts.after_failure(delivery.headers, failure=failure)
    delay = policy.delay(failure, attempts, deadline_s=deadline_s)
    if delay is None:
        code, reason = policy.gave_up(failure, attempts)
        log.error("message_dead_lettered", queue=queue, code=code, reason=reason, kind=failure.kind.value)
        metrics().message_in("dead_lettered")
        metrics().refused(code)
        await settle_dead(bus=bus, delivery=delivery, queue=queue, code=code, reason=reason)
        return False
    metrics().message_in("retried")
    log.warning("message_retry_scheduled", queue=queue, attempt=attempts.attempt, in_s=delay, code=failure.code,
                kind=failure.kind.value, reason=failure.reason)
    try:
        publisher = first_publisher(delivery, me=bus.login)  # the copy's user-id will be mine
        await publish_retry(bus, queue=queue, tier_s=delay, message=copy_of(delivery, headers={
            **delivery.headers, **attempts.headers(), **({H_PUBLISHER: publisher} if publisher else {})}))
    except BusError:  # cannot schedule the retry: the broker redelivers it instead
        if not delivery.settled:
            with contextlib.suppress(BusError):
                await delivery.reject(requeue=True)
        return True
    await ack_or_let_go(delivery, queue=queue)
    return True


async def ack_or_let_go(delivery: Delivery, *, queue: str) -> None:
    """Ack; if the channel has gone meanwhile, the broker redelivers and the inbox (or the gateway's log)
    recognises the copy — nothing to do, and above all not a dead letter of something handled."""
    try:
        await delivery.ack()
    except BusError as exc:
        log.info("ack_lost", queue=queue, error=str(exc)[:200])


class MessageConsumer(Generic[T]):
    def __init__(
        self,
        *,
        bus: Bus,
        sessions: Sessions,
        queue: str,
        name: str,
        prepare: Callable[[Delivery], Awaitable[T]],
        apply: Callable[[AsyncSession, T], Awaitable[None]],
        message_id_of: Callable[[T], str],
        log_seq_of: Callable[[T], int | None] | None = None,
        relay: OutboxRelay | None = None,
        policy: RetryPolicy | None = None,
        after_commit: Callable[[], None] | None = None,
        on_duplicate: Callable[[AsyncSession, T], Awaitable[None]] | None = None,
    ) -> None:
        """``on_duplicate``: what a copy of a message processed already still does, in a transaction of its own
        (a member acknowledges it to the gateway again: ``shared.mesh.receipts``)."""
        self._bus, self._sessions, self._queue, self._name = bus, sessions, queue, name
        self._prepare, self._apply, self._message_id_of = prepare, apply, message_id_of
        self._log_seq_of = log_seq_of or (lambda _prepared: None)
        self._relay = relay
        self._policy = policy or RetryPolicy()
        self._after_commit = after_commit
        self._on_duplicate = on_duplicate
        self._subscription: Subscription | None = None

    async def start(self, *, prefetch: int = 16) -> None:
        self._subscription = await self._bus.consume(queue=self._queue, handler=self.handle, prefetch=prefetch)

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.cancel()
            self._subscription = None

    async def handle(self, delivery: Delivery) -> None:
        with message_context(correlation_id=delivery.correlation_id, message_id=delivery.message_id):
            try:
                fresh = await self._process(delivery)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failure = classify(exc)
                if failure.kind is FailureKind.FAULT:
                    log.warning("message_processing_failed", queue=self._queue, code=failure.code,
                                reason=failure.reason, exc_info=True)
                await retry_later(bus=self._bus, delivery=delivery, queue=self._queue, failure=failure,
                                  policy=self._policy)
                return
            metrics().message_in("processed" if fresh else "duplicate")
            await ack_or_let_go(delivery, queue=self._queue)  # if lost, the redelivered copy is a known id

    async def _process(self, delivery: Delivery) -> bool:
        """Prepare and apply ``delivery``; False if it was processed before (a duplicate)."""
        prepared = await self._prepare(delivery)
        message_id = self._message_id_of(prepared)
        async with self._sessions() as session, session.begin():
            fresh = await claim(session, consumer=self._name, message_id=message_id,
                                log_seq=self._log_seq_of(prepared))
            if fresh:
                await self._apply(session, prepared)
            elif self._on_duplicate is not None:
                await self._on_duplicate(session, prepared)
        if not fresh:
            log.info("duplicate_ignored", queue=self._queue)
        if self._relay is not None:
            self._relay.kick()
        if self._after_commit is not None:
            self._after_commit()
        return fresh

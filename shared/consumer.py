"""Running a work queue: prepare (parse, verify) → apply in one transaction with the inbox → ack after commit.

Failures are sorted, never dropped:
* ``PermanentFailure`` (unparsable, bad signature, unknown sender…) goes to the dead-letter queue at once,
  with its code and reason in the headers;
* anything else is transient: the message is re-queued through the back-off tiers and dead-lettered with
  ``RETRIES_EXHAUSTED`` after ``max_attempts``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.bus import Bus, BusError, Delivery, OutgoingMessage, Subscription
from shared.db import Sessions
from shared.errors import MeshError
from shared.inbox import already_processed, mark_processed
from shared.logging import get_logger, message_context
from shared.outbox import OutboxRelay
from shared.topology import (
    DEAD_EXCHANGE,
    H_ATTEMPT,
    H_ORIGIN_QUEUE,
    H_REFUSAL_CODE,
    H_REFUSAL_REASON,
    RETRY_TIERS_S,
    retry_queue,
)

log = get_logger(__name__)
T = TypeVar("T")


class PermanentFailure(MeshError):
    """This message can never be processed as sent; retrying would not help."""


def copy_of(delivery: Delivery, *, headers: dict) -> OutgoingMessage:
    return OutgoingMessage(body=delivery.body, headers=headers, message_id=delivery.message_id,
                           correlation_id=delivery.correlation_id, reply_to=delivery.reply_to)


async def dead_letter(*, bus: Bus, delivery: Delivery, queue: str, code: str, reason: str) -> None:
    """Park a message in mesh.dead-letters with why it was refused; the caller then acks the original."""
    headers = {**delivery.headers, H_REFUSAL_CODE: code, H_REFUSAL_REASON: reason[:1000], H_ORIGIN_QUEUE: queue}
    await bus.publish(exchange=DEAD_EXCHANGE, routing_key=queue, message=copy_of(delivery, headers=headers))


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
        relay: OutboxRelay | None = None,
        max_attempts: int = 6,
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        self._bus, self._sessions, self._queue, self._name = bus, sessions, queue, name
        self._prepare, self._apply, self._message_id_of = prepare, apply, message_id_of
        self._relay = relay
        self._max_attempts = max_attempts
        self._after_commit = after_commit
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
                await self._process(delivery)
            except PermanentFailure as exc:
                log.warning("message_dead_lettered", queue=self._queue, code=exc.code, reason=exc.message)
                await self._settle_dead(delivery, code=exc.code, reason=exc.message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self._retry(delivery, error=exc)

    async def _process(self, delivery: Delivery) -> None:
        prepared = await self._prepare(delivery)
        message_id = self._message_id_of(prepared)
        try:
            async with self._sessions() as session, session.begin():
                if await already_processed(session, consumer=self._name, message_id=message_id):
                    log.info("duplicate_ignored", queue=self._queue)
                else:
                    await self._apply(session, prepared)
                    mark_processed(session, consumer=self._name, message_id=message_id)
        except IntegrityError:
            # Another replica committed the same messageId first: the effect exists once, which is the point.
            log.info("duplicate_ignored", queue=self._queue, raced=True)
        if self._relay is not None:
            self._relay.kick()
        if self._after_commit is not None:
            self._after_commit()
        await delivery.ack()

    async def _settle_dead(self, delivery: Delivery, *, code: str, reason: str) -> None:
        try:
            await dead_letter(bus=self._bus, delivery=delivery, queue=self._queue, code=code, reason=reason)
        except BusError:
            # Could not park it: let the broker redeliver rather than lose it.
            await delivery.reject(requeue=True)
            return
        await delivery.ack()

    async def _retry(self, delivery: Delivery, *, error: Exception) -> None:
        attempt = int(delivery.headers.get(H_ATTEMPT, 0)) + 1
        reason = f"{type(error).__name__}: {error}"[:500]
        if attempt >= self._max_attempts:
            log.error("message_retries_exhausted", queue=self._queue, attempts=attempt, error=reason)
            await self._settle_dead(delivery, code="RETRIES_EXHAUSTED", reason=reason)
            return
        tier = RETRY_TIERS_S[min(attempt - 1, len(RETRY_TIERS_S) - 1)]
        log.warning("message_retry_scheduled", queue=self._queue, attempt=attempt, in_s=tier, error=reason)
        try:
            await self._bus.publish(exchange="", routing_key=retry_queue(self._queue, tier),
                                    message=copy_of(delivery, headers={**delivery.headers, H_ATTEMPT: attempt}))
        except BusError:
            await delivery.reject(requeue=True)
            return
        await delivery.ack()

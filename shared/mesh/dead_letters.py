"""The dead-letter queue: every message that cannot be processed ends there with why (``x-refusal-code`` and
``x-refusal-reason``) and where it came from (``x-origin-queue``) — never dropped, never without a reason.

Messages reach it only through this module: consumers' refusals and exhausted retries, handlers that crash,
the outbox's unroutable rows. The broker itself dead-letters nothing on its own: no work queue has a message
TTL or length limit that would expire a message without our reason (deadlines are enforced by the consumers,
which dead-letter an expired request as ``Server.DeadlinePassed``).

The dead-letter queue itself is bounded (a broker policy the gateway sets: length and bytes, oldest dropped
first), so a flood of refusals cannot fill the broker's disk; a body over ``BODY_KEPT_MAX`` is kept as its
SHA-256 and size (``x-body-sha256``, ``x-body-size``), the reason always whole. Every dead letter's reason is
also in the log of the service that made it (and, for the gateway's refusals, in its message log).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import decimal
import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import orjson

from shared.logging import get_logger
from shared.mesh import in_flight
from shared.mesh.bus import Bus, BusError, Delivery, Handler, OutgoingMessage
from shared.mesh.scenarios import delivered, using
from shared.mesh.topology import DEAD_EXCHANGE, H_ORIGIN_QUEUE, H_REFUSAL_CODE, H_REFUSAL_REASON
from shared.telemetry import SpanKind, span

log = get_logger(__name__)


def json_safe(value: Any) -> Any:
    """A header value as JSON can store it (outbox and parked-message columns).

    The broker hands back AMQP tables: ``x-death`` records carry a datetime (``time``), byte strings and
    decimals are legal AMQP values, and a string may hold NUL, which PostgreSQL's JSON refuses. Timestamps
    become ISO 8601 text, bytes UTF-8 text (or ``base64:…``), anything else unknown its text.
    """
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        try:
            return json_safe(raw.decode("utf-8"))
        except UnicodeDecodeError:
            return "base64:" + base64.b64encode(raw).decode()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    if isinstance(value, uuid.UUID):
        return str(value)
    return str(value)


BODY_KEPT_MAX = 64 * 1024
H_BODY_SHA256 = "x-body-sha256"
H_BODY_SIZE = "x-body-size"


def kept(message: OutgoingMessage) -> OutgoingMessage:
    """``message`` as the dead-letter queue keeps it: a body larger than ``BODY_KEPT_MAX`` replaced by its
    digest and size (the headers, with the reason, kept whole)."""
    if len(message.body) <= BODY_KEPT_MAX:
        return message
    digest = hashlib.sha256(message.body).hexdigest()
    body = orjson.dumps({"bodyTrimmed": True, "sha256": digest, "size": len(message.body)})
    return replace(message, body=body, headers={**message.headers, H_BODY_SHA256: digest,
                                                H_BODY_SIZE: len(message.body)})


def withheld_body(body: bytes) -> bytes:
    """A body the dead-letter queue must not keep readable (an envelope whose payload came in clear, or one that
    did not even parse): its digest and size only — the broker's administrator reads that queue."""
    return orjson.dumps({"bodyWithheld": True, "sha256": hashlib.sha256(body).hexdigest(), "size": len(body)})


def dead_copy(delivery: Delivery, *, code: str, reason: str, queue: str, body: bytes | None = None) -> OutgoingMessage:
    """The dead letter of ``delivery``: its body (or digest; or ``body`` instead), its headers, and why."""
    message = copy_of(delivery, headers=dead_letter_headers(delivery.headers, code=code, reason=reason, queue=queue))
    if body is not None:
        message = replace(message, body=body)
    return kept(message)


def copy_of(delivery: Delivery, *, headers: dict) -> OutgoingMessage:
    return OutgoingMessage(body=delivery.body, headers=headers, message_id=delivery.message_id,
                           correlation_id=delivery.correlation_id, reply_to=delivery.reply_to)


def dead_letter_headers(headers: dict, *, code: str, reason: str, queue: str) -> dict[str, Any]:
    return {**json_safe(headers), H_REFUSAL_CODE: code, H_REFUSAL_REASON: reason[:1000], H_ORIGIN_QUEUE: queue}


async def dead_letter(*, bus: Bus, delivery: Delivery, queue: str, code: str, reason: str) -> None:
    """Park a message in mesh.dead-letters with why it was refused; the caller then acks the original."""
    await bus.publish(exchange=DEAD_EXCHANGE, routing_key=queue,
                      message=dead_copy(delivery, code=code, reason=reason, queue=queue))


async def settle_dead(*, bus: Bus, delivery: Delivery, queue: str, code: str, reason: str) -> None:
    """Dead-letter and ack; if the dead letter cannot be published, hand the message back to the broker."""
    try:
        await dead_letter(bus=bus, delivery=delivery, queue=queue, code=code, reason=reason)
    except BusError:
        with contextlib.suppress(BusError):
            await delivery.reject(requeue=True)  # not parked: let the broker redeliver rather than lose it
        return
    try:
        await delivery.ack()
    except BusError:  # parked already; the broker will redeliver the original, which is refused again
        log.info("ack_lost", queue=queue)


def guarded(handler: Handler, *, bus: Bus, queue: str) -> Handler:
    """A handler whose own error handling failed must not leave its message unacked for ever, nor lose it:
    the message goes to the dead-letter queue with the exception as its reason.

    Every message consumed is handled inside a span continuing the trace its headers carry (``traceparent``), so
    what the handler sends continues it too (``shared.mesh.bus.OutgoingMessage``) — and in the scenario the
    gateway delivered it under, or in none (``shared.mesh.scenarios``)."""

    async def run(delivery: Delivery) -> None:
        try:
            with span(f"receive {queue_kind(queue)}", kind=SpanKind.CONSUMER, parent=delivery.headers,
                      attributes={"messaging.system": "rabbitmq", "messaging.destination.name": queue_kind(queue),
                                  "messaging.message.id": delivery.message_id or ""}), \
                    using(delivered(delivery.headers)), in_flight.handling():
                await handler(delivery)
        except Exception as exc:
            log.exception("consumer_handler_crashed", queue=queue)
            if delivery.settled:
                return
            try:
                await settle_dead(bus=bus, delivery=delivery, queue=queue, code="Server.ConsumerCrashed",
                                  reason=f"{type(exc).__name__}: {exc}")
            except Exception:  # the channel itself is gone: the broker requeues what was not acked
                log.warning("consumer_crash_not_parked", queue=queue)

    return run


def queue_kind(queue: str) -> str:
    """A queue's name for a span or a metric: a caller's reply queue (``<member>.replies.<random>``) without its
    random part."""
    head, sep, _ = queue.partition(".replies.")
    return f"{head}.replies" if sep else queue

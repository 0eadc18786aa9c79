"""The message bus interface every service codes against; RabbitMQ and in-memory implementations share it.

Semantics follow AMQP 0-9-1 as RabbitMQ implements it: direct, fanout and topic exchanges; the default
exchange routes by queue name; ``mandatory`` publishes of unroutable messages fail; publishes are confirmed;
a consumer acks after its work is committed; a rejected (not requeued) or expired message goes to the
queue's dead-letter exchange with an ``x-death`` record.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from shared.mesh.scenarios import with_scenario
from shared.telemetry import with_trace

ExchangeKind = Literal["direct", "fanout", "topic"]


class BusError(Exception):
    """The broker could not take a message (unroutable, nacked, connection lost)."""


class Unroutable(BusError):
    """A mandatory message matched no queue."""


@dataclass(frozen=True)
class QueueStatus:
    ready: int  # messages waiting to be delivered (those in flight to a consumer are not counted)
    consumers: int


@dataclass
class OutgoingMessage:
    body: bytes
    headers: dict[str, Any] = field(default_factory=dict)
    message_id: str | None = None
    correlation_id: str | None = None
    reply_to: str | None = None
    expiration_ms: int | None = None
    persistent: bool = True
    content_type: str = "application/json"
    # The member whose connection publishes it, in a process hosting several (``shared.mesh.member_node.MemberBuses``).
    # The AMQP user-id a message carries is always its connection's login, set by the bus.
    publisher: str | None = None

    def __post_init__(self) -> None:
        # A message made while a span is current continues its trace: W3C ``traceparent`` in the AMQP headers,
        # outside the envelope (its signed bytes, the body, are never touched). One made from stored or received
        # headers (an outbox row, a retry, a dead letter) keeps the trace those carry. The flow's scenario id
        # travels the same way (``shared.mesh.scenarios``).
        self.headers = with_scenario(with_trace(self.headers))


class Delivery(Protocol):
    body: bytes
    headers: dict[str, Any]
    message_id: str | None
    correlation_id: str | None
    reply_to: str | None
    redelivered: bool
    exchange: str
    routing_key: str
    user_id: str | None  # the publisher's login, as the broker checked it (None: the publisher did not say)

    @property
    def settled(self) -> bool:
        """Acknowledged or rejected already."""
        ...

    async def ack(self) -> None: ...

    async def reject(self, *, requeue: bool) -> None: ...


Handler = Callable[[Delivery], Awaitable[None]]
LoginSource = Callable[[], Awaitable[Any]]  # -> shared.mesh.broker_accounts.BrokerLogin | None, asked at each connect


class Subscription(Protocol):
    async def cancel(self) -> None: ...


class Bus(abc.ABC):
    @abc.abstractmethod
    async def connect(self) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def declare_exchange(self, *, name: str, kind: ExchangeKind, durable: bool = True) -> None: ...

    @abc.abstractmethod
    async def declare_queue(self, *, name: str = "", durable: bool = True, exclusive: bool = False,
                            auto_delete: bool = False, arguments: dict[str, Any] | None = None) -> str:
        """Declare (idempotently) and return the queue's name; an empty name asks the broker for one."""

    @abc.abstractmethod
    async def bind_queue(self, *, queue: str, exchange: str, routing_key: str = "") -> None: ...

    @abc.abstractmethod
    async def publish(self, *, exchange: str, routing_key: str, message: OutgoingMessage,
                      mandatory: bool = True) -> None:
        """Publish and wait for the broker's confirm; raises Unroutable or BusError."""

    @abc.abstractmethod
    async def consume(self, *, queue: str, handler: Handler, prefetch: int = 32) -> Subscription:
        """Deliver the queue's messages to ``handler``; one that escapes the handler's own error handling is
        dead-lettered with the exception as its reason (``shared.mesh.dead_letters.guarded``)."""

    @property
    def login(self) -> str | None:
        """The broker login this connection publishes under (its messages' user-id), once connected."""
        return None

    def accounts(self) -> Any:
        """The broker's user administration when the bus itself provides it (the in-memory broker:
        ``shared.mesh.broker_accounts.BrokerAdmin``); RabbitMQ's is its management API, configured separately."""
        return None

    async def ack_all(self, deliveries: Sequence[Delivery]) -> None:
        """Acknowledge every delivery given (a consumer's batch, after its commit)."""
        for delivery in deliveries:
            await delivery.ack()

    @abc.abstractmethod
    async def get(self, *, queue: str) -> Delivery | None:
        """Take one message without a consumer (basic.get); None when the queue is empty."""

    @abc.abstractmethod
    async def queue_status(self, *, queue: str) -> QueueStatus:
        """How many messages wait in ``queue`` (ready, not in flight) and how many consumers it has: a passive
        ``queue.declare``. ``BusError`` when there is no such queue."""

    async def queue_statuses(self, queues: Sequence[str]) -> dict[str, QueueStatus | None]:
        """``queue_status`` of each of ``queues`` (None: no such queue) — for a caller that reads hundreds at once
        (the settle): a broker's implementation reads them over a few channels, not a channel each."""
        out: dict[str, QueueStatus | None] = {}
        for queue in queues:
            try:
                out[queue] = await self.queue_status(queue=queue)
            except BusError:
                out[queue] = None
        return out

    async def queue_length(self, *, queue: str) -> int:
        return (await self.queue_status(queue=queue)).ready

    @abc.abstractmethod
    def sibling(self, *, connection_name: str, login: LoginSource | None = None) -> Bus:
        """Another connection to the same broker, under the login ``login`` gives when it connects."""

    @property
    @abc.abstractmethod
    def is_connected(self) -> bool:
        """Connected to the broker now (false while a lost connection is being re-established)."""


class ForwardingBus(Bus):
    """A bus that hands every call to ``inner``: the base of a bus that changes one thing about another (the
    gateway's pipeline faults on what it publishes; a process hosting several members publishing each message on
    its publisher's own connection) and forwards the rest untouched."""

    def __init__(self, inner: Bus) -> None:
        self._inner = inner

    async def connect(self) -> None:
        await self._inner.connect()

    async def close(self) -> None:
        await self._inner.close()

    async def declare_exchange(self, *, name: str, kind: ExchangeKind, durable: bool = True) -> None:
        await self._inner.declare_exchange(name=name, kind=kind, durable=durable)

    async def declare_queue(self, *, name: str = "", durable: bool = True, exclusive: bool = False,
                            auto_delete: bool = False, arguments: dict[str, Any] | None = None) -> str:
        return await self._inner.declare_queue(name=name, durable=durable, exclusive=exclusive,
                                               auto_delete=auto_delete, arguments=arguments)

    async def bind_queue(self, *, queue: str, exchange: str, routing_key: str = "") -> None:
        await self._inner.bind_queue(queue=queue, exchange=exchange, routing_key=routing_key)

    async def publish(self, *, exchange: str, routing_key: str, message: OutgoingMessage,
                      mandatory: bool = True) -> None:
        await self._inner.publish(exchange=exchange, routing_key=routing_key, message=message, mandatory=mandatory)

    async def consume(self, *, queue: str, handler: Handler, prefetch: int = 32) -> Subscription:
        return await self._inner.consume(queue=queue, handler=handler, prefetch=prefetch)

    @property
    def login(self) -> str | None:
        return self._inner.login

    def accounts(self) -> Any:
        return self._inner.accounts()

    async def ack_all(self, deliveries: Sequence[Delivery]) -> None:
        await self._inner.ack_all(deliveries)

    async def get(self, *, queue: str) -> Delivery | None:
        return await self._inner.get(queue=queue)

    async def queue_status(self, *, queue: str) -> QueueStatus:
        return await self._inner.queue_status(queue=queue)

    async def queue_statuses(self, queues: Sequence[str]) -> dict[str, QueueStatus | None]:
        return await self._inner.queue_statuses(queues)

    def sibling(self, *, connection_name: str, login: LoginSource | None = None) -> Bus:
        return self._inner.sibling(connection_name=connection_name, login=login)

    @property
    def is_connected(self) -> bool:
        return self._inner.is_connected


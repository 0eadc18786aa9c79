"""The bus in memory, for fast unit tests: the same interface and the same AMQP routing semantics.

Several MemoryBus objects sharing one MemoryBroker behave like several connections to one RabbitMQ node:
direct/fanout/topic routing, the default exchange, mandatory returns, prefetch, requeue with the
redelivered flag, dead-lettering on reject and on TTL expiry (queue x-message-ttl and per-message
expiration) with an ``x-death`` record shaped like RabbitMQ's (its ``time`` a datetime, ``x-first-death-*``
headers), exclusive/auto-delete queues, and requeue of unacked messages when a connection closes.

``MemoryBroker.go_down()`` / ``come_back()`` stand in for the broker dying and returning under robust
connections: every connection is lost (publishes fail, unacked deliveries return to their queues, nothing is
delivered), then restored with its consumers.
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import itertools
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from shared.mesh import in_flight
from shared.mesh.broker_accounts import BrokerLogin, Permissions
from shared.mesh.bus import (
    Bus,
    BusError,
    Delivery,
    ExchangeKind,
    Handler,
    LoginSource,
    OutgoingMessage,
    QueueStatus,
    Subscription,
    Unroutable,
)
from shared.mesh.dead_letters import guarded


@dataclass
class _Message:
    exchange: str
    routing_key: str
    out: OutgoingMessage
    headers: dict[str, Any]
    redelivered: bool = False
    expiry_handle: asyncio.TimerHandle | None = None
    user_id: str | None = None


@dataclass
class _Exchange:
    kind: ExchangeKind
    bindings: list[tuple[str, str]] = field(default_factory=list)  # (queue, routing key)


@dataclass
class _Consumer:
    tag: int
    handler: Handler
    prefetch: int
    owner: MemoryBus
    unacked: int = 0
    # What a delivery runs in: the context ``consume`` was called in, as a real connection's consumer runs in its
    # own process — not the publisher's (its trace, its service), which only the message's headers may carry over.
    context: contextvars.Context = field(default_factory=contextvars.copy_context)


@dataclass
class _Queue:
    name: str
    arguments: dict[str, Any]
    exclusive_owner: MemoryBus | None
    auto_delete: bool
    ready: deque[_Message] = field(default_factory=deque)
    consumers: list[_Consumer] = field(default_factory=list)
    rr: int = 0


def _topic_matches(pattern: str, key: str) -> bool:
    """AMQP topic match: ``*`` is exactly one word, ``#`` is zero or more words."""
    words, keys = pattern.split("."), key.split(".") if key else []

    def match(i: int, j: int) -> bool:
        if i == len(words):
            return j == len(keys)
        if words[i] == "#":
            return any(match(i + 1, jj) for jj in range(j, len(keys) + 1))
        return j < len(keys) and words[i] in ("*", keys[j]) and match(i + 1, j + 1)

    return match(0, 0)


class MemoryBroker:
    def __init__(self) -> None:
        self.exchanges: dict[str, _Exchange] = {}
        self.queues: dict[str, _Queue] = {}
        self._tags = itertools.count(1)
        self._names = itertools.count(1)
        self.down = False
        self.connections: set[MemoryBus] = set()
        self.users: dict[str, str] = {}  # login → password; a connection without a login is the administrator
        self.permissions: dict[str, Permissions] = {}
        self.policies: dict[str, tuple[str, dict[str, Any]]] = {}

    # ---- accounts (what the gateway asks of RabbitMQ's management API) -------------------------------------
    async def put_user(self, *, login: BrokerLogin) -> None:
        self.users[login.user] = login.password

    async def delete_user(self, *, user: str) -> bool:
        self.permissions.pop(user, None)
        return self.users.pop(user, None) is not None

    async def set_permissions(self, *, user: str, permissions: Permissions) -> None:
        self.permissions[user] = permissions

    async def set_policy(self, *, name: str, pattern: str, definition: dict[str, Any]) -> None:
        """Policies as RabbitMQ applies them to queues; ``max-length`` and ``max-length-bytes`` with the
        default overflow, ``drop-head`` (the oldest messages go first), are what the mesh uses."""
        self.policies[name] = (pattern, dict(definition))

    def _limits(self, queue: str) -> dict[str, Any]:
        for pattern, definition in self.policies.values():
            if re.search(pattern, queue):
                return definition
        return {}

    def _bound(self, queue: _Queue) -> None:
        limits = self._limits(queue.name)
        max_length, max_bytes = limits.get("max-length"), limits.get("max-length-bytes")
        while queue.ready and ((max_length is not None and len(queue.ready) > max_length) or (
                max_bytes is not None and sum(len(m.out.body) for m in queue.ready) > max_bytes)):
            dropped = queue.ready.popleft()
            if dropped.expiry_handle is not None:
                dropped.expiry_handle.cancel()

    def authorise(self, user: str | None, kind: str, resource: str) -> None:
        """RabbitMQ's check: ``kind`` (configure, write, read) on an exchange or queue, for the login."""
        if user is None:
            return
        permissions = self.permissions.get(user)
        if permissions is None or not permissions.allows(kind, resource or "amq.default"):
            raise BusError(f"ACCESS_REFUSED - access to {resource or 'amq.default'!r} refused for user {user!r} "
                           f"({kind})")

    def go_down(self) -> None:
        """The broker is gone: every connection drops, unacked deliveries go back to their queues."""
        self.down = True
        for bus in list(self.connections):
            bus.connection_lost()

    def come_back(self) -> None:
        """The broker is back: connections (and their consumers) are restored, delivery resumes."""
        self.down = False
        for queue in list(self.queues.values()):
            self.dispatch(queue)

    # ---- routing -------------------------------------------------------------------------------------------
    def route(self, *, exchange: str, routing_key: str) -> list[str]:
        if exchange == "":
            return [routing_key] if routing_key in self.queues else []
        ex = self.exchanges.get(exchange)
        if ex is None:
            raise BusError(f"NOT_FOUND - no exchange {exchange!r}")
        if ex.kind == "fanout":
            targets = [q for q, _ in ex.bindings]
        elif ex.kind == "direct":
            targets = [q for q, k in ex.bindings if k == routing_key]
        else:
            targets = [q for q, k in ex.bindings if _topic_matches(k, routing_key)]
        return list(dict.fromkeys(targets))

    def enqueue(self, *, queue: _Queue, message: _Message) -> None:
        ttl = message.out.expiration_ms
        queue_ttl = queue.arguments.get("x-message-ttl")
        if queue_ttl is not None:
            ttl = queue_ttl if ttl is None else min(ttl, queue_ttl)
        queue.ready.append(message)
        self._bound(queue)
        if ttl is not None:
            loop = asyncio.get_running_loop()
            message.expiry_handle = loop.call_later(ttl / 1000, self._expire, queue, message)
        self.dispatch(queue)

    def _expire(self, queue: _Queue, message: _Message) -> None:
        if message in queue.ready:
            queue.ready.remove(message)
            self.dead_letter(queue=queue, message=message, reason="expired")

    def dead_letter(self, *, queue: _Queue, message: _Message, reason: str) -> None:
        dlx = queue.arguments.get("x-dead-letter-exchange")
        if dlx is None:
            return  # RabbitMQ drops it too: the queue has no dead-letter exchange
        key = queue.arguments.get("x-dead-letter-routing-key", message.routing_key)
        deaths = list(message.headers.get("x-death", []))
        deaths.insert(0, {"queue": queue.name, "reason": reason, "exchange": message.exchange,
                          "routing-keys": [message.routing_key], "count": 1,
                          "time": dt.datetime.now(dt.UTC).replace(microsecond=0)})
        headers = {**message.headers, "x-death": deaths}
        if "x-first-death-reason" not in headers:
            headers |= {"x-first-death-reason": reason, "x-first-death-queue": queue.name,
                        "x-first-death-exchange": message.exchange}
        out = OutgoingMessage(body=message.out.body, headers=headers, message_id=message.out.message_id,
                              correlation_id=message.out.correlation_id, reply_to=message.out.reply_to,
                              persistent=message.out.persistent, content_type=message.out.content_type)
        for target in self.route(exchange=dlx, routing_key=key):
            self.enqueue(queue=self.queues[target], message=_Message(exchange=dlx, routing_key=key, out=out,
                                                                     headers=headers, user_id=message.user_id))

    def dispatch(self, queue: _Queue) -> None:
        if self.down:
            return
        while queue.ready:
            consumer = self._next_consumer(queue)
            if consumer is None:
                return
            message = queue.ready.popleft()
            if message.expiry_handle is not None:
                message.expiry_handle.cancel()
            consumer.unacked += 1
            delivery = MemoryDelivery(broker=self, queue=queue, message=message, consumer=consumer)
            consumer.owner.track(delivery)
            consumer.owner.spawn(consumer.handler(delivery), context=consumer.context.copy())

    @staticmethod
    def _next_consumer(queue: _Queue) -> _Consumer | None:
        n = len(queue.consumers)
        for i in range(n):
            candidate = queue.consumers[(queue.rr + i) % n]
            if candidate.prefetch == 0 or candidate.unacked < candidate.prefetch:
                queue.rr = (queue.rr + i + 1) % n
                return candidate
        return None

    def delete_queue(self, name: str) -> None:
        """A queue goes, and its bindings with it (as RabbitMQ drops them)."""
        self.queues.pop(name, None)
        for exchange in self.exchanges.values():
            exchange.bindings = [(q, k) for q, k in exchange.bindings if q != name]

    def next_tag(self) -> int:
        return next(self._tags)

    def next_name(self) -> str:
        return f"amq.gen-{next(self._names)}"


class MemoryDelivery:
    def __init__(self, *, broker: MemoryBroker, queue: _Queue, message: _Message, consumer: _Consumer | None) -> None:
        self._broker, self._queue, self._message, self._consumer = broker, queue, message, consumer
        self._settled = False
        self.body = message.out.body
        self.headers = dict(message.headers)
        self.message_id = message.out.message_id
        self.correlation_id = message.out.correlation_id
        self.reply_to = message.out.reply_to
        self.redelivered = message.redelivered
        self.exchange = message.exchange
        self.routing_key = message.routing_key
        self.user_id = message.user_id

    @property
    def settled(self) -> bool:
        return self._settled

    def _settle(self) -> None:
        if self._settled:
            raise BusError("PRECONDITION_FAILED - unknown delivery tag (already acknowledged)")
        self._settled = True
        if self._consumer is not None:
            self._consumer.unacked -= 1
            self._consumer.owner.untrack(self)

    async def ack(self) -> None:
        self._settle()
        self._broker.dispatch(self._queue)

    async def reject(self, *, requeue: bool) -> None:
        self._settle()
        if requeue:
            self._message.redelivered = True
            self._queue.ready.appendleft(self._message)
        else:
            self._broker.dead_letter(queue=self._queue, message=self._message, reason="rejected")
        self._broker.dispatch(self._queue)

    @property
    def queue_name(self) -> str:
        return self._queue.name

    def requeue_on_close(self) -> None:
        if not self._settled:
            self._settled = True
            if self._consumer is not None:
                self._consumer.unacked -= 1
            self._message.redelivered = True
            self._queue.ready.appendleft(self._message)


class _MemorySubscription:
    def __init__(self, *, bus: MemoryBus, queue: _Queue, consumer: _Consumer) -> None:
        self._bus, self._queue, self._consumer = bus, queue, consumer

    async def cancel(self) -> None:
        if self._consumer in self._queue.consumers:
            self._queue.consumers.remove(self._consumer)
        if self._queue.auto_delete and not self._queue.consumers:
            self._bus.broker.delete_queue(self._queue.name)


CLOSE_WAIT_S = 5.0
"""How long ``MemoryBus.close`` waits for its cancelled handlers to unwind."""


class MemoryBus(Bus):
    """One connection. With ``login``, it connects as that broker user (password checked) and is held to the
    user's permissions, as RabbitMQ would hold it; without, it is the administrator."""

    def __init__(self, *, broker: MemoryBroker, login: LoginSource | None = None) -> None:
        self.broker = broker
        self._login = login
        self.user: str | None = None
        self._connected = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._subscriptions: list[_MemorySubscription] = []
        self._deliveries: set[MemoryDelivery] = set()

    @property
    def is_connected(self) -> bool:
        return self._connected and not self.broker.down

    def connection_lost(self) -> None:
        """The broker went away: what this connection had not acknowledged goes back to its queues."""
        for delivery in list(self._deliveries):
            delivery.requeue_on_close()
        self._deliveries.clear()

    def track(self, delivery: MemoryDelivery) -> None:
        self._deliveries.add(delivery)

    def untrack(self, delivery: MemoryDelivery) -> None:
        self._deliveries.discard(delivery)

    def spawn(self, coro: Any, *, context: contextvars.Context | None = None) -> None:
        task = asyncio.get_running_loop().create_task(coro, context=context)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _require(self) -> None:
        if not self._connected:
            raise BusError("bus is not connected")
        if self.broker.down:
            raise BusError("connection to the broker lost")

    def sibling(self, *, connection_name: str, login: LoginSource | None = None) -> MemoryBus:
        return MemoryBus(broker=self.broker, login=login)

    def accounts(self) -> MemoryBroker:
        return self.broker

    @property
    def login(self) -> str | None:
        return self.user

    async def connect(self) -> None:
        if self.broker.down:
            raise BusError("the broker is down")
        login = await self._login() if self._login is not None else None
        if login is not None:
            if self.broker.users.get(login.user) != login.password:
                raise BusError(f"ACCESS_REFUSED - login refused for user {login.user!r}")
            self.user = login.user
        self._connected = True
        self.broker.connections.add(self)

    async def close(self) -> None:
        self._connected = False
        self.broker.connections.discard(self)
        for sub in self._subscriptions:
            await sub.cancel()
        handlers = [t for t in self._tasks if t is not asyncio.current_task()]
        for task in handlers:
            task.cancel()
        if handlers:  # let them unwind (roll back, give their connection back) before the owner disposes of the
            # database under them, as a closed RabbitMQ channel's consumers have stopped when close returns
            await asyncio.wait(handlers, timeout=CLOSE_WAIT_S)
        for name, queue in list(self.broker.queues.items()):
            if queue.exclusive_owner is self:
                self.broker.delete_queue(name)
        touched = set()
        for delivery in list(self._deliveries):
            delivery.requeue_on_close()
            touched.add(delivery.queue_name)
        self._deliveries.clear()
        for name in touched:
            if name in self.broker.queues:
                self.broker.dispatch(self.broker.queues[name])

    async def declare_exchange(self, *, name: str, kind: ExchangeKind, durable: bool = True) -> None:
        self._require()
        self.broker.authorise(self.user, "configure", name)
        existing = self.broker.exchanges.get(name)
        if existing is not None and existing.kind != kind:
            raise BusError(f"PRECONDITION_FAILED - exchange {name!r} exists with type {existing.kind}")
        self.broker.exchanges.setdefault(name, _Exchange(kind=kind))

    async def declare_queue(self, *, name: str = "", durable: bool = True, exclusive: bool = False,
                            auto_delete: bool = False, arguments: dict[str, Any] | None = None) -> str:
        self._require()
        name = name or self.broker.next_name()
        self.broker.authorise(self.user, "configure", name)
        args = dict(arguments or {})
        existing = self.broker.queues.get(name)
        if existing is not None:
            if existing.arguments != args:
                raise BusError(f"PRECONDITION_FAILED - queue {name!r} declared with other arguments")
            return name
        self.broker.queues[name] = _Queue(name=name, arguments=args, exclusive_owner=self if exclusive else None,
                                          auto_delete=auto_delete)
        return name

    async def bind_queue(self, *, queue: str, exchange: str, routing_key: str = "") -> None:
        self._require()
        if queue not in self.broker.queues:
            raise BusError(f"NOT_FOUND - no queue {queue!r}")
        self.broker.authorise(self.user, "write", queue)
        self.broker.authorise(self.user, "read", exchange)
        bindings = self.broker.exchanges[exchange].bindings
        if (queue, routing_key) not in bindings:
            bindings.append((queue, routing_key))

    async def publish(self, *, exchange: str, routing_key: str, message: OutgoingMessage,
                      mandatory: bool = True) -> None:
        self._require()
        self.broker.authorise(self.user, "write", exchange)
        in_flight.moved()  # before it lands: a settle never sees it in a queue without the counter moved
        user_id = self.user  # every publish carries its connection's login as user-id (shared.mesh.bus_rabbit)
        targets = self.broker.route(exchange=exchange, routing_key=routing_key)
        if not targets and mandatory:
            raise Unroutable(f"no queue takes {exchange!r}/{routing_key!r}")
        for target in targets:
            self.broker.enqueue(queue=self.broker.queues[target],
                                message=_Message(exchange=exchange, routing_key=routing_key, out=message,
                                                 headers=dict(message.headers), user_id=user_id))
        await asyncio.sleep(0)  # a confirm is a round trip: let consumers run, as a real broker would

    async def consume(self, *, queue: str, handler: Handler, prefetch: int = 32) -> Subscription:
        self._require()
        q = self.broker.queues.get(queue)
        if q is None:
            raise BusError(f"NOT_FOUND - no queue {queue!r}")
        self.broker.authorise(self.user, "read", queue)
        consumer = _Consumer(tag=self.broker.next_tag(), handler=guarded(handler, bus=self, queue=queue),
                             prefetch=prefetch, owner=self)
        q.consumers.append(consumer)
        sub = _MemorySubscription(bus=self, queue=q, consumer=consumer)
        self._subscriptions.append(sub)
        self.broker.dispatch(q)
        return sub

    async def get(self, *, queue: str) -> Delivery | None:
        self._require()
        q = self.broker.queues.get(queue)
        if q is None:
            raise BusError(f"NOT_FOUND - no queue {queue!r}")
        self.broker.authorise(self.user, "read", queue)
        if not q.ready:
            return None
        message = q.ready.popleft()
        if message.expiry_handle is not None:
            message.expiry_handle.cancel()
        return MemoryDelivery(broker=self.broker, queue=q, message=message, consumer=None)

    async def queue_status(self, *, queue: str) -> QueueStatus:
        q = self.broker.queues.get(queue)
        if q is None:
            raise BusError(f"NOT_FOUND - no queue {queue!r}")
        return QueueStatus(ready=len(q.ready), consumers=len(q.consumers))

"""The bus on real RabbitMQ through aio-pika: robust connection, publisher confirms, manual acks.

One channel publishes (confirms on, returns raise); each consumer gets its own channel so its prefetch
limit is its own. aio-pika's robust objects re-declare what was declared through them, re-bind and resume
their consumers after a reconnect — but only objects the channel itself declared, so every queue is
declared (with the arguments it was first declared with) on the channel that binds or consumes it. A
publish caught by an outage fails with BusError and the caller's outbox retries it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

import aio_pika
import aiormq
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustChannel, AbstractRobustConnection

from shared.logging import get_logger
from shared.mesh import in_flight
from shared.mesh.broker_accounts import user_of, with_login
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

log = get_logger(__name__)

STATUS_CHANNELS = 4
"""Channels ``queue_statuses`` reads over at once."""
_KINDS = {"direct": aio_pika.ExchangeType.DIRECT, "fanout": aio_pika.ExchangeType.FANOUT,
          "topic": aio_pika.ExchangeType.TOPIC}


class RabbitDelivery:
    __slots__ = ("_message", "body", "correlation_id", "exchange", "headers", "message_id", "redelivered",
                 "reply_to", "routing_key", "user_id")

    def __init__(self, message: AbstractIncomingMessage) -> None:
        self._message = message
        self.body = message.body
        self.headers = dict(message.headers or {})
        self.message_id = message.message_id
        self.correlation_id = message.correlation_id
        self.reply_to = message.reply_to
        self.redelivered = bool(message.redelivered)
        self.exchange = message.exchange or ""
        self.routing_key = message.routing_key or ""
        self.user_id = message.user_id

    @property
    def raw(self) -> AbstractIncomingMessage:
        return self._message

    @property
    def settled(self) -> bool:
        return bool(self._message.processed)

    async def ack(self) -> None:
        try:
            await self._message.ack()
        except (aiormq.exceptions.AMQPError, aio_pika.exceptions.AMQPException, ConnectionError,
                RuntimeError) as exc:  # the channel is gone: the broker will deliver the message again
            raise BusError(f"ack failed: {exc!r}") from exc

    async def reject(self, *, requeue: bool) -> None:
        try:
            await self._message.reject(requeue=requeue)
        except (aiormq.exceptions.AMQPError, aio_pika.exceptions.AMQPException, ConnectionError,
                RuntimeError) as exc:
            raise BusError(f"reject failed: {exc!r}") from exc


class _RabbitSubscription:
    """Stopping a consumer in three steps, because each shortcut was seen to fail.

    Closing the channel while a handler is still running lets that handler ack or publish on a closed
    channel; RabbitMQ answers a frame on a closed channel by closing the whole connection ("CHANNEL_ERROR -
    expected 'channel.open'", found as a teardown error in CI). So: stop new deliveries (basic.cancel), let
    the handlers already running finish (bounded by ``grace_s``), then close the channel. Whatever fails
    while stopping is logged, not raised: what was not acked is delivered again by the broker.
    """

    def __init__(self, *, queue: aio_pika.abc.AbstractQueue, tag: str, channel: AbstractRobustChannel,
                 running: set[asyncio.Task[Any]]) -> None:
        self._queue, self._tag, self._channel, self._running = queue, tag, channel, running

    async def cancel(self, *, grace_s: float = 10.0) -> None:
        if self._channel.is_closed:
            return
        try:
            await self._queue.cancel(self._tag)
            others = self._running - {asyncio.current_task()}  # a handler may stop its own subscription
            if others:
                _, late = await asyncio.wait(others, timeout=grace_s)
                if late:
                    log.warning("consumer_stopped_with_handlers_running", queue=self._queue.name,
                                running=len(late))
            await self._channel.close()
        except (aiormq.exceptions.AMQPError, aio_pika.exceptions.AMQPException, ConnectionError,
                RuntimeError) as exc:
            log.warning("consumer_stop_failed", queue=self._queue.name, error=repr(exc))


class RabbitBus(Bus):
    """``login``, when given, is asked for the broker login at each ``connect`` (the member's own account,
    from the gateway); otherwise the login in ``url`` is used. Every publish carries the login as its AMQP
    user-id, which RabbitMQ checks — so the gateway knows which account published what."""

    def __init__(self, *, url: str, connection_name: str, login: LoginSource | None = None) -> None:
        self._url = url
        self._login = login
        self._user = user_of(url)
        self._name = connection_name
        self._connection: AbstractRobustConnection | None = None
        self._publisher: AbstractRobustChannel | None = None
        self._getter: AbstractRobustChannel | None = None
        self._exchanges: dict[str, aio_pika.abc.AbstractExchange] = {}
        self._queues: dict[str, aio_pika.abc.AbstractQueue] = {}
        self._queue_specs: dict[str, dict[str, Any]] = {}

    @property
    def is_connected(self) -> bool:
        # ``connected`` is cleared the moment the connection drops and set again once it is re-established
        return (self._connection is not None and not self._connection.is_closed
                and self._connection.connected.is_set())

    @property
    def login(self) -> str | None:
        return self._user

    def sibling(self, *, connection_name: str, login: LoginSource | None = None) -> RabbitBus:
        return RabbitBus(url=self._url, connection_name=connection_name, login=login)

    async def connect(self) -> None:
        url = self._url
        if self._login is not None:
            login = await self._login()
            url = with_login(self._url, login)
            self._user = user_of(url)
        self._connection = await aio_pika.connect_robust(
            url, client_properties={"connection_name": self._name}, reconnect_interval=1.0)
        self._publisher = await self._connection.channel(publisher_confirms=True, on_return_raises=True)

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
        self._connection = None
        self._publisher = None
        self._getter = None
        self._exchanges.clear()
        self._queues.clear()

    def _channel(self) -> AbstractRobustChannel:
        if self._publisher is None:
            raise BusError("bus is not connected")
        return self._publisher

    async def declare_exchange(self, *, name: str, kind: ExchangeKind, durable: bool = True) -> None:
        self._exchanges[name] = await self._channel().declare_exchange(name, _KINDS[kind], durable=durable)

    async def declare_queue(self, *, name: str = "", durable: bool = True, exclusive: bool = False,
                            auto_delete: bool = False, arguments: dict[str, Any] | None = None) -> str:
        spec: dict[str, Any] = {"durable": durable, "exclusive": exclusive, "auto_delete": auto_delete,
                                "arguments": arguments}
        queue = await self._channel().declare_queue(name or None, **spec)
        self._queues[queue.name] = queue
        self._queue_specs[queue.name] = spec
        return queue.name

    async def _declared(self, channel: AbstractRobustChannel, name: str) -> aio_pika.abc.AbstractQueue:
        """The queue as a robust object of ``channel``, so that a reconnect restores it there."""
        spec = self._queue_specs.get(name)
        if spec is None:  # declared by someone else: it must exist already
            return await channel.declare_queue(name, passive=True)
        return await channel.declare_queue(name, **spec)

    async def bind_queue(self, *, queue: str, exchange: str, routing_key: str = "") -> None:
        q = self._queues.get(queue) or await self._declared(self._channel(), queue)
        await q.bind(await self._exchange(exchange), routing_key=routing_key)

    async def _exchange(self, name: str) -> aio_pika.abc.AbstractExchange:
        if name == "":
            return self._channel().default_exchange
        if name not in self._exchanges:
            self._exchanges[name] = await self._channel().get_exchange(name, ensure=False)
        return self._exchanges[name]

    async def publish(self, *, exchange: str, routing_key: str, message: OutgoingMessage,
                      mandatory: bool = True) -> None:
        in_flight.moved()  # before it lands: a settle never sees it in a queue without the counter moved
        amqp = aio_pika.Message(
            body=message.body, headers=message.headers or None, message_id=message.message_id,
            correlation_id=message.correlation_id, reply_to=message.reply_to, content_type=message.content_type,
            delivery_mode=(aio_pika.DeliveryMode.PERSISTENT if message.persistent
                           else aio_pika.DeliveryMode.NOT_PERSISTENT),
            expiration=message.expiration_ms / 1000 if message.expiration_ms is not None else None,
            user_id=self._user,
        )
        try:
            await (await self._exchange(exchange)).publish(amqp, routing_key=routing_key, mandatory=mandatory)
        except aio_pika.exceptions.PublishError as exc:
            raise Unroutable(f"no queue takes {exchange!r}/{routing_key!r}") from exc
        except (TimeoutError, aiormq.exceptions.AMQPError, aio_pika.exceptions.AMQPException, ConnectionError,
                RuntimeError) as exc:
            raise BusError(f"publish to {exchange!r}/{routing_key!r} failed: {exc!r}") from exc

    async def consume(self, *, queue: str, handler: Handler, prefetch: int = 32) -> Subscription:
        if self._connection is None:
            raise BusError("bus is not connected")
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=prefetch)
        q = await self._declared(channel, queue)
        run = guarded(handler, bus=self, queue=queue)

        running: set[asyncio.Task[Any]] = set()

        async def on_message(message: AbstractIncomingMessage) -> None:
            task = asyncio.current_task()
            if task is not None:
                running.add(task)
            try:
                await run(RabbitDelivery(message))
            finally:
                running.discard(task)

        tag = await q.consume(on_message)
        return _RabbitSubscription(queue=q, tag=tag, channel=channel, running=running)

    async def ack_all(self, deliveries: Sequence[Delivery]) -> None:
        """One ack frame per channel: ``multiple`` acknowledges every earlier outstanding delivery on it."""
        latest: dict[int, tuple[int, RabbitDelivery]] = {}
        others = []
        for delivery in deliveries:
            if not isinstance(delivery, RabbitDelivery):
                others.append(delivery)
                continue
            channel, tag = id(delivery.raw.channel), delivery.raw.delivery_tag
            if tag is None:  # a message the broker gave no tag (no_ack): acknowledging it is a no-op
                continue
            if channel not in latest or tag > latest[channel][0]:
                latest[channel] = (tag, delivery)
        try:
            for _, delivery in latest.values():
                await delivery.raw.ack(multiple=True)
        except (aiormq.exceptions.AMQPError, aio_pika.exceptions.AMQPException, ConnectionError,
                RuntimeError) as exc:  # the channel is gone: its unacked deliveries come again
            raise BusError(f"ack failed: {exc!r}") from exc
        await super().ack_all(others)

    async def get(self, *, queue: str) -> Delivery | None:
        """On a channel of its own, not the publisher's: a publish the broker refuses closes the publisher's channel,
        and a get sent while that robust channel reopens failed with «CHANNEL_ERROR - expected 'channel.open'» (a
        mesh reset's drain of the ingress answered 500 that way once in CI)."""
        if self._connection is None:
            raise BusError("bus is not connected")
        if self._getter is None or self._getter.is_closed:
            self._getter = await self._connection.channel()
        q = await self._getter.get_queue(queue, ensure=False)
        message = await q.get(fail=False)
        return RabbitDelivery(message) if message is not None else None

    async def queue_statuses(self, queues: Sequence[str]) -> dict[str, QueueStatus | None]:
        """Over ``STATUS_CHANNELS`` channels, each asking its share one after another: a channel a queue (three
        RPCs, all at once) was quadratic in the client's bookkeeping of pending RPCs once a mesh had thousands of
        queues. A queue that is not there closes its channel (404): None for it, a new channel for the rest."""
        if self._connection is None:
            raise BusError("not connected")
        connection = self._connection
        out: dict[str, QueueStatus | None] = {}
        todo = list(queues)

        async def worker() -> None:
            channel = None
            try:
                while todo:
                    queue = todo.pop()
                    if channel is None or channel.is_closed:
                        channel = await connection.channel()
                    try:
                        q = await channel.declare_queue(queue, passive=True)
                    except aiormq.exceptions.ChannelNotFoundEntity:
                        out[queue] = None
                        with contextlib.suppress(Exception):  # a robust channel would reopen itself: not this one
                            await channel.close()
                        channel = None
                        continue
                    out[queue] = QueueStatus(ready=int(q.declaration_result.message_count or 0),
                                             consumers=int(q.declaration_result.consumer_count or 0))
            except (aiormq.exceptions.AMQPError, aio_pika.exceptions.AMQPException, ConnectionError,
                    RuntimeError) as exc:
                raise BusError(f"queues cannot be described: {exc!r}") from exc
            finally:
                if channel is not None and not channel.is_closed:
                    with contextlib.suppress(Exception):  # closing must not hide why the reads failed
                        await channel.close()

        await asyncio.gather(*(worker() for _ in range(min(STATUS_CHANNELS, len(todo)))))
        return out

    async def queue_status(self, *, queue: str) -> QueueStatus:
        """On a channel of its own: a queue that is not there is a channel error (404) that would close the
        publishing channel with it."""
        if self._connection is None:
            raise BusError("not connected")
        try:
            async with self._connection.channel() as channel:
                q = await channel.declare_queue(queue, passive=True)
        except (aiormq.exceptions.AMQPError, aio_pika.exceptions.AMQPException, ConnectionError,
                RuntimeError) as exc:
            raise BusError(f"queue {queue!r} cannot be described: {exc!r}") from exc
        return QueueStatus(ready=int(q.declaration_result.message_count or 0),
                           consumers=int(q.declaration_result.consumer_count or 0))

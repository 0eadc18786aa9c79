"""The in-memory bus keeps RabbitMQ's routing semantics, so unit tests on it mean something."""

from __future__ import annotations

import asyncio

import pytest

from shared.mesh.bus import OutgoingMessage, Unroutable
from shared.mesh.bus_memory import MemoryBroker, MemoryBus


@pytest.fixture
async def bus():
    b = MemoryBus(broker=MemoryBroker())
    await b.connect()
    yield b
    await b.close()


async def _collect(bus, queue, *, ack=True):
    got = []

    async def handler(delivery):
        got.append(delivery)
        if ack:
            await delivery.ack()

    await bus.consume(queue=queue, handler=handler)
    return got


async def test_direct_fanout_topic_and_default_exchange(bus):
    await bus.declare_exchange(name="d", kind="direct")
    await bus.declare_exchange(name="f", kind="fanout")
    await bus.declare_exchange(name="t", kind="topic")
    for q in ("q1", "q2", "q3"):
        await bus.declare_queue(name=q)
    await bus.bind_queue(queue="q1", exchange="d", routing_key="a")
    await bus.bind_queue(queue="q2", exchange="f")
    await bus.bind_queue(queue="q3", exchange="f")
    await bus.bind_queue(queue="q3", exchange="t", routing_key="mio.*.status")
    await bus.bind_queue(queue="q1", exchange="t", routing_key="mio.#")
    got = {q: await _collect(bus, q) for q in ("q1", "q2", "q3")}
    await bus.publish(exchange="d", routing_key="a", message=OutgoingMessage(body=b"direct"))
    await bus.publish(exchange="f", routing_key="ignored", message=OutgoingMessage(body=b"fanout"))
    await bus.publish(exchange="t", routing_key="mio.almaty.status", message=OutgoingMessage(body=b"topic"))
    await bus.publish(exchange="t", routing_key="mio", message=OutgoingMessage(body=b"hash-matches-zero-words"))
    await bus.publish(exchange="", routing_key="q2", message=OutgoingMessage(body=b"default"))
    await asyncio.sleep(0)
    bodies = {q: [d.body for d in v] for q, v in got.items()}
    assert bodies == {"q1": [b"direct", b"topic", b"hash-matches-zero-words"], "q2": [b"fanout", b"default"],
                      "q3": [b"fanout", b"topic"]}


async def test_mandatory_unroutable_is_refused(bus):
    await bus.declare_exchange(name="d", kind="direct")
    with pytest.raises(Unroutable):
        await bus.publish(exchange="d", routing_key="nobody", message=OutgoingMessage(body=b"x"))
    await bus.publish(exchange="d", routing_key="nobody", message=OutgoingMessage(body=b"x"), mandatory=False)


async def test_reject_dead_letters_with_x_death(bus):
    await bus.declare_exchange(name="dlx", kind="fanout")
    await bus.declare_queue(name="dead")
    await bus.bind_queue(queue="dead", exchange="dlx")
    await bus.declare_queue(name="work", arguments={"x-dead-letter-exchange": "dlx"})

    async def refuse(delivery):
        await delivery.reject(requeue=False)

    await bus.consume(queue="work", handler=refuse)
    await bus.publish(exchange="", routing_key="work", message=OutgoingMessage(body=b"poison", message_id="m1"))
    await asyncio.sleep(0)
    dead = await bus.get(queue="dead")
    assert dead is not None
    assert dead.message_id == "m1"
    assert dead.headers["x-death"][0]["reason"] == "rejected"
    assert dead.headers["x-death"][0]["queue"] == "work"


async def test_ttl_expiry_dead_letters_back_into_the_work_queue(bus):
    await bus.declare_queue(name="work")
    await bus.declare_queue(name="work.retry", arguments={"x-message-ttl": 50, "x-dead-letter-exchange": "",
                                                          "x-dead-letter-routing-key": "work"})
    await bus.publish(exchange="", routing_key="work.retry", message=OutgoingMessage(body=b"later"))
    assert await bus.queue_length(queue="work") == 0
    await asyncio.sleep(0.1)
    back = await bus.get(queue="work")
    assert back is not None
    assert back.headers["x-death"][0]["reason"] == "expired"


async def test_requeue_sets_redelivered_and_prefetch_is_honoured(bus):
    await bus.declare_queue(name="q")
    seen = []

    async def handler(delivery):
        seen.append((delivery.body, delivery.redelivered))
        if not delivery.redelivered:
            await delivery.reject(requeue=True)
        else:
            await delivery.ack()

    await bus.consume(queue="q", handler=handler, prefetch=1)
    await bus.publish(exchange="", routing_key="q", message=OutgoingMessage(body=b"a"))
    await asyncio.sleep(0.01)
    assert seen == [(b"a", False), (b"a", True)]


async def test_closing_a_connection_returns_unacked_messages():
    broker = MemoryBroker()
    first, second = MemoryBus(broker=broker), MemoryBus(broker=broker)
    await first.connect()
    await second.connect()
    await first.declare_queue(name="q")
    held = await _collect(first, "q", ack=False)
    await first.publish(exchange="", routing_key="q", message=OutgoingMessage(body=b"x"))
    await asyncio.sleep(0)
    assert len(held) == 1
    await first.close()
    again = await second.get(queue="q")
    assert again is not None
    assert again.redelivered is True
    await second.close()


async def test_redeclaring_a_queue_with_other_arguments_fails_like_rabbitmq(bus):
    await bus.declare_queue(name="q", arguments={"x-message-ttl": 5})
    assert await bus.declare_queue(name="q", arguments={"x-message-ttl": 5}) == "q"
    with pytest.raises(Exception, match="PRECONDITION_FAILED"):
        await bus.declare_queue(name="q", arguments={"x-message-ttl": 6})

"""``Bus.queue_statuses``: hundreds of queues read at once, those not there named — on RabbitMQ and on the memory
broker alike (the settle reads a long-lived mesh's thousand queues with it: a channel a queue, all at once, had been
quadratic in the client's bookkeeping of pending RPCs)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

import pytest

from meshkit.rabbit_node import RabbitNode
from shared.mesh.bus import Bus, BusError, OutgoingMessage, QueueStatus
from shared.mesh.bus_memory import MemoryBroker, MemoryBus
from shared.mesh.bus_rabbit import RabbitBus

pytestmark = pytest.mark.e2e


@pytest.fixture(params=["rabbitmq", "memory"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[Bus]:
    connected: Bus
    if request.param == "rabbitmq":
        rabbit: RabbitNode = request.getfixturevalue("rabbit")
        connected = RabbitBus(url=rabbit.amqp_url, connection_name="tests-queue-statuses")
    else:
        connected = MemoryBus(broker=MemoryBroker())
    await connected.connect()
    yield connected
    await connected.close()


async def _ignore(_delivery: object) -> None:
    return None


async def test_hundreds_of_queues_read_at_once_and_the_missing_ones_named(bus: Bus):
    prefix = f"tests.statuses.{uuid.uuid4().hex[:8]}"
    present = [f"{prefix}.{n}" for n in range(150)]
    for queue in present:
        await bus.declare_queue(name=queue, exclusive=True)  # gone with the connection
    for n in range(3):
        await bus.publish(exchange="", routing_key=present[7], message=OutgoingMessage(body=b"{}", message_id=str(n)))
    consumed = await bus.consume(queue=present[9], handler=_ignore, prefetch=1)
    missing = [f"{prefix}.missing.{n}" for n in range(50)]
    asked = [queue for pair in zip(present[:50], missing, strict=True) for queue in pair] + present[50:]
    try:
        statuses = await bus.queue_statuses(asked)
    finally:
        await consumed.cancel()
    assert set(statuses) == set(asked)
    assert [queue for queue in asked if statuses[queue] is None] == missing
    assert statuses[present[7]] == QueueStatus(ready=3, consumers=0)
    assert statuses[present[9]] == QueueStatus(ready=0, consumers=1)
    assert sum(1 for status in statuses.values() if status == QueueStatus(ready=0, consumers=0)) == 148


async def test_a_get_right_after_a_publish_the_broker_refused_still_answers(bus: Bus):
    """A publish to an exchange that is not there makes RabbitMQ close the publisher's channel, which reopens by
    itself a moment later: a get on that channel meanwhile failed («Channel was not opened»; a mesh reset's drain of
    the ingress answered 500 that way once in CI). A get has a channel of its own."""
    queue = f"tests.get-after-refusal.{uuid.uuid4().hex[:8]}"
    await bus.declare_queue(name=queue, durable=False, auto_delete=False)
    await bus.publish(exchange="", routing_key=queue, message=OutgoingMessage(body=b"kept", message_id="kept-1"))
    got = []
    for n in range(5):
        with contextlib.suppress(BusError):  # the broker refuses it (RabbitMQ); the memory broker may too
            await bus.publish(exchange=f"{queue}.no-such-exchange", routing_key="x",
                              message=OutgoingMessage(body=b"lost", message_id=f"refused-{n}"))
        delivery = await bus.get(queue=queue)
        if delivery is not None:
            got.append(delivery.message_id)
            await delivery.ack()
    assert got == ["kept-1"]

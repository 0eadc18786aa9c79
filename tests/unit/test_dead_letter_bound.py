"""The dead-letter queue cannot fill the broker: bounded by a policy (oldest dropped first), and a large body
is kept as its digest and size — the reason always whole."""

from __future__ import annotations

import hashlib

import orjson

from shared.mesh.bus import OutgoingMessage
from shared.mesh.bus_memory import MemoryBroker, MemoryBus
from shared.mesh.dead_letters import BODY_KEPT_MAX, H_BODY_SHA256, H_BODY_SIZE, dead_letter
from shared.mesh.topology import (
    DEAD_EXCHANGE,
    DEAD_QUEUE,
    H_REFUSAL_CODE,
    H_REFUSAL_REASON,
    declare_core,
    declare_work_queue,
)


async def _bus() -> MemoryBus:
    bus = MemoryBus(broker=MemoryBroker())
    await bus.connect()
    await declare_core(bus)
    await declare_work_queue(bus, queue="work", bindings=[])
    return bus


async def test_a_large_body_is_dead_lettered_as_its_digest_with_the_whole_reason():
    bus = await _bus()
    body = b"x" * (BODY_KEPT_MAX + 1)
    await bus.publish(exchange="", routing_key="work", message=OutgoingMessage(body=body, message_id="m-1"))
    delivery = await bus.get(queue="work")
    assert delivery is not None
    await dead_letter(bus=bus, delivery=delivery, queue="work", code="Client.TooLarge", reason="r" * 900)
    dead = await bus.get(queue=DEAD_QUEUE)
    assert dead is not None
    assert dead.headers[H_BODY_SHA256] == hashlib.sha256(body).hexdigest()
    assert dead.headers[H_BODY_SIZE] == len(body)
    assert (dead.headers[H_REFUSAL_CODE], dead.headers[H_REFUSAL_REASON]) == ("Client.TooLarge", "r" * 900)
    assert orjson.loads(dead.body) == {"bodyTrimmed": True, "sha256": hashlib.sha256(body).hexdigest(),
                                       "size": len(body)}
    assert dead.message_id == "m-1"


async def test_the_dead_letter_queue_keeps_the_newest_within_its_bound():
    bus = await _bus()
    await bus.broker.set_policy(name="bound", pattern=f"^{DEAD_QUEUE}$",
                                definition={"max-length": 3, "max-length-bytes": 10_000, "overflow": "drop-head"})
    for n in range(5):
        await bus.publish(exchange=DEAD_EXCHANGE, routing_key="work", message=OutgoingMessage(
            body=b"{}", message_id=f"m-{n}", headers={H_REFUSAL_CODE: "X", H_REFUSAL_REASON: "why"}))
    assert await bus.queue_length(queue=DEAD_QUEUE) == 3
    kept = [(await bus.get(queue=DEAD_QUEUE)).message_id for _ in range(3)]  # type: ignore[union-attr]
    assert kept == ["m-2", "m-3", "m-4"]

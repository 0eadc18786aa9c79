"""The order the gateway takes its two ingress lanes in: synchronous calls first, in batches of their own, and
never two synchronous batches in a row while asynchronous messages wait (a stream of calls cannot starve them).
The use case, a call overtaking a backlog of thousands on the in-memory broker, is tests/usecases/test_sync_lane.py."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, cast

from services.shep_gateway.consumers import ASYNC_LANE, SYNC_LANE, IngressWorker
from shared.mesh.failures import RetryPolicy


@dataclass
class Taken:
    """What the worker's lanes hold: a delivery, here only its name."""
    name: str


def _worker(batch_size: int) -> IngressWorker:
    return IngressWorker(gateway=cast(Any, None), bus=cast(Any, None), batch_size=batch_size, prefetch=10)


async def _batches(worker: IngressWorker) -> list[list[str]]:
    taken = []
    while worker.holding():
        taken.append([cast(Taken, d).name for d in await worker._next_batch()])
    return taken


async def test_calls_go_first_in_batches_of_their_own_and_alternate_with_the_backlog():
    worker = _worker(batch_size=2)
    for n in range(5):
        await worker._taker(ASYNC_LANE)(cast(Any, Taken(f"a{n}")))
    for n in range(3):
        await worker._taker(SYNC_LANE)(cast(Any, Taken(f"s{n}")))
    assert worker.holding() == 8
    assert await _batches(worker) == [["s0", "s1"], ["a0", "a1"], ["s2"], ["a2", "a3"], ["a4"]]


async def test_calls_alone_follow_each_other_and_the_backlog_alone_too():
    worker = _worker(batch_size=2)
    for n in range(3):
        await worker._taker(SYNC_LANE)(cast(Any, Taken(f"s{n}")))
    assert await _batches(worker) == [["s0", "s1"], ["s2"]]
    for n in range(3):
        await worker._taker(ASYNC_LANE)(cast(Any, Taken(f"a{n}")))
    assert await _batches(worker) == [["a0", "a1"], ["a2"]]


@dataclass
class HeldDelivery:
    """A delivery on a channel that stays open: settled once acked or rejected."""
    name: str
    body: bytes = b"{}"
    headers: dict[str, Any] = field(default_factory=dict)
    message_id: str | None = None
    correlation_id: str | None = None
    reply_to: str | None = None
    redelivered: bool = False
    exchange: str = "shep.ingress"
    routing_key: str = ""
    user_id: str | None = None
    outcome: str | None = None

    @property
    def settled(self) -> bool:
        return self.outcome is not None

    async def ack(self) -> None:
        self.outcome = "acked"

    async def reject(self, *, requeue: bool) -> None:
        self.outcome = "requeued" if requeue else "rejected"


class FailingGateway:
    """Every batch fails, and so does each message alone (a fault, to be retried)."""
    policy = RetryPolicy()

    async def examine(self, delivery: Any) -> Any:
        raise ValueError("this message breaks the examination")


class BrokenBus:
    """Publishing a retry fails with an error the bus does not translate: the isolation itself fails."""
    login = "shep"

    async def publish(self, **_: Any) -> None:
        raise RuntimeError("the broker library failed")


async def test_a_batch_whose_isolation_fails_goes_back_to_the_queue_not_left_to_a_later_ack():
    """Before: left unsettled on a channel that stays open, the next batch's ack (``multiple``) acknowledged them
    unhandled — lost. Now each goes back to the queue, to be taken again."""
    worker = IngressWorker(gateway=cast(Any, FailingGateway()), bus=cast(Any, BrokenBus()), batch_size=8,
                           prefetch=8)
    batch = [HeldDelivery(f"m{n}") for n in range(3)]
    for delivery in batch:
        await worker._taker(ASYNC_LANE)(cast(Any, delivery))
    worker._loop.start()
    try:
        for _ in range(500):
            if all(d.settled for d in batch):
                break
            await asyncio.sleep(0.01)
    finally:
        await worker._loop.stop()
    assert [d.outcome for d in batch] == ["requeued"] * 3
    assert (await worker.progress() or "").startswith("the ingress worker is not running")

"""The order the gateway takes its two ingress lanes in: synchronous calls first, in batches of their own, and
never two synchronous batches in a row while asynchronous messages wait (a stream of calls cannot starve them).
The use case, a call overtaking a backlog of thousands on the in-memory broker, is tests/usecases/test_sync_lane.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from services.shep_gateway.consumers import ASYNC_LANE, SYNC_LANE, IngressWorker


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

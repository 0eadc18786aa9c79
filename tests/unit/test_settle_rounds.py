"""The settle's rounds of reads (services/shep_gateway/usecases/settle.py) on the memory broker: a round the
gateway's own work already calls busy reads no queue — in a mesh that enrolled a few hundred test members, the
queue scan was a passive declare for each of thousands of queues every 50 ms, a quarter of the gateway's CPU in
the test suite — and a round that may be quiet reads every queue, first."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from services.shep_gateway.usecases.settle import Settler
from shared.clock import MeshClock
from shared.mesh import in_flight
from shared.mesh.bus import OutgoingMessage, QueueStatus
from shared.mesh.bus_memory import MemoryBroker, MemoryBus
from shared.mesh.topology import member_queue, retry_queue


class CountingBus(MemoryBus):
    """The memory broker, counting the queues asked about."""

    def __init__(self, broker: MemoryBroker) -> None:
        super().__init__(broker=broker)
        self.asked: list[str] = []

    async def queue_status(self, *, queue: str) -> QueueStatus:
        self.asked.append(queue)
        return await super().queue_status(queue=queue)


@dataclass
class Relay:
    unsent: int = 0

    async def pending_count(self) -> int:
        return self.unsent


@dataclass
class Authority:
    clock: MeshClock = field(default_factory=MeshClock)


async def _settler(bus: CountingBus, *, holding: int, members: list[str]) -> Any:
    async def parked() -> int:
        return 0

    return Settler(bus=bus, members=lambda: members, holding=lambda: holding, relay=Relay(),  # type: ignore[arg-type]
                   parked=parked, authority=Authority(), http=httpx.AsyncClient(), probes=[],  # type: ignore[arg-type]
                   admin_token=lambda: "")


@pytest.fixture(autouse=True)
def _own_counters(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process's in-flight counters, empty: an in-process mesh of another test may still be at work here."""
    monkeypatch.setattr(in_flight, "_by_service", {})


async def test_a_round_the_gateways_work_calls_busy_reads_no_queue():
    bus = CountingBus(MemoryBroker())
    await bus.connect()
    seen = await (await _settler(bus, holding=2, members=[f"test-{n}" for n in range(300)])).read(None)
    assert seen.busy == ["shep_gateway: 2 in work"]
    assert bus.asked == [], "a busy round is thrown away whatever the queues hold"


async def test_a_round_that_may_be_quiet_reads_the_queues_and_the_tiers_of_those_consumed():
    """A retry tier's message comes back to its queue: counted when something consumes that queue, not when nothing
    does (a test's own member, closed with deliveries left)."""
    bus = CountingBus(MemoryBroker())
    await bus.connect()
    for member in ("live", "gone"):
        await bus.declare_queue(name=member_queue(member))
        tier = retry_queue(member_queue(member), 5)
        await bus.declare_queue(name=tier)
        await bus.publish(exchange="", routing_key=tier, message=OutgoingMessage(body=b"{}", message_id=member))
    await bus.consume(queue=member_queue("live"), handler=_ignore, prefetch=1)
    seen = await (await _settler(bus, holding=0, members=["live", "gone"])).read(None)
    assert seen.busy == [f"queue {retry_queue(member_queue('live'), 5)}: 1 waiting"]
    assert len(bus.asked) == 2 + 2 * 2 + 3, "the ingress's two lanes, two queues a member, the live queue's three tiers"


async def _ignore(_delivery: Any) -> None:
    return None

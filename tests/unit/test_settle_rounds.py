"""The settle's rounds of reads (services/shep_gateway/usecases/settle.py) on the memory broker: a round the
gateway's own work already calls busy reads no queue — in a mesh that enrolled a few hundred test members, the
queue scan was a passive declare for each of thousands of queues every 50 ms, a quarter of the gateway's CPU in
the test suite — and a round that may be quiet reads every queue, first."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from services.shep_gateway.usecases.settle import Settler
from shared.clock import MeshClock
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


async def test_a_round_the_gateways_work_calls_busy_reads_no_queue():
    bus = CountingBus(MemoryBroker())
    await bus.connect()
    seen = await (await _settler(bus, holding=2, members=[f"test-{n}" for n in range(300)])).read(None)
    assert seen.busy == ["shep_gateway: 2 in work"]
    assert bus.asked == [], "a busy round is thrown away whatever the queues hold"


async def test_a_round_that_may_be_quiet_reads_every_queue_and_finds_what_waits():
    bus = CountingBus(MemoryBroker())
    await bus.connect()
    tier = retry_queue(member_queue("test-1"), 5)
    await bus.declare_queue(name=tier)
    await bus.publish(exchange="", routing_key=tier, message=OutgoingMessage(body=b"{}", message_id="m-1"))
    seen = await (await _settler(bus, holding=0, members=["test-1", "test-2"])).read(None)
    assert len(bus.asked) == (1 + 2 * 2) * 4, "the ingress and two queues a member, each with its three retry tiers"
    assert seen.busy == [f"queue {tier}: 1 waiting"], "a retry tier's message always comes back"

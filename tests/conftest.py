"""Shared fixtures. A broker or a mesh is started only by the tests that ask for one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

import shared.errors
from meshkit.rabbit_node import RabbitNode
from shared.mesh.bus import Bus
from shared.mesh.bus_rabbit import RabbitBus
from shared.mesh.topology import DEAD_QUEUE, H_REFUSAL_CODE, declare_core
from tests.support.members import TestMember, member_factory_for
from tests.support.mesh import MeshHandle, start_mesh

# An error made with a code shared/error_catalogue.py does not hold fails the test that makes it (a running service
# answers it as 500 instead: shared/errors.py says why).
shared.errors.strict = True


@pytest.fixture(scope="session")
def launched_rabbit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitNode]:
    """The session's broker, booting: the session's mesh starts its services beside it (``start_mesh`` waits)."""
    node = RabbitNode.launch(base_dir=tmp_path_factory.mktemp("rabbitmq"))
    yield node
    node.stop(graceful=False)  # the session's broker: its data goes with the test's temporary directory


@pytest.fixture(scope="session")
def rabbit(launched_rabbit: RabbitNode) -> RabbitNode:
    """The session's broker, up."""
    launched_rabbit.wait_started()
    return launched_rabbit


@pytest.fixture(scope="session")
def mesh(launched_rabbit: RabbitNode, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeshHandle]:
    # A one-second OCSP cache lets a revocation made through the API reach the gateway within the test.
    # ИС ЦОН's ГБД ФЛ look-up gives up after 3 s: a test of a stopped registry need not wait the default 10.
    # A delivery no receipt came for is delivered again after 5 s (a stolen one comes back within the test), and is
    # NOT_DELIVERED only after 8 attempts (about 20 minutes: longer than any outage a test makes).
    handle = start_mesh(var_dir=tmp_path_factory.mktemp("mesh"), rabbit=launched_rabbit,
                        extra_env={"MESH_OCSP_MAX_AGE_S": "1", "CON_REGISTRY_TIMEOUT_S": "3",
                                   "SHEP_RECEIPT_TIMEOUT_S": "5", "SHEP_DELIVERY_ATTEMPTS": "8"})
    yield handle
    handle.runner.stop()


class DeadLetters:
    """Reads mesh.dead-letters once for all tests and finds a message by id, whatever order they arrive in."""

    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self.seen: dict[str, dict] = {}

    async def find(self, message_id: str, *, timeout_s: float = 15.0) -> dict:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while message_id not in self.seen:
            delivery = await self._bus.get(queue=DEAD_QUEUE)
            if delivery is None:
                if loop.time() > deadline:
                    raise AssertionError(f"{message_id} never reached {DEAD_QUEUE}")
                await asyncio.sleep(0.1)
                continue
            self.seen[delivery.message_id or ""] = {"headers": delivery.headers, "body": delivery.body,
                                                    "code": delivery.headers.get(H_REFUSAL_CODE)}
            await delivery.ack()
        return self.seen[message_id]


@pytest.fixture(scope="session")
async def dead_letters(mesh: MeshHandle) -> AsyncIterator[DeadLetters]:
    bus = RabbitBus(url=mesh.rabbit.amqp_url, connection_name="tests-dead-letters")
    await bus.connect()
    await declare_core(bus)
    yield DeadLetters(bus)
    await bus.close()


@pytest.fixture
async def member_factory(mesh: MeshHandle, tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[TestMember]]]:
    async with member_factory_for(mesh, db_dir=tmp_path) as make:
        yield make

"""The use-case suite: the whole mesh in this process (tests/support/inprocess.py), started once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from tests.conftest import DeadLetters
from tests.support.inprocess import InProcessMesh, start_inprocess_mesh
from tests.support.members import TestMember, member_factory_for


@pytest.fixture(scope="session")
async def inproc(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[InProcessMesh]:
    mesh = await start_inprocess_mesh(tmp_path_factory.mktemp("inprocess"))
    yield mesh
    await mesh.close()


# The same face as the end-to-end fixtures (tests/conftest.py), so tests written for real processes run here too.
@pytest.fixture
def mesh(inproc: InProcessMesh) -> InProcessMesh:
    return inproc


@pytest.fixture(scope="session")
async def dead_letters(inproc: InProcessMesh) -> AsyncIterator[DeadLetters]:
    bus = inproc.new_bus("tests-dead-letters")
    await bus.connect()
    yield DeadLetters(bus)
    await bus.close()


@pytest.fixture
async def member_factory(inproc: InProcessMesh, tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[TestMember]]]:
    async with member_factory_for(inproc, db_dir=tmp_path) as make:
        yield make

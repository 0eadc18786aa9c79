"""The use-case suite: the whole mesh in this process (tests/support/inprocess.py), started once."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.inprocess import InProcessMesh, start_inprocess_mesh


@pytest.fixture(scope="session")
async def inproc(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[InProcessMesh]:
    mesh = await start_inprocess_mesh(tmp_path_factory.mktemp("inprocess"))
    yield mesh
    await mesh.close()

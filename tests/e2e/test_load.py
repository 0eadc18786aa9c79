"""The load a tester's suite produces: 300 applications through the portal and 100 through the ИС ЦОН intake,
all at once, across every regulation's district — on SQLite and on PostgreSQL, with ИС МИО killed (SIGKILL)
twice while the batch runs. Every application gets one number, no two the same, and reaches its final
status; nothing is lost, duplicated or dead-lettered.

Before the fix 40 applications at once to one district lost 30 (colliding numbers, and the conflict taken
for "already processed"); here 400 run through real processes, real RabbitMQ and a real database.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest

from meshkit.load import HttpClients, Report, lanes, run_batch
from meshkit.mesh_runner import SERVICES
from tests.support.mesh import MeshHandle, drain_dead_letters, private_mesh
from tests.support.postgres import PostgresServer

pytestmark = pytest.mark.e2e
PORTAL, CON = 300, 100


async def _kill_mio_twice(mesh: MeshHandle) -> None:
    """SIGKILL ИС МИО a few seconds into the batch, and again while it works through it; start it again each
    time, as an operator (or the launcher) would."""
    mio = mesh.runner["mio_workstation"]
    for pause in (4.0, 15.0):
        await asyncio.sleep(pause)
        mio.kill()
        mio.start()
        async with httpx.AsyncClient(timeout=5) as http:
            for _ in range(600):
                try:
                    if (await http.get(f"{mio.url}/ready")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)


async def _batch(mesh: MeshHandle) -> Report:
    clients = HttpClients({name: mesh.url(name) for name in mesh.runner.services}, admin_token=mesh.admin_token)
    try:
        return await run_batch(clients, portal=PORTAL, con=CON, timeout_s=600,
                               dead_letters=lambda: drain_dead_letters(mesh), during=lambda: _kill_mio_twice(mesh))
    finally:
        await clients.aclose()


def _assert_nothing_lost(report: Report) -> None:
    print(json.dumps(report.summary()))  # the figures, for whoever reads the output
    assert report.submitted == PORTAL + CON
    assert report.lost == [], f"{len(report.lost)} applications never reached their final status"
    assert report.duplicated == {}, "an application was recorded twice at ИС МИО"
    assert report.unique_numbers == report.numbers >= PORTAL + CON
    assert report.statuses == {"COMPLETED": PORTAL + CON}, report.summary()
    # A killed ИС МИО publishes again what its outbox cannot prove left: the gateway refuses those second copies
    # as Client.DuplicateMessage, visibly (dead-lettered, logged) — never delivered twice. Nothing else.
    unexpected = [d for d in report.dead_letters if d["code"] != "Client.DuplicateMessage"]
    assert unexpected == [], unexpected[:5]
    assert len(report.by_lane) == len(lanes()), "every portal and ЦОН regulation's district took part"


@pytest.fixture(scope="module")
def sqlite_mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeshHandle]:
    with private_mesh(tmp_path_factory, name="load-sqlite") as handle:
        yield handle


@pytest.fixture(scope="module")
def postgres_mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeshHandle]:
    server = PostgresServer.start()
    names = [s.name for s in SERVICES]
    try:
        server.create_databases(names)
        with private_mesh(tmp_path_factory, name="load-pg",
                          database_urls={n: server.url(n) for n in names}) as handle:
            yield handle
    finally:
        server.stop()


async def test_a_batch_at_once_on_sqlite_with_mio_killed_twice(sqlite_mesh: MeshHandle):
    _assert_nothing_lost(await _batch(sqlite_mesh))


async def test_a_batch_at_once_on_postgresql_with_mio_killed_twice(postgres_mesh: MeshHandle):
    _assert_nothing_lost(await _batch(postgres_mesh))

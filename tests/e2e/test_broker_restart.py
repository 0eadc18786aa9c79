"""Restarting RabbitMQ loses no message and duplicates none: durable queues, persistent messages, robust
connections that come back, and outboxes that keep what the broker could not take meanwhile."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from shared.envelope import MessageType
from tests.support.members import enroll, grant, start_member, unique_id
from tests.support.mesh import MeshHandle, private_mesh

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def own_mesh(tmp_path_factory: pytest.TempPathFactory):
    with private_mesh(tmp_path_factory, name="restart") as handle:
        yield handle


async def test_messages_survive_a_broker_restart(own_mesh: MeshHandle, tmp_path: Path):
    caller = await start_member(own_mesh, await enroll(own_mesh, member_id=unique_id("caller")), db_dir=tmp_path)
    provider = await start_member(own_mesh, await enroll(own_mesh, member_id=unique_id("provider")),
                                  db_dir=tmp_path)
    await grant(own_mesh, service_id="gbdfl.person-by-iin", channel="sync", providers=["gbdfl"],
                callers=["portal", "con", "mio.*", "shep", caller.member_id])
    try:
        service = unique_id("test.durable")
        await grant(own_mesh, service_id=service, channel="async", providers=[provider.member_id],
                    callers=[caller.member_id])
        before = [await caller.send(service_id=service, message_type=MessageType.REQUEST, data={"n": n})
                  for n in range(5)]
        await provider.wait_for(lambda i: str(i.envelope.message_id) == before[-1]["messageId"])

        await asyncio.to_thread(own_mesh.rabbit.stop)
        during = [await caller.send(service_id=service, message_type=MessageType.REQUEST, data={"n": 100 + n})
                  for n in range(5)]  # the broker is down: they wait in the caller's outbox
        await asyncio.to_thread(own_mesh.rabbit.restart)
        after = [await caller.send(service_id=service, message_type=MessageType.REQUEST, data={"n": 200 + n})
                 for n in range(5)]

        expected = {w["messageId"] for w in before + during + after}
        for _ in range(900):  # until every effect has committed (robust connections take a moment to return)
            applied = await provider.applied()
            if set(applied) >= expected:
                break
            await asyncio.sleep(0.1)
        assert set(applied) >= expected
        assert len(applied) == len(set(applied)), "no message was applied twice"

        # the synchronous channel works again too, through the gateway's restored consumers
        for _ in range(60):
            try:
                answer = await caller.runtime.request(service_id="gbdfl.person-by-iin", data={"iin": "850701300007"},
                                                      timeout_s=5)
                break
            except Exception:  # the services' robust connections may still be coming back
                await asyncio.sleep(1)
        assert answer.envelope.data["found"] is False
        async with httpx.AsyncClient() as http:
            verdict = (await http.get(f"{own_mesh.gateway}/log/verify", headers=own_mesh.admin)).json()
            # broadcasts are bound again: a clock change still reaches the services
            changed = (await http.post(f"{own_mesh.gateway}/admin/clock", headers=own_mesh.admin,
                                       json={"advanceSeconds": 30})).json()["state"]
            for _ in range(50):
                followed = (await http.get(f"{own_mesh.url('gbd_fl')}/mesh")).json()["clock"]["state"]
                if followed == changed:
                    break
                await asyncio.sleep(0.1)
        assert verdict["ok"] is True
        assert followed == changed
    finally:
        await caller.close()
        await provider.close()

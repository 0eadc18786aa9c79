"""Restarting RabbitMQ loses no message and duplicates none: durable queues, persistent messages, robust
connections that come back, and outboxes that keep what the broker could not take meanwhile."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from shared.mesh.envelope import MessageType
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
                callers=[caller.member_id])
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


def _ready(url: str) -> tuple[int, dict]:
    try:
        reply = httpx.get(f"{url}/ready", timeout=2)
    except httpx.HTTPError as exc:
        return 0, {"error": str(exc)}
    return reply.status_code, reply.json()


async def _until_all(mesh: MeshHandle, status: int, *, within_s: float) -> dict[str, dict]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        seen = {name: await asyncio.to_thread(_ready, mesh.url(name)) for name in mesh.runner.services}
        if all(code == status for code, _ in seen.values()):
            return {name: body for name, (_, body) in seen.items()}
        if loop.time() > deadline:
            raise AssertionError(f"not all /ready {status} within {within_s} s: {seen}")
        await asyncio.sleep(0.2)


async def test_readiness_follows_a_killed_broker_and_no_status_is_lost(own_mesh: MeshHandle):
    """RabbitMQ killed: every /ready answers 503 naming the broker within 5 s, 200 again within 10 s of its
    return, and an application in progress meanwhile reaches the citizen with each status once, in order."""
    kit = own_mesh.kit()
    citizen = kit.new_citizen(district="zhezkazgan", min_age=25, max_age=50, jobless=True)
    kit.set_mode("zhezkazgan", "auto", auto_share=0.04)  # a 2-minute step takes ~5 s: the case spans the outage
    session = kit.login(citizen.iin, citizen.password or "")
    case = session.apply(citizen.signed_request("employment.job-seeker-registration"))
    await asyncio.sleep(2)

    await asyncio.to_thread(own_mesh.rabbit.kill)
    down = await _until_all(own_mesh, 503, within_s=5)
    assert all(body["checks"]["broker"].startswith("down: ") for body in down.values()), down
    await asyncio.sleep(3)
    await asyncio.to_thread(own_mesh.rabbit.restart)  # returns once the broker takes connections again
    await _until_all(own_mesh, 200, within_s=10)

    for _ in range(600):
        mine = next(a for a in kit.login(citizen.iin, citizen.password or "").applications()
                if a["correlationId"] == case["correlationId"])
        if mine["status"] == "COMPLETED":
            break
        await asyncio.sleep(0.2)
    assert mine["status"] == "COMPLETED"
    notices = [n for n in kit.login(citizen.iin, citizen.password or "").notifications()
               if n["applicationNumber"] == mine["applicationNumber"]]
    assert [n["status"] for n in notices] == ["RECEIVED", "IN_PROGRESS", "COMPLETED"]
    kit.close()

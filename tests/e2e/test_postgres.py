"""The whole mesh on PostgreSQL (DATABASE_URL), against a real PostgreSQL server and its own broker."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from meshkit.mesh_runner import SERVICES
from shared.mesh.envelope import MessageType
from tests.support.journal_store import assert_the_ring_and_its_database_answer_as_one
from tests.support.members import enroll, grant, start_member, unique_id
from tests.support.mesh import MeshHandle, private_mesh
from tests.support.postgres import PostgresServer
from tests.support.snapshot import assert_reads_see_one_moment, assert_restored_ids_are_not_taken_again

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def pg_server():
    server = PostgresServer.start()
    try:
        server.create_databases([s.name for s in SERVICES] + ["snapshot_check", "state_check", "journal_check"])
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def pg_mesh(tmp_path_factory: pytest.TempPathFactory, pg_server: PostgresServer):
    names = [s.name for s in SERVICES]
    with private_mesh(tmp_path_factory, name="pg", database_urls={n: pg_server.url(n) for n in names}) as handle:
        yield handle


async def test_a_snapshot_on_postgresql_sees_one_moment(pg_server: PostgresServer):
    await assert_reads_see_one_moment(pg_server.url("snapshot_check"))


async def test_a_state_restored_on_postgresql_leaves_its_ids_to_itself(pg_server: PostgresServer):
    await assert_restored_ids_are_not_taken_again(pg_server.url("state_check"))


async def test_services_run_on_postgresql_end_to_end(pg_mesh: MeshHandle, tmp_path: Path):
    for service in pg_mesh.runner.services.values():
        assert "postgresql://" in service.env()[f"{service.spec.env_prefix}_DATABASE_URL"]
    caller = await start_member(pg_mesh, await enroll(pg_mesh, member_id=unique_id("pg-caller")), db_dir=tmp_path)
    provider = await start_member(pg_mesh, await enroll(pg_mesh, member_id=unique_id("pg-provider")), db_dir=tmp_path)
    try:
        sync_service, async_service = unique_id("test.pg-sync"), unique_id("test.pg-async")
        await grant(pg_mesh, service_id=sync_service, channel="sync", providers=[provider.member_id],
                    callers=[caller.member_id])
        await grant(pg_mesh, service_id=async_service, channel="async", providers=[provider.member_id],
                    callers=[caller.member_id])

        async def answer(incoming):
            return {"ok": incoming.envelope.data["n"] + 1}

        provider.runtime.serve(service_id=sync_service, handler=answer)
        case = str(uuid.uuid4())
        reply = await caller.runtime.request(service_id=sync_service, data={"n": 1}, correlation_id=case)
        assert reply.envelope.data == {"ok": 2}
        sent = await caller.send(service_id=async_service, message_type=MessageType.REQUEST, data={"n": 2},
                                 correlation_id=case)
        await provider.wait_for(lambda i: str(i.envelope.message_id) == sent["messageId"])
        async with pg_mesh.client() as http:
            log = (await http.get(f"{pg_mesh.gateway}/log", params={"correlationId": case},
                                  headers=pg_mesh.admin)).json()["records"]
            verdict = (await http.get(f"{pg_mesh.gateway}/log/verify", headers=pg_mesh.admin)).json()
        assert [r["messageType"] for r in log] == ["REQUEST", "RESPONSE", "REQUEST"]
        assert verdict["ok"] is True
    finally:
        await caller.close()
        await provider.close()


async def test_the_journal_behind_its_ring_on_postgresql(pg_server: PostgresServer):
    await assert_the_ring_and_its_database_answer_as_one(pg_server.url("journal_check"))


def test_a_services_journal_outlives_its_restart_in_its_postgresql_database(pg_mesh: MeshHandle):
    """The gateway's journal entries of a request, found again after the gateway was stopped and started: written
    to the gateway's own PostgreSQL database (a table beside its state), read back by the new process."""
    marker = f"journal-restart-{uuid.uuid4()}"
    assert httpx.get(f"{pg_mesh.gateway}/members", headers={"X-Correlation-Id": marker}).status_code == 200
    pg_mesh.runner["shep_gateway"].stop()
    pg_mesh.runner["shep_gateway"].start()
    pg_mesh.runner.wait_ready(timeout_s=60)
    found = httpx.get(f"{pg_mesh.gateway}/admin/journal", headers=pg_mesh.admin,
                      params={"correlationId": marker, "service": "shep_gateway"}).json()
    assert [(e["route"], e["status"]) for e in found["entries"]] == [("/members", 200)], found
    gateway = next(s for s in found["sources"] if s["service"] == "shep_gateway")
    assert (gateway["entries"] < gateway["stored"], gateway["rows"], gateway.get("storeError")) == (True, 50_000, None)


def test_ca_and_gateway_keep_their_keys_across_restarts_on_postgresql(pg_mesh: MeshHandle):
    root_before = httpx.get(f"{pg_mesh.nuc}/ca/root.pem").text
    members_before = httpx.get(f"{pg_mesh.gateway}/members").json()["members"]
    shep_before = next(m for m in members_before if m["id"] == "shep")["certificates"]
    for name in ("nuc_pki", "shep_gateway"):
        pg_mesh.runner[name].stop()
        pg_mesh.runner[name].start()
    pg_mesh.runner.wait_ready(timeout_s=60)
    assert httpx.get(f"{pg_mesh.nuc}/ca/root.pem").text == root_before
    shep_after = next(m for m in httpx.get(f"{pg_mesh.gateway}/members").json()["members"] if m["id"] == "shep")
    assert shep_after["certificates"] == shep_before
    assert httpx.get(f"{pg_mesh.gateway}/log/verify", headers=pg_mesh.admin).json()["ok"] is True


def test_a_reset_and_a_restored_snapshot_on_postgresql_take_new_cases(pg_mesh: MeshHandle, tmp_path: Path):
    """Issue 20 on PostgreSQL: the reset, a snapshot restored, and new rows after it — which, before the restore set
    the id sequences past the restored rows, would take an id a restored row has."""
    job_seeker = "employment.job-seeker-registration"
    with pg_mesh.kit() as kit:
        assert all(s["ready"] for s in kit.reset()["services"].values())
        kit.set_mode("almaty", "manual")
        citizen = kit.new_citizen(district="almaty", jobless=True)
        first = kit.login_eds(citizen).apply(citizen.signed_request(job_seeker))
        number = kit.wait_for_status(first["correlationId"], "RECEIVED")["applicationNumber"]
        kit.snapshot_export("pg-one-case", tmp_path / "pg.json")
        kit.reset()
        restored = kit.snapshot_restore("pg-one-case")
        assert all(s["ready"] for s in restored["services"].values()), restored
        assert kit.mio_application(number)["applicantIin"] == citizen.iin
        second = kit.login_eds(citizen).apply(citizen.signed_request(job_seeker))
        after = kit.wait_for_status(second["correlationId"], "RECEIVED")["applicationNumber"]
    assert after != number
    assert after.rsplit("-", 1)[1] == f"{int(number.rsplit('-', 1)[1]) + 1:06d}", "numbering goes on from the snapshot"

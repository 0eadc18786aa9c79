"""Reset and snapshots (issue 20): the whole mesh back to its seed between two tests, scoped resets, named snapshots,
and a mesh clock that never breaks certificates.

A mesh of its own (in process): a reset empties every service, which no test sharing the session's mesh may see.
Before: ``meshctl clock --reset`` left 98 certificates «not yet valid» (citizens made after a jump); a fuzzed
``POST /admin/clock`` to 2076 left every service not ready for good; a reset between tests meant a restart.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.shep_gateway.usecases.mesh_reset import MeshReset
from tests.support.inprocess import SERVICES, InProcessMesh, start_inprocess_mesh, url
from tests.usecases.helpers import apply, bearer, ready_becomes, until_status
from tests.usecases.test_time_skipping import _received

MEMBERS = ("gbd_fl", "portal", "mio_workstation", "con_operator")


@pytest.fixture(scope="module")
async def own(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[InProcessMesh]:
    urls = ",".join(f"{name}={url(name)}" for name in SERVICES)
    mesh = await start_inprocess_mesh(tmp_path_factory.mktemp("reset"),
                                      overrides={"shep_gateway": {"peer_urls": urls}})
    yield mesh
    await mesh.close()


async def _post(mesh: InProcessMesh, service: str, path: str, body: dict[str, Any] | None = None) -> Any:
    async with mesh.client(service, timeout=60) as http:
        return await http.post(path, json=body if body is not None else {})


async def _reset(mesh: InProcessMesh, **scope: str) -> dict[str, Any]:
    reply = await _post(mesh, "shep_gateway", "/admin/mesh/reset", scope)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


async def _count(mesh: InProcessMesh, service: str, table: str, where: str = "1=1", *params: Any) -> int:
    return int((await mesh.sql(service, f"SELECT count(*) FROM {table} WHERE {where}", *params))[0][0])  # noqa: S608


async def _case(mesh: InProcessMesh, district: str) -> tuple[Any, str, str]:
    """A citizen of ``district`` registered at the portal and applying: the person, the case id, its number."""
    person = await mesh.person(district=district)
    token = await mesh.citizen_session(person)
    sent = await apply(mesh, person, token)
    await _received(mesh, sent["correlationId"])
    [(number,)] = await mesh.sql("mio_workstation", "SELECT number FROM application WHERE correlation_id = ?",
                                 sent["correlationId"])
    await until_status(mesh, person, token, sent["correlationId"], "RECEIVED")  # the portal knows its number too
    return person, sent["correlationId"], number


async def _everything_ready(mesh: InProcessMesh) -> None:
    for name in SERVICES:
        await ready_becomes(mesh, name, 200)


async def test_a_whole_reset_restores_the_seeded_state_with_numbering_from_the_start(own: InProcessMesh):
    await own.set_mode("almaty", mode="manual")  # the case stays where it is: nothing moves while we look
    first, correlation_id, number = await _case(own, "almaty")
    assert await _count(own, "shep_gateway", "message_log") > 0
    async with own.client("gbd_fl") as gbd:
        seeded = (await gbd.get(f"/admin/people/{first.iin}")).json()
        changed = await gbd.patch(f"/admin/people/{first.iin}", json={"address": "changed by a test"})
        assert changed.status_code == 200, changed.text
    async with own.client("shep_gateway") as gateway:  # a test's forced outcome, ended by the reset
        registered = (await gateway.post("/admin/scenarios", json={"rules": ["gbdfl:no-data"], "ttlSeconds": 600}))
    assert registered.status_code == 201, registered.text
    async with own.client("shep_gateway") as gateway:  # and a fault-injection rule, removed by the reset
        rule = await gateway.post("/admin/chaos/rules", json={"where": "gateway", "fault": {"kind": "drop"},
                                                              "match": {"recipient": "portal"}, "times": 1})
    assert rule.status_code == 201, rule.text
    answer = await _reset(own)
    assert answer["scope"] == "all"
    assert answer["services"]["shep_gateway"]["rows"]["scenarios"] == 1
    assert set(answer["services"]) == {*MEMBERS, "shep_gateway"}
    assert all(s["ready"] for s in answer["services"].values()), answer
    assert answer["durationMs"] > 0  # what `make bench`-style measuring reads; the test asserts no timing
    await _everything_ready(own)
    for service, table in (("portal", "account"), ("portal", "tracked_case"), ("mio_workstation", "application"),
                           ("mio_workstation", "number_counter"), ("mio_workstation", "district_mode"),
                           ("shep_gateway", "message_log")):
        assert await _count(own, service, table) == 0, (service, table)
    async with own.client("shep_gateway") as gateway:  # the whole mesh's journal, every service's part empty
        journal = (await gateway.get("/admin/journal/count")).json()
    assert journal["count"] == 0, [(x["service"], x.get("entries")) for x in journal["sources"]]
    async with own.client("shep_gateway") as gateway:
        assert (await gateway.get("/admin/scenarios")).json()["scenarios"] == []
        assert (await gateway.get("/admin/chaos/rules")).json()["rules"] == []
    assert await _count(own, "gbd_fl", "person", "origin != 'seed'") == 0
    assert await _count(own, "gbd_fl", "person", "claimed_at IS NOT NULL") == 0
    async with own.client("gbd_fl") as gbd:
        put_back = (await gbd.get(f"/admin/people/{first.iin}")).json()
    assert put_back["address"] == seeded["address"] != "changed by a test", "a changed seeded person as seeded"
    assert await _count(own, "mio_workstation", "staff_account") > 0, "staff and their certificates are kept"
    async with own.client("shep_gateway") as gateway:
        clock = (await gateway.get("/clock")).json()
    assert clock["state"]["anchor_mesh"] == clock["state"]["anchor_real"], "the clock is back to real time"
    await own.set_mode("almaty", mode="manual")
    again, _, number_again = await _case(own, "almaty")
    assert again.iin == first.iin, "the same people, claimed in the same order"
    assert number_again == number, "application numbers start again"
    async with own.client("shep_gateway") as gateway:
        verified = (await gateway.get("/log/verify")).json()
    assert verified["ok"] is True, verified
    assert await _count(own, "portal", "tracked_case", "correlation_id = ?", correlation_id) == 0


async def test_a_scoped_reset_touches_only_its_citizen_or_district(own: InProcessMesh):
    await _reset(own)
    for district in ("almaty", "kyzylorda"):
        await own.set_mode(district, mode="manual")
    one, _, one_number = await _case(own, "almaty")
    other, _, other_number = await _case(own, "almaty")
    far, _, far_number = await _case(own, "kyzylorda")

    answer = await _reset(own, iin=one.iin)
    assert answer["scope"] == "iin"
    assert answer["services"]["mio_workstation"]["rows"]["application"] == 1
    assert await _count(own, "mio_workstation", "application", "number = ?", one_number) == 0
    assert await _count(own, "portal", "account", "iin = ?", one.iin) == 0
    assert await _count(own, "portal", "tracked_case", "applicant_iin = ?", one.iin) == 0
    assert await _count(own, "gbd_fl", "person", "iin = ? AND claimed_at IS NULL", one.iin) == 1, "unclaimed, kept"
    for kept in (other_number, far_number):
        assert await _count(own, "mio_workstation", "application", "number = ?", kept) == 1
    assert await _count(own, "portal", "account", "iin IN (?, ?)", other.iin, far.iin) == 2

    answer = await _reset(own, district="almaty")
    assert answer["scope"] == "district"
    assert await _count(own, "mio_workstation", "application", "district = 'almaty'") == 0
    assert await _count(own, "mio_workstation", "number_counter", "district = 'almaty'") == 0
    assert await _count(own, "portal", "tracked_case", "district = 'almaty'") == 0
    assert await _count(own, "mio_workstation", "application", "number = ?", far_number) == 1
    assert await _count(own, "portal", "account", "iin = ?", other.iin) == 1, "an account is a citizen's, kept"

    answer = await _reset(own, service="mio_workstation")
    assert set(answer["services"]) == {"mio_workstation"}
    assert await _count(own, "mio_workstation", "application") == 0
    assert await _count(own, "portal", "tracked_case", "applicant_iin = ?", far.iin) == 1, "the portal untouched"


async def test_bad_resets_are_refused_with_their_own_code_and_change_nothing(own: InProcessMesh):
    await _reset(own)
    await own.set_mode("almaty", mode="manual")
    await _case(own, "almaty")
    reset: MeshReset = own.app("shep_gateway").state.mesh_reset
    async with reset.exclusive():  # a reset is running
        running = await _post(own, "shep_gateway", "/admin/mesh/reset")
        restoring = await _post(own, "shep_gateway", "/admin/snapshots", {"name": "while-resetting"})
    assert (running.status_code, running.json()["code"]) == (409, "RESET_RUNNING")
    assert (restoring.status_code, restoring.json()["code"]) == (409, "RESET_RUNNING")
    unknown = await _post(own, "shep_gateway", "/admin/snapshots/no-such-snapshot/restore")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "SNAPSHOT_NOT_FOUND")
    service = await _post(own, "shep_gateway", "/admin/mesh/reset", {"service": "nobody"})
    assert (service.status_code, service.json()["code"]) == (422, "RESET_SCOPE_UNKNOWN")
    two = await _post(own, "shep_gateway", "/admin/mesh/reset", {"iin": "850701300007", "district": "almaty"})
    assert (two.status_code, two.json()["code"]) == (422, "REQUEST_INVALID")
    async with own.client("portal") as portal:
        misfit = await portal.put("/admin/state/snapshot", json={"service": "portal", "tables": {"nope": []}})
        foreign = await portal.put("/admin/state/snapshot", json={"service": "gbd_fl", "tables": {}})
    assert (misfit.status_code, misfit.json()["code"]) == (422, "SNAPSHOT_INVALID")
    assert (foreign.status_code, foreign.json()["code"]) == (422, "SNAPSHOT_INVALID")
    assert await _count(own, "mio_workstation", "application") == 1, "nothing changed"
    assert await _count(own, "portal", "account") == 1, "nothing changed"


async def test_a_snapshot_taken_then_restored_brings_the_same_cases_back(own: InProcessMesh):
    await _reset(own)
    await own.set_mode("almaty", mode="manual")
    person, correlation_id, number = await _case(own, "almaty")
    taken = await _post(own, "shep_gateway", "/admin/snapshots", {"name": "one-case"})
    assert taken.status_code == 200, taken.text
    assert taken.json()["rows"]["mio_workstation"]["application"] == 1
    async with own.client("shep_gateway") as gateway:
        archive = (await gateway.get("/admin/snapshots/one-case")).json()
        stored = await gateway.put("/admin/snapshots/from-file", json=archive)  # as a file imported would be
    assert stored.status_code == 200, stored.text
    await _reset(own)
    assert await _count(own, "mio_workstation", "application") == 0
    restored = await _post(own, "shep_gateway", "/admin/snapshots/from-file/restore")
    assert restored.status_code == 200, restored.text
    assert all(s["ready"] for s in restored.json()["services"].values())
    async with own.client("mio_workstation") as mio:
        application = (await mio.get(f"/applications/{number}")).json()
    assert (application["number"], application["applicantIin"]) == (number, person.iin)
    assert await _count(own, "portal", "tracked_case", "correlation_id = ?", correlation_id) == 1
    assert await _count(own, "gbd_fl", "person", "iin = ? AND claimed_at IS NOT NULL", person.iin) == 1
    token = await own.citizen_session(person)  # the account is back: the citizen logs in again
    async with own.client("portal") as portal:
        cases = (await portal.get(f"/citizens/{person.iin}/applications", headers=bearer(token))).json()
    assert [c["applicationNumber"] for c in cases["applications"]] == [number]


async def test_the_clock_refuses_to_leave_the_certificates_validity_unless_forced(own: InProcessMesh):
    await _reset(own)
    async with own.client("shep_gateway") as gateway:
        before = (await gateway.get("/clock")).json()["state"]
        beyond = await gateway.post("/admin/clock", json={"advanceSeconds": 400 * 86400})  # leaves are 365 days
        assert (beyond.status_code, beyond.json()["code"]) == (409, "CLOCK_OUTSIDE_VALIDITY")
        assert "expires" in beyond.json()["message"]
        assert "force" in beyond.json()["message"]
        assert (await gateway.get("/clock")).json()["state"] == before, "nothing changed"
        forced = await gateway.post("/admin/clock", json={"advanceSeconds": 400 * 86400, "force": True})
        assert forced.status_code == 200, forced.text
        back = await gateway.post("/admin/clock", json={"reset": True})
        assert back.status_code == 200, back.text
    await own.advance_clock(seconds=1)  # every service has followed the reset before we look at readiness
    await _everything_ready(own)


async def test_a_clock_reset_after_certificates_issued_ahead_leaves_none_not_yet_valid(own: InProcessMesh):
    """Before: 98 certificates «not yet valid» after ``meshctl clock --reset``: a citizen made ahead could not log
    in."""
    await _reset(own)
    real_now = dt.datetime.now(dt.UTC).isoformat()
    async with own.client("nuc_pki") as nuc:
        before = (await nuc.get("/admin/certificates/not-yet-valid", params={"at": real_now})).json()["count"]
        await own.advance_clock(seconds=30 * 86400)
        ahead = await own.person(district="zhezkazgan")  # signing and authentication, issued a month ahead
        answer = await own.advance_clock(reset=True)
        after = (await nuc.get("/admin/certificates/not-yet-valid", params={"at": answer["now"]})).json()["count"]
    assert answer["warnings"] == []
    assert after == before == 0
    assert await own.citizen_session(ahead), "the citizen made ahead logs in at real time"

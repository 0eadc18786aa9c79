"""A registry testers cannot break by accident: granting adds and never removes; any entry, or the whole seed,
can be put back to the seed's version through the admin API.

Before: the README's own-member snippet replaced ``gbdfl.person-by-iin`` to add one caller, dropping ``shep``;
every application without a district then failed ``Server.RouteLookupDenied`` until someone restored it by hand.
"""

from __future__ import annotations

import asyncio
from typing import Any

from meshkit.members import enroll, grant, unique_id
from shared.pki.signing import certificate_pem
from tests.support.inprocess import InProcessMesh
from tests.usecases.helpers import apply, final_case

LOOKUP = "gbdfl.person-by-iin"


async def _service(mesh: InProcessMesh, service_id: str) -> dict[str, Any]:
    async with mesh.client("shep_gateway") as gateway:
        services = (await gateway.get("/services")).json()["services"]
    return next(s for s in services if s["id"] == service_id)


async def _reset(mesh: InProcessMesh, **body: str) -> tuple[int, dict[str, Any]]:
    async with mesh.client("shep_gateway") as gateway:
        reply = await gateway.post("/admin/registry/reset", json=body)
    return reply.status_code, reply.json()


async def test_granting_yourself_a_shipped_service_keeps_everyone_elses_rights(inproc: InProcessMesh,
                                                                              member_factory):
    await _reset(inproc, kind="service", id=LOOKUP)  # other tests of this session granted it to their members
    seeded = await _service(inproc, LOOKUP)
    me = await member_factory("tester")
    # the README's call, as it stands
    after = await grant(inproc, service_id=LOOKUP, channel="sync", providers=["gbdfl"], callers=[me.member_id])
    assert after["callers"] == [*seeded["callers"], me.member_id], "added, nothing dropped"
    assert (after["title"], after["providers"]) == (seeded["title"], seeded["providers"]), "nothing renamed"
    answer = await me.runtime.request(service_id=LOOKUP, data={"iin": "850701300007"}, timeout_s=10)
    assert answer.envelope.data["found"] is False

    await inproc.set_mode("almaty")
    person = await inproc.person(district="almaty")
    token = await inproc.citizen_session(person)
    sent = await apply(inproc, person, token)  # no district: the gateway looks the address up in ГБД ФЛ
    assert (await final_case(inproc, person, token, sent["correlationId"]))["status"] == "COMPLETED"

    status, reset = await _reset(inproc, kind="service", id=LOOKUP)
    assert status == 200
    assert [(r["kind"], r["id"], r["was"]["callers"]) for r in reset["reset"]] == [("service", LOOKUP,
                                                                                     after["callers"])]
    assert (await _service(inproc, LOOKUP))["callers"] == seeded["callers"]


async def test_a_grant_that_would_change_how_a_service_is_reached_is_refused_and_changes_nothing(
        inproc: InProcessMesh):
    before = await _service(inproc, LOOKUP)
    async with inproc.client("shep_gateway") as gateway:
        conflict = await gateway.post(f"/admin/services/{LOOKUP}/grant", json={"channel": "async", "callers": ["x"]})
        missing = await gateway.post("/admin/services/test.nothing-here/grant", json={"callers": ["x"]})
        unknown = await gateway.post(f"/admin/services/{LOOKUP}/grant", json={"providers": ["nobody.at-all"]})
    assert (conflict.status_code, conflict.json()["code"]) == (409, "GRANT_CONFLICT")
    assert (missing.status_code, missing.json()["code"]) == (404, "SERVICE_NOT_FOUND")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "MEMBER_NOT_FOUND")
    assert await _service(inproc, LOOKUP) == before


async def test_the_whole_registry_goes_back_to_its_seed_and_says_what_it_kept(inproc: InProcessMesh,
                                                                             member_factory):
    me = await member_factory("tester")
    own = await grant(inproc, service_id=f"test.{me.member_id}", channel="async", providers=[me.member_id])
    await grant(inproc, service_id="employment.job-seeker-registration", callers=[me.member_id])
    async with inproc.client("shep_gateway") as gateway:
        renamed = dict(await _service(inproc, LOOKUP)) | {"title": "renamed by a tester"}
        renamed = {k: v for k, v in renamed.items() if k in ("id", "title", "channel", "providers", "routeBy",
                                                             "callers", "notify")}
        assert (await gateway.put(f"/admin/services/{LOOKUP}", json=renamed)).status_code == 200

    status, reset = await _reset(inproc)
    assert status == 200
    assert {("service", LOOKUP), ("service", "employment.job-seeker-registration")} <= \
        {(r["kind"], r["id"]) for r in reset["reset"]}
    assert {"kind": "service", "id": own["id"]} in reset["notInSeed"], "a tester's own service is kept, and listed"
    assert {"kind": "member", "id": me.member_id} in reset["notInSeed"]
    assert (await _service(inproc, LOOKUP))["title"] != "renamed by a tester"
    assert me.member_id not in (await _service(inproc, "employment.job-seeker-registration"))["callers"]
    assert (await _service(inproc, own["id"]))["providers"] == [me.member_id]
    assert await _reset(inproc) == (200, {"reset": [], "notInSeed": reset["notInSeed"]}), "nothing left to reset"


async def test_only_seed_entries_can_be_reset(inproc: InProcessMesh):
    assert (await _reset(inproc, kind="service", id="test.never-seeded"))[1]["code"] == "NOT_IN_SEED"
    status, body = await _reset(inproc, kind="service")
    assert (status, body["code"]) == (422, "REQUEST_INVALID")


async def test_a_certificate_pinned_while_the_registry_reloads_is_not_forgotten(inproc: InProcessMesh):
    """Seen under a CPU hog: ИС МИО joined a district (a registry reload) while ГБД ФЛ pinned its new certificate;
    the reload put back the pins it had read just before, and ГБД ФЛ's answers were refused
    ``Client.CertificateNotRegistered`` until the next reload."""
    book = inproc.app("shep_gateway").state.gateway.book

    async def reload_until(stop: asyncio.Event) -> None:
        while not stop.is_set():
            await book.load_registry()

    for _ in range(5):
        enrolled = await enroll(inproc, member_id=unique_id("racer"), register=False)
        async with inproc.client("shep_gateway") as gateway:
            (await gateway.put(f"/admin/members/{enrolled.member_id}", json={
                "id": enrolled.member_id, "name": "racer", "kind": "test", "organisation": "ТОО «Гонка»",
                "bin": enrolled.bin})).raise_for_status()
            stop = asyncio.Event()
            reloads = asyncio.create_task(reload_until(stop))
            pinned = await gateway.put(f"/admin/members/{enrolled.member_id}/certificate", json={
                "certificatePem": certificate_pem(enrolled.identity.certificate)})
            stop.set()
            await reloads  # the reload in flight when the pin was made finishes
        assert pinned.status_code == 200, pinned.text
        assert pinned.json()["serial"] in book.pinned(enrolled.member_id)

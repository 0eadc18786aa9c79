"""Every service answers /health, /ready and serves OpenAPI; the gateway's metaservices and the mesh clock."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from meshkit.mesh_runner import SERVICES, MeshConfig, MeshRunner
from meshkit.ports import free_port
from tests.support.mesh import ADMIN_TOKEN, KEY_PASSPHRASE

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
async def test_health_ready_and_openapi(mesh, spec):
    async with mesh.client() as http:
        base = mesh.url(spec.name)
        assert (await http.get(f"{base}/health")).json() == {"status": "alive"}
        ready = await http.get(f"{base}/ready")
        assert ready.status_code == 200
        assert set(ready.json()["checks"].values()) == {"ok"}
        openapi = (await http.get(f"{base}/openapi.json")).json()
        assert openapi["paths"]
        assert "/ready" in openapi["paths"]


def test_ready_is_503_with_the_reason_until_dependencies_answer(tmp_path, rabbit):
    dead = free_port()
    config = MeshConfig(var_dir=tmp_path, amqp_url=rabbit.amqp_url, admin_token=ADMIN_TOKEN,
                        key_passphrase=KEY_PASSPHRASE, mesh_env="test",
                        ports={"portal": free_port(), "nuc_pki": dead, "shep_gateway": dead})
    runner = MeshRunner(config, only=["portal"])
    runner.start()
    try:
        for _ in range(100):
            try:
                reply = httpx.get(f"{config.url('portal')}/ready", timeout=2)
            except httpx.HTTPError:
                time.sleep(0.1)
                continue
            if reply.json()["checks"].get("trust", "").startswith("waiting"):
                break
            time.sleep(0.1)
        assert reply.status_code == 503
        assert reply.json()["ready"] is False
        assert reply.json()["checks"]["database"] == "ok"
        assert "ConnectError" in reply.json()["checks"]["trust"]
        assert reply.json()["checks"]["broker"] == "pending", "its broker login comes from the gateway, later"
        assert httpx.get(f"{config.url('portal')}/health", timeout=2).status_code == 200
    finally:
        runner.stop()


async def test_members_are_registered_with_their_pinned_certificates(mesh):
    async with mesh.client() as http:
        members = {m["id"]: m for m in (await http.get(f"{mesh.gateway}/members")).json()["members"]}
        mio = (await http.get(f"{mesh.url('mio_workstation')}/mesh")).json()
    for member_id in ("shep", "portal", "con", "gbdfl", "mio.almaty", "mio.mamlyut", "mio.zhezkazgan"):
        assert members[member_id]["certificates"], member_id
    pinned = {c["serial"] for c in members["mio.almaty"]["certificates"]}
    served = {m["memberId"]: m["certificateSerial"] for m in mio["members"]}
    assert served["mio.almaty"] in pinned
    assert len(served) == 6


async def test_services_metaservice_says_what_a_caller_may_use(mesh):
    async with mesh.client() as http:
        everything = (await http.get(f"{mesh.gateway}/services")).json()["services"]
        portal = (await http.get(f"{mesh.gateway}/services", params={"caller": "portal"})).json()["services"]
        gbdfl = (await http.get(f"{mesh.gateway}/services", params={"caller": "gbdfl"})).json()["services"]
        unknown = await http.get(f"{mesh.gateway}/services", params={"caller": "nobody"})
    ids = {s["id"] for s in portal}
    assert {"gbdfl.person-by-iin", "employment.unemployed-certificate"} <= ids
    assert "employment.unemployed-registration" not in ids  # office only in the regulations
    assert [s["id"] for s in gbdfl if not s["id"].startswith("test.")] == []  # other tests add their own
    assert len(everything) >= len(portal)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "MEMBER_NOT_FOUND")


async def test_the_clock_is_set_mesh_wide(mesh):
    async with mesh.client() as http:
        refused = await http.post(f"{mesh.gateway}/admin/clock", json={"advanceSeconds": 60})
        assert (refused.status_code, refused.json()["code"]) == (401, "ADMIN_TOKEN_MISSING")
        bad = await http.post(f"{mesh.gateway}/admin/clock", headers=mesh.admin, json={})
        assert bad.json()["code"] == "REQUEST_INVALID"
        before = (await http.get(f"{mesh.gateway}/clock")).json()
        after = (await http.post(f"{mesh.gateway}/admin/clock", headers=mesh.admin,
                                 json={"advanceSeconds": 120, "speed": 2})).json()
        try:
            version = after["state"]["version"]
            assert version > before["state"]["version"]
            assert after["state"]["speed"] == 2
            for name in ("portal", "con_operator", "mio_workstation", "gbd_fl"):
                for _ in range(50):
                    state = (await http.get(f"{mesh.url(name)}/mesh")).json()["clock"]["state"]
                    if state["version"] == version:
                        break
                    await asyncio.sleep(0.1)
                assert state == after["state"], name
        finally:
            reset = (await http.post(f"{mesh.gateway}/admin/clock", headers=mesh.admin, json={"reset": True})).json()
        assert reset["state"]["speed"] == 1


async def test_certificate_registration_refuses_what_is_not_the_members(mesh):
    async with mesh.client() as http:
        portal_cert = (await http.get(f"{mesh.nuc}/certificates", params={"memberId": "portal"},
                                      headers=mesh.admin)).json()["certificates"][-1]["certificatePem"]
        not_pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"
        garbage = await http.put(f"{mesh.gateway}/admin/members/con/certificate", headers=mesh.admin,
                                 json={"certificatePem": not_pem})
        foreign = await http.put(f"{mesh.gateway}/admin/members/con/certificate", headers=mesh.admin,
                                 json={"certificatePem": portal_cert})
        missing = await http.put(f"{mesh.gateway}/admin/members/nobody/certificate", headers=mesh.admin,
                                 json={"certificatePem": portal_cert})
        members = {m["id"]: m for m in (await http.get(f"{mesh.gateway}/members")).json()["members"]}
    assert (garbage.status_code, garbage.json()["code"]) == (422, "CERTIFICATE_MALFORMED")
    assert (foreign.status_code, foreign.json()["code"]) == (422, "Client.CertificateNotForSender")
    assert (missing.status_code, missing.json()["code"]) == (404, "MEMBER_NOT_FOUND")
    assert all(c["serial"] not in portal_cert for c in members["con"]["certificates"])


async def test_a_clock_jump_beyond_the_ocsp_skew_reaches_every_service(mesh):
    """The services check the gateway's clock broadcast without waiting on OCSP, whose freshness the clock itself
    judges: a jump of more than the five-minute OCSP skew must still be adopted everywhere."""
    async with mesh.client() as http:
        moved = (await http.post(f"{mesh.gateway}/admin/clock", headers=mesh.admin,
                                 json={"advanceSeconds": 3 * 3600})).json()["state"]
        try:
            for name in ("portal", "con_operator", "mio_workstation", "gbd_fl"):
                for _ in range(50):
                    state = (await http.get(f"{mesh.url(name)}/mesh")).json()["clock"]["state"]
                    if state == moved:
                        break
                    await asyncio.sleep(0.1)
                assert state == moved, name
        finally:
            await http.post(f"{mesh.gateway}/admin/clock", headers=mesh.admin, json={"reset": True})

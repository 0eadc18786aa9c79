"""Certificate validity is judged on the mesh clock: move it past a member's certificate and the gateway
refuses that member's messages as expired. Runs on its own mesh, since every certificate expires."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from meshkit.soap import enroll_soap
from shared.mesh.envelope import MessageType
from shared.mesh.soap_channels import SYNC_TYPES
from shared.mesh.topology import DEAD_QUEUE, H_REFUSAL_CODE
from shared.pki.xmldsig import parse_xml
from tests.support.members import enroll, grant, start_member, unique_id
from tests.support.mesh import MeshHandle, private_mesh

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def clock_mesh(tmp_path_factory: pytest.TempPathFactory):
    with private_mesh(tmp_path_factory, name="clock", only=["nuc_pki", "shep_gateway"]) as handle:
        yield handle


async def test_a_certificate_expired_on_the_mesh_clock_is_refused(clock_mesh: MeshHandle, tmp_path: Path):
    caller = await start_member(clock_mesh, await enroll(clock_mesh, member_id=unique_id("caller")), db_dir=tmp_path)
    provider = await start_member(clock_mesh, await enroll(clock_mesh, member_id=unique_id("provider")),
                                  db_dir=tmp_path)
    service = unique_id("test.expiry")
    await grant(clock_mesh, service_id=service, channel="async", providers=[provider.member_id],
                callers=[caller.member_id])
    try:
        first = await caller.send(service_id=service, message_type=MessageType.REQUEST, data={})
        await provider.wait_for(lambda i: str(i.envelope.message_id) == first["messageId"])
        async with httpx.AsyncClient() as http:
            moved = await http.post(f"{clock_mesh.gateway}/admin/clock", headers=clock_mesh.admin,
                                    json={"advanceSeconds": 400 * 86400, "force": True})  # past them on purpose
            assert moved.status_code == 200
            late = await caller.send(service_id=service, message_type=MessageType.REQUEST, data={})
            for _ in range(100):
                reply = await http.get(f"{clock_mesh.gateway}/log/{late['messageId']}", headers=clock_mesh.admin)
                if reply.status_code == 200:
                    break
                await asyncio.sleep(0.1)
        record = reply.json()
        assert (record["outcome"], record["errorCode"]) == ("REFUSED", "Client.CertificateExpired")
        assert "expired" in record["errorReason"]
        dead = None
        operator = clock_mesh.new_bus("tests-dead-letters")  # a member may not read the dead-letter queue
        await operator.connect()
        try:
            for _ in range(100):
                dead = await operator.get(queue=DEAD_QUEUE)
                if dead is not None and dead.message_id == late["messageId"]:
                    break
                await asyncio.sleep(0.1)
        finally:
            await operator.close()
        assert dead is not None
        assert dead.headers[H_REFUSAL_CODE] == "Client.CertificateExpired"
        await asyncio.sleep(0.3)
        assert not provider.got(late["messageId"])
    finally:
        async with httpx.AsyncClient() as http:
            await http.post(f"{clock_mesh.gateway}/admin/clock", headers=clock_mesh.admin, json={"reset": True})
        await caller.close()
        await provider.close()


async def test_a_soap_call_signed_with_a_certificate_expired_on_the_mesh_clock_is_a_fault(clock_mesh: MeshHandle):
    """The same rule at ШЭП's SOAP door (docs/soap.md): the WS-Security signature's certificate, judged on the mesh
    clock, expired — a SOAP fault, Client.CertificateExpired, nothing published."""
    member = await enroll_soap(clock_mesh, member_id=unique_id("soap-expiring"))
    call = member.sync_call(service_id="gbdfl.person-by-iin", data={"iin": "880101300123"})
    try:
        async with httpx.AsyncClient() as http:
            moved = await http.post(f"{clock_mesh.gateway}/admin/clock", headers=clock_mesh.admin,
                                    json={"advanceSeconds": 400 * 86400, "force": True})
            assert moved.status_code == 200
            reply = await http.post(member.sync_url, content=call, headers={"Content-Type": "text/xml"})
        code = parse_xml(reply.content).findtext(f".//{{{SYNC_TYPES}}}SendMessageFault1_SendMessageFault/errorCode")
        assert (reply.status_code, code) == (500, "Client.CertificateExpired")
    finally:
        async with httpx.AsyncClient() as http:
            await http.post(f"{clock_mesh.gateway}/admin/clock", headers=clock_mesh.admin, json={"reset": True})

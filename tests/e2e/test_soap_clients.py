"""ШЭП's SOAP channels proven with independent stacks against real processes (issue 21; docs/soap.md): a client
``zeep`` generates from the gateway's own WSDL, signing with libxmlsec1 (python-xmlsec) — WS-Security made by that
stack, not ours — calls ГБД ФЛ's person look-up through SyncChannel, and checks the gateway's signature on the answer
with the same stack. So does a client in another language: Node.js, npm's ``soap`` from the same WSDL, signing with
its ``WSSecurityCert`` (xml-crypto) and checking the gateway's signature with xml-crypto (``soap_node/client.js``).

node and npm come from Debian when missing (deploy/ensure-system-deps.sh, as root; otherwise the test fails, it is
not skipped); the client's packages, pinned in soap_node/package.json and package-lock.json, are installed by
``npm ci`` into a temporary copy of that directory — nothing is written into the checkout."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from zeep.exceptions import Fault

from meshkit.members import grant, unique_id
from meshkit.mesh_runner import REPO_ROOT
from meshkit.soap import SoapMember, enroll_soap
from meshkit.soap_call import sync_request, zeep_client
from tests.support.checkout import Checkout
from tests.support.docs_pages import page_block
from tests.support.mesh import MeshHandle

pytestmark = pytest.mark.e2e
PERSON_BY_IIN = "gbdfl.person-by-iin"
NODE_CLIENT = Path(__file__).parent / "soap_node"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"


@pytest.fixture(scope="module")
async def soap_member(mesh: MeshHandle) -> SoapMember:
    member = await enroll_soap(mesh, member_id=unique_id("soap-zeep"))
    await grant(mesh, service_id=PERSON_BY_IIN, callers=[member.member_id])
    return member


async def claimed_iin(mesh: MeshHandle) -> str:
    """A ГБД ФЛ person no other test uses."""
    async with mesh.client() as http:
        reply = await http.post(f"{mesh.url('gbd_fl')}/admin/people/claim", headers=mesh.admin,
                                json={"district": "almaty"})
    assert reply.status_code in (200, 201), reply.text
    return str(reply.json()["iin"])


async def test_a_zeep_client_from_the_wsdl_looks_a_person_up_through_sync_channel(mesh, soap_member, tmp_path):
    iin = await claimed_iin(mesh)
    soap_member.write(tmp_path)  # key.pem, cert.pem, gateway.pem: what zeep signs and checks with
    client, _history = zeep_client(f"{soap_member.sync_url}?wsdl", tmp_path)
    answer = client.service.SendMessage(request=sync_request(
        member=soap_member.member_id, password=soap_member.password, service_id=PERSON_BY_IIN, data={"iin": iin}))
    assert answer.responseInfo.status.code == "SCSS001"
    assert json.loads(answer.responseData.data)["person"]["iin"] == iin
    with pytest.raises(Fault) as refused:  # a refusal is a SOAP fault zeep reads, with the mesh's code
        client.service.SendMessage(request=sync_request(member=soap_member.member_id, password="not-the-password-0123",
                                                        service_id=PERSON_BY_IIN, data={"iin": iin}))
    assert refused.value.code == "soap:Client"
    assert "Client.SoapAuthFailed" in refused.value.message


# ---- Node.js: npm's soap ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def node_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """soap_node/client.js in a temporary copy of its directory, its pinned packages installed there by npm ci."""
    deps = subprocess.run([str(REPO_ROOT / "deploy" / "ensure-system-deps.sh"), "nodejs", "npm"],
                          capture_output=True, text=True, check=False)
    assert deps.returncode == 0, f"node and npm are needed for the Node.js SOAP client: {deps.stderr}"
    npm = shutil.which("npm")
    assert npm, "npm is not on PATH"
    directory = tmp_path_factory.mktemp("soap_node")
    for name in ("package.json", "package-lock.json", "client.js"):
        shutil.copyfile(NODE_CLIENT / name, directory / name)
    installed = subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=directory,
                               capture_output=True, text=True, timeout=600, check=False)
    assert installed.returncode == 0, installed.stderr[-4000:]
    for package, pinned in json.loads((directory / "package.json").read_text())["dependencies"].items():
        running = json.loads((directory / "node_modules" / package / "package.json").read_text())["version"]
        assert running == pinned, package
    return directory / "client.js"


@pytest.fixture(scope="module")
async def node_member(mesh: MeshHandle) -> SoapMember:
    member = await enroll_soap(mesh, member_id=unique_id("soap-node"))
    await grant(mesh, service_id=PERSON_BY_IIN, callers=[member.member_id])
    return member


async def node_call(client: Path, member: SoapMember, directory: Path, *, iin: str,
                    password: str | None = None) -> dict[str, Any]:
    """One SendMessage by the Node.js client; the JSON line it prints (what it sent, what came back, whether the
    gateway's signature verified)."""
    node = shutil.which("node")
    assert node, "node is not on PATH"
    member.write(directory)
    key, certificate, gateway = directory / "key.pem", directory / "cert.pem", directory / "gateway.pem"
    process = await asyncio.create_subprocess_exec(
        node, str(client), "--wsdl", f"{member.sync_url}?wsdl", "--sender-id", member.member_id,
        "--password", password or member.password, "--iin", iin, "--service-id", PERSON_BY_IIN,
        "--key", str(key), "--cert", str(certificate), "--gateway-cert", str(gateway),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    lines = out.decode().splitlines()
    assert (process.returncode, len(lines)) == (0, 1), out.decode() + err.decode()
    return dict(json.loads(lines[0]))


async def test_a_node_soap_client_from_the_wsdl_looks_a_person_up_through_sync_channel(mesh, node_member,
                                                                                      node_client, tmp_path):
    iin = await claimed_iin(mesh)
    answer = await node_call(node_client, node_member, tmp_path, iin=iin)
    sent = answer["sent"]  # node-soap's own WS-Security: the Body and a Timestamp, the certificate as a token
    assert (sent["signatureMethod"], sent["digestMethods"]) == (RSA_SHA256, [SHA256])
    assert (sent["binarySecurityToken"], sent["timestamp"], len(sent["references"])) == (True, True, 2)
    assert answer["outcome"] == "answered", answer
    assert answer["parsed"]["code"] == answer["signed"]["code"] == "SCSS001"
    assert answer["signed"]["data"]["person"]["iin"] == iin
    assert json.loads(answer["parsed"]["data"]) == answer["signed"]["data"]
    assert answer["gatewaySignature"]["verified"]
    assert answer["gatewaySignature"]["keyIdentifierIsThePinnedCertificate"]
    refused = await node_call(node_client, node_member, tmp_path, iin=iin, password="not-the-password-0123")
    assert refused["outcome"] == "fault", refused  # a SOAP fault node-soap reads, with the mesh's code
    assert refused["parsed"]["faultcode"] == refused["signed"]["faultcode"] == "soap:Client"
    assert "Client.SoapAuthFailed" in refused["parsed"]["faultstring"]
    assert refused["signed"]["errorCode"] == "Client.SoapAuthFailed"
    assert refused["gatewaySignature"]["verified"]  # the fault is the gateway's too


def test_the_soap_page_runs_as_written(mesh: MeshHandle, tmp_path: Path):
    """docs/soap.md's block, verbatim, in a checkout laid out as `make run` leaves one: enrol, then both channels."""
    out = Checkout.of(tmp_path, mesh).bash(page_block("docs/soap.md", "meshctl soap enrol"), timeout_s=400)
    assert '"status": "SCSS001"' in out
    assert "sendMessageResponse" in out
    assert (tmp_path / "var" / "soap" / "portal.my-system" / "gateway.pem").exists()

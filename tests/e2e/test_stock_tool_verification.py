"""Signatures made by the mesh verify with a stock third-party tool: ``openssl cms -verify``."""

from __future__ import annotations

import base64
import datetime as dt
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from services.nuc_pki.domain import crl_urls
from services.shep_gateway.domain import record_content
from shared.mesh.envelope import MessageType
from shared.pki.canonical import signed_content
from tests.support.members import grant, unique_id

pytestmark = pytest.mark.e2e


def _openssl() -> str:
    found = shutil.which("openssl")
    assert found, "openssl is required for this test (make test installs it)"
    return found


def _verify(*, workdir: Path, content: bytes, signature_b64: str, mesh) -> subprocess.CompletedProcess[str]:
    (workdir / "content.bin").write_bytes(content)
    (workdir / "signature.p7s").write_bytes(base64.b64decode(signature_b64))
    (workdir / "nuc-chain.pem").write_text(httpx.get(f"{mesh.nuc}/ca/chain.pem").text)
    command = [_openssl(), "cms", "-verify", "-binary", "-inform", "DER", "-in", "signature.p7s",
               "-content", "content.bin", "-CAfile", "nuc-chain.pem", "-out", "/dev/null"]
    return subprocess.run(command, cwd=workdir, capture_output=True, text=True, check=False)


async def test_envelope_signature_verifies_with_openssl(mesh, member_factory, tmp_path):
    member = await member_factory("signer")
    wire = member.runtime.composer.compose(service_id="test.anything", message_type=MessageType.REQUEST,
                                           data={"ФИО": "Тестов Тест", "amount": 12.5})
    good = _verify(workdir=tmp_path, content=signed_content(wire), signature_b64=wire["signature"], mesh=mesh)
    assert good.returncode == 0, good.stderr
    assert "Verification successful" in good.stderr

    tampered = {**wire, "data": {**wire["data"], "amount": 1000}}
    bad = _verify(workdir=tmp_path, content=signed_content(tampered), signature_b64=wire["signature"], mesh=mesh)
    assert bad.returncode != 0
    assert "Verification failure" in bad.stderr


async def test_gateway_log_record_signature_verifies_with_openssl(mesh, member_factory, tmp_path):
    caller, provider = await member_factory("caller"), await member_factory("provider")
    service = unique_id("test.logged")
    await grant(mesh, service_id=service, channel="async", providers=[provider.member_id], callers=[caller.member_id])
    sent = await caller.send(service_id=service, message_type=MessageType.REQUEST, data={})
    await provider.wait_for(lambda i: str(i.envelope.message_id) == sent["messageId"])
    async with mesh.client() as http:
        record = (await http.get(f"{mesh.gateway}/log/{sent['messageId']}", headers=mesh.admin)).json()
    result = _verify(workdir=tmp_path, content=record_content(record), signature_b64=record["signature"], mesh=mesh)
    assert result.returncode == 0, result.stderr


async def test_a_citizens_certificate_passes_openssl_verify_with_every_crl_of_its_chain(mesh, tmp_path):
    """``openssl verify -crl_check_all`` checks the CRL of every certificate in the chain: the leaf's (the
    issuing CA's CRL) and the issuing CA's (the root's CRL). Each is fetched from where its certificate says.
    Verified at the mesh's time (``-attime``), as any verifier of the mesh's documents must: the session's mesh may
    be days ahead of this machine after a test settled it, and its CRLs are issued on its clock."""
    async with mesh.client() as http:
        issued = (await http.post(f"{mesh.nuc}/certificates/individual", headers=mesh.admin, json={
            "iin": "900101300017", "surname": "Тестов", "name": "Тест", "pkcs12Password": "secret-1"})).json()
        leaf = x509.load_pem_x509_certificate(issued["signing"]["certificatePem"].encode())
        issuing = x509.load_pem_x509_certificate((await http.get(f"{mesh.nuc}/ca/issuing.pem")).content)
        (tmp_path / "root.pem").write_bytes((await http.get(f"{mesh.nuc}/ca/root.pem")).content)
        (tmp_path / "issuing.pem").write_bytes(issuing.public_bytes(serialization.Encoding.PEM))
        (tmp_path / "leaf.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
        crls = []
        for n, certificate in enumerate((leaf, issuing)):
            [where] = crl_urls(certificate)
            crl = x509.load_der_x509_crl((await http.get(where)).content)
            (tmp_path / f"crl{n}.pem").write_bytes(crl.public_bytes(serialization.Encoding.PEM))
            crls += ["-CRLfile", f"crl{n}.pem"]
        # the mesh's time read after the CRLs were issued: each CRL's thisUpdate is the mesh's time of its issue,
        # and a time read before it may fall a second short ("CRL is not yet valid")
        at = str(int(dt.datetime.fromisoformat((await http.get(f"{mesh.gateway}/clock")).json()["now"]).timestamp()))
    assert crl_urls(issuing) == [f"{mesh.nuc}/ca/root.crl"]
    command = [_openssl(), "verify", "-attime", at, "-crl_check_all", "-CAfile", "root.pem", "-untrusted",
               "issuing.pem", *crls, "leaf.pem"]
    good = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "leaf.pem: OK" in good.stdout

    without_root_crl = [_openssl(), "verify", "-attime", at, "-crl_check_all", "-CAfile", "root.pem", "-untrusted",
                        "issuing.pem", "-CRLfile", "crl0.pem", "leaf.pem"]
    missing = subprocess.run(without_root_crl, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert missing.returncode != 0, "the check really needs the issuing CA's CRL (the root's)"

"""A stock tool's reading of the mesh's signatures: ``openssl cms -verify`` against НУЦ's published chain."""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

import httpx


def cms_verify(nuc_url: str, workdir: Path, *, content: bytes, signature_b64: str) -> subprocess.CompletedProcess:
    """Verify a detached CMS signature over ``content`` with openssl; the signer's certificate goes to
    ``workdir/signer.pem`` when it verifies."""
    openssl = shutil.which("openssl")
    assert openssl, "openssl is required (make test installs it)"
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "content.bin").write_bytes(content)
    (workdir / "signature.p7s").write_bytes(base64.b64decode(signature_b64))
    (workdir / "chain.pem").write_text(httpx.get(f"{nuc_url}/ca/chain.pem").text)
    return subprocess.run([openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", "signature.p7s",
                           "-content", "content.bin", "-CAfile", "chain.pem", "-out", "/dev/null", "-certsout",
                           "signer.pem"], cwd=workdir, capture_output=True, text=True, check=False)


def signer_subject(workdir: Path) -> str:
    """The subject (RFC 2253) of the certificate ``cms_verify`` wrote."""
    return subprocess.run(["openssl", "x509", "-in", "signer.pem", "-noout", "-subject", "-nameopt", "RFC2253"],
                          cwd=workdir, capture_output=True, text=True, check=True).stdout

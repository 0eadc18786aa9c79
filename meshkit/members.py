"""Member systems for testers: put one in the gateway registry, give it a НУЦ system certificate, pin it,
and grant it services. Used by the tests, the benchmark and anyone scripting against a running mesh."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from meshkit.private_files import write_private
from shared.ids import make_bin
from shared.mesh.broker_accounts import BrokerLogin, with_login
from shared.mesh.control_clients import fetch_broker_login
from shared.pki.signing import SignerIdentity, load_pem_certificates


class Endpoints(Protocol):
    """Where a mesh's gateway and НУЦ are, and an HTTP client to reach them (real sockets, or the in-process
    mesh's ASGI routes)."""

    @property
    def gateway(self) -> str: ...

    @property
    def nuc(self) -> str: ...

    @property
    def admin(self) -> dict[str, str]: ...

    def client(self) -> httpx.AsyncClient: ...


@dataclass(frozen=True)
class MeshEndpoints:
    gateway: str
    nuc: str
    admin_token: str

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=30)


def random_bin() -> str:
    """A valid synthetic BIN; randomness only avoids collisions between test systems."""
    rng = random.SystemRandom()
    while True:
        value = make_bin(year=rng.randint(2000, 2020), month=rng.randint(1, 12), serial=rng.randint(0, 99999))
        if value:
            return value


def unique_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass
class Enrolled:
    member_id: str
    bin: str
    identity: SignerIdentity
    chain: list[x509.Certificate]
    broker_login: BrokerLogin | None = None  # its own broker account (None: the gateway runs without accounts)
    gateway_certificate: x509.Certificate | None = None  # payloads to the gateway are encrypted to it

    def amqp_url(self, url: str) -> str:
        """``url`` (the mesh's AMQP URL, var/mesh.json's ``amqpUrl``) with this member's own login in it."""
        return with_login(url, self.broker_login)

    async def login(self) -> BrokerLogin | None:
        """As a ``shared.mesh.bus.LoginSource``: ``RabbitBus(url=…, connection_name=…, login=me.login)``."""
        return self.broker_login

    def write(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        write_private(directory / "key.pem", self.identity.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        (directory / "cert.pem").write_bytes(self.identity.certificate.public_bytes(serialization.Encoding.PEM))
        (directory / "chain.pem").write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.chain))


async def enroll(mesh: Endpoints, *, member_id: str, register: bool = True, key_kind: str = "ec",
                 door: str = "amqp", soap_endpoint: str | None = None, district: str | None = None) -> Enrolled:
    """Put a member in the gateway registry (unless ``register`` is False), get its НУЦ certificate, pin it.
    ``key_kind``: ``ec`` (P-256) or ``rsa`` (2048 bits: what SOAP stacks sign WS-Security with); ``door``: ``amqp``
    or ``soap`` (a system that speaks ШЭП's SOAP channels, ``soap_endpoint`` its own AsyncChannel address);
    ``district``: the district it serves (an ИС МИО's stand-in)."""
    bin_ = random_bin()
    organisation = "ТОО «Тестовая система»"
    async with mesh.client() as http:
        if register:
            entry: dict[str, Any] = {"id": member_id, "name": f"test member {member_id}", "kind": "test",
                                     "organisation": organisation, "bin": bin_, "door": door, "district": district}
            reply = await http.put(f"{mesh.gateway}/admin/members/{member_id}", headers=mesh.admin,
                                   json=entry | ({"soapEndpoint": soap_endpoint} if soap_endpoint else {}))
            reply.raise_for_status()
        key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048) if key_kind == "rsa"
            else ec.generate_private_key(ec.SECP256R1()))
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, member_id)])
        csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
        reply = await http.post(f"{mesh.nuc}/certificates/system", headers=mesh.admin, json={
            "memberId": member_id, "organisation": organisation, "bin": bin_,
            "csrPem": csr.public_bytes(serialization.Encoding.PEM).decode()})
        reply.raise_for_status()
        body = reply.json()
        login = None
        if register:
            reply = await http.put(f"{mesh.gateway}/admin/members/{member_id}/certificate", headers=mesh.admin,
                                   json={"certificatePem": body["certificatePem"]})
            reply.raise_for_status()
            if door == "amqp":
                login = await fetch_broker_login(http, gateway=mesh.gateway, headers=mesh.admin, account=member_id)
        gateway = await http.get(f"{mesh.gateway}/certificate")
        gateway.raise_for_status()
    chain = load_pem_certificates(body["chainPem"])
    return Enrolled(member_id=member_id, bin=bin_, chain=chain, broker_login=login, identity=SignerIdentity(
        key=key, certificate=load_pem_certificates(body["certificatePem"])[0], chain=tuple(chain)),
        gateway_certificate=load_pem_certificates(gateway.json()["certificatePem"])[0])


async def grant(mesh: Endpoints, *, service_id: str, channel: str | None = None, providers: list[str] | None = None,
                callers: list[str] | None = None, notify: list[str] | None = None) -> dict[str, Any]:
    """Add providers, callers and notified members to a service — never removing any, so granting yourself a
    shipped service (``gbdfl.person-by-iin``) keeps everyone else's rights. A service that does not exist yet is
    created: give its ``channel`` and a provider. Returns the registry entry as it now is."""
    body: dict[str, Any] = {"channel": channel, "providers": providers or [], "callers": callers or [],
                            "notify": notify or []}
    async with mesh.client() as http:
        reply = await http.post(f"{mesh.gateway}/admin/services/{service_id}/grant", headers=mesh.admin,
                                json={k: v for k, v in body.items() if v is not None} | (
                                    {"title": f"test service {service_id}"} if channel else {}))
        if reply.status_code >= 400:
            raise RuntimeError(f"grant {service_id}: {reply.status_code} {reply.text[:300]}")
        return dict(reply.json()["service"])

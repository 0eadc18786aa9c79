"""Plain-HTTP control plane: a member asking НУЦ for its certificate and the gateway to pin it.

These are the only calls between services that do not go through the gateway, matching how a real
information system is enrolled (certificate from the CA, registration with the gateway's operator).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable

import httpx
from cryptography import x509

from shared.clock import ClockState
from shared.errors import MeshError, RelayedError
from shared.mesh.broker_accounts import BrokerLogin
from shared.pki.signing import load_pem_certificates


def _raise_for(reply: httpx.Response, *, what: str) -> None:
    if reply.status_code < 400:
        return
    try:
        body = reply.json()
        code, message = body.get("code", "HTTP_ERROR"), body.get("message", reply.text)
    except ValueError:
        code, message = "HTTP_ERROR", reply.text[:300]
    raise RelayedError(code, f"{what}: {message}", status=reply.status_code)


class NucClient:
    def __init__(self, *, base_url: str, admin_token: str, http: httpx.AsyncClient) -> None:
        self._base = base_url.rstrip("/")
        self._auth = {"Authorization": f"Bearer {admin_token}"}
        self._http = http

    @property
    def ocsp_url(self) -> str:
        return f"{self._base}/ocsp"

    async def ca_chain(self) -> list[x509.Certificate]:
        reply = await self._http.get(f"{self._base}/ca/chain.pem", timeout=5)
        _raise_for(reply, what="НУЦ CA chain")
        return load_pem_certificates(reply.text)

    async def issue_system(self, *, member_id: str, organisation: str, bin_: str,
                           csr_pem: str) -> tuple[x509.Certificate, list[x509.Certificate]]:
        reply = await self._http.post(f"{self._base}/certificates/system", headers=self._auth, timeout=10, json={
            "memberId": member_id, "organisation": organisation, "bin": bin_, "csrPem": csr_pem})
        _raise_for(reply, what="НУЦ system certificate")
        body = reply.json()
        return load_pem_certificates(body["certificatePem"])[0], load_pem_certificates(body["chainPem"])


    async def issue_employee(self, *, iin: str, surname: str, name: str, organisation: str, bin_: str, role: str,
                             pkcs12_password: str) -> dict:
        """A signing + authentication pair for an employee of an organisation, with keys made by НУЦ."""
        reply = await self._http.post(f"{self._base}/certificates/employee", headers=self._auth, timeout=30, json={
            "iin": iin, "surname": surname, "name": name, "organisation": organisation, "bin": bin_, "role": role,
            "pkcs12Password": pkcs12_password})
        _raise_for(reply, what="НУЦ employee certificates")
        return reply.json()

    async def not_yet_valid(self, *, at: dt.datetime) -> dict:
        """How many certificates НУЦ issued begin after ``at`` (by holder, and the latest notBefore)."""
        reply = await self._http.get(f"{self._base}/admin/certificates/not-yet-valid", headers=self._auth,
                                     params={"at": at.isoformat()}, timeout=5)
        _raise_for(reply, what="НУЦ certificates not yet valid")
        return reply.json()


async def fetch_broker_login(http: httpx.AsyncClient, *, gateway: str, headers: dict[str, str],
                             account: str) -> BrokerLogin | None:
    """``account``'s own broker login, made by the gateway; None when the gateway runs without accounts
    (everyone then uses the login in MESH_AMQP_URL)."""
    reply = await http.post(f"{gateway}/admin/broker-accounts/{account}", headers=headers, timeout=15)
    if reply.status_code == 409 and reply.json().get("code") == "BROKER_ACCOUNTS_OFF":
        return None
    _raise_for(reply, what=f"broker account of {account}")
    body = reply.json()
    return BrokerLogin(user=body["user"], password=body["password"])


class GatewayControlClient:
    def __init__(self, *, base_url: str, admin_token: str, http: httpx.AsyncClient) -> None:
        self._base = base_url.rstrip("/")
        self._auth = {"Authorization": f"Bearer {admin_token}"}
        self._http = http

    async def broker_login(self, account: str) -> BrokerLogin | None:
        return await fetch_broker_login(self._http, gateway=self._base, headers=self._auth, account=account)

    def login_source(self, account: str) -> Callable[[], Awaitable[BrokerLogin | None]]:
        return lambda: self.broker_login(account)

    async def register_certificate(self, *, member_id: str, certificate_pem: str) -> None:
        reply = await self._http.put(f"{self._base}/admin/members/{member_id}/certificate", headers=self._auth,
                                     json={"certificatePem": certificate_pem}, timeout=10)
        _raise_for(reply, what=f"gateway registration of {member_id}")

    async def members(self) -> list[dict]:
        reply = await self._http.get(f"{self._base}/members", timeout=5)
        _raise_for(reply, what="gateway member list")
        return list(reply.json()["members"])

    async def services(self) -> list[dict]:
        reply = await self._http.get(f"{self._base}/services", timeout=5)
        _raise_for(reply, what="gateway service list")
        return list(reply.json()["services"])

    async def put_member(self, member: dict) -> None:
        reply = await self._http.put(f"{self._base}/admin/members/{member['id']}", headers=self._auth, json=member,
                                     timeout=10)
        _raise_for(reply, what=f"gateway registry entry of {member['id']}")

    async def grant(self, service_id: str, grant: dict) -> dict:
        """Add providers, callers, notified members to a service (created when missing); the entry after it."""
        reply = await self._http.post(f"{self._base}/admin/services/{service_id}/grant", headers=self._auth,
                                      json=grant, timeout=10)
        _raise_for(reply, what=f"gateway grant of {service_id}")
        return dict(reply.json()["service"])

    async def entries(self, member_ids: list[str]) -> dict[str, dict]:
        """The registry entries (organisation, BIN…) of these members, in one read of the public metaservice."""
        known = {member["id"]: member for member in await self.members()}
        missing = [m for m in member_ids if m not in known]
        if missing:
            raise MeshError("MEMBER_NOT_FOUND", f"the gateway registry has no member {missing[0]!r}")
        return {m: known[m] for m in member_ids}

    async def certificate(self) -> x509.Certificate:
        """The gateway's own system certificate: payloads sent to it are encrypted to its key."""
        reply = await self._http.get(f"{self._base}/certificate", timeout=5)
        _raise_for(reply, what="gateway certificate")
        return load_pem_certificates(reply.json()["certificatePem"])[0]

    async def clock(self) -> ClockState:
        reply = await self._http.get(f"{self._base}/clock", timeout=5)
        _raise_for(reply, what="mesh clock")
        return ClockState.model_validate(reply.json()["state"])

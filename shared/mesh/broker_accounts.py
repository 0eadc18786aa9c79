"""Who may do what on the broker: one RabbitMQ user per member, made by the gateway at enrolment.

The broker vouches for the gateway's checks: a member's account may publish only to the gateway's ingress
(and the dead-letter exchange, and its own retry tiers), read only its own queues, and declare only its own
queues — it cannot publish to another member's delivery route, nor bind a queue of its own to one (binding
needs read on ``shep.delivery``, which only the gateway has). Every publish carries the AMQP ``user-id`` of
its connection, which RabbitMQ checks against the login; the gateway then checks it against the envelope's
sender. The gateway's own account can do everything: it alone delivers.

Passwords are derived (HMAC of the account name under the mesh's secret), so a restarted or replicated
service gets the same one and nothing secret is stored. The gateway creates the users through RabbitMQ's
management HTTP API (``RabbitManagement``); the in-memory broker takes the same calls (``MemoryBroker``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from shared.mesh.topology import CLOCK_EXCHANGE, DEAD_EXCHANGE, INGRESS_EXCHANGE, member_queue


@dataclass(frozen=True)
class BrokerLogin:
    user: str
    password: str


@dataclass(frozen=True)
class Permissions:
    """RabbitMQ's three regular expressions over exchange and queue names (vhost ``/``)."""

    configure: str
    write: str
    read: str

    def allows(self, kind: str, resource: str) -> bool:
        return re.fullmatch(getattr(self, kind), resource) is not None


def _any(*patterns: str) -> str:
    return "^(" + "|".join(patterns) + ")$"


def private_queues(account: str) -> str:
    """Queues an account declares for itself: reply queues of synchronous calls, its mesh-clock queue."""
    return rf"{re.escape(account)}\.(replies|clock)\..+"


def member_permissions(member_id: str) -> Permissions:
    """A member: its own work queues (and their retry tiers), its private queues; publish to the ingress."""
    own = re.escape(member_queue(member_id)) + r"(\.sync)?"
    return Permissions(
        configure=_any(own, own + r"\.retry(\.\d+s)?", private_queues(member_id)),
        write=_any(re.escape(INGRESS_EXCHANGE), re.escape(DEAD_EXCHANGE), own + r"\.retry(\.\d+s)?",
                   private_queues(member_id)),
        read=_any(own, own + r"\.retry", private_queues(member_id), re.escape(CLOCK_EXCHANGE)))


def listener_permissions(account: str) -> Permissions:
    """A service that is not a member (НУЦ): it only follows the mesh clock."""
    return Permissions(configure=_any(private_queues(account)), write=_any(private_queues(account)),
                       read=_any(private_queues(account), re.escape(CLOCK_EXCHANGE)))


GATEWAY_PERMISSIONS = Permissions(configure=".*", write=".*", read=".*")


def account_password(*, secret: str, account: str) -> str:
    digest = hmac.new(secret.encode(), f"broker-account:{account}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def with_login(url: str, login: BrokerLogin | None) -> str:
    """``url`` (amqp://host:port/vhost, with or without a login) with ``login`` in it."""
    if login is None:
        return url
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{quote(login.user, safe='')}:{quote(login.password, safe='')}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def user_of(url: str) -> str:
    """The login an AMQP URL connects with (RabbitMQ's default, guest, when it names none)."""
    return urlsplit(url).username or "guest"


class BrokerAdmin(Protocol):
    async def put_user(self, *, login: BrokerLogin) -> None: ...

    async def delete_user(self, *, user: str) -> bool:
        """Delete ``user``; False when there was none."""

    async def set_permissions(self, *, user: str, permissions: Permissions) -> None: ...

    async def set_policy(self, *, name: str, pattern: str, definition: dict[str, Any]) -> None:
        """A RabbitMQ policy on the queues whose name matches ``pattern`` (e.g. max-length, overflow)."""


class RabbitManagement:
    """RabbitMQ's management HTTP API, with an administrator's login (the broker's bootstrap user)."""

    def __init__(self, *, url: str, admin: BrokerLogin, http: httpx.AsyncClient) -> None:
        self._url = url.rstrip("/")
        self._auth = httpx.BasicAuth(admin.user, admin.password)
        self._http = http

    async def _put(self, path: str, body: dict[str, Any]) -> None:
        reply = await self._http.put(f"{self._url}{path}", json=body, auth=self._auth, timeout=10)
        if reply.status_code not in (201, 204):
            raise RuntimeError(f"RabbitMQ management API {path}: {reply.status_code} {reply.text[:300]}")

    async def put_user(self, *, login: BrokerLogin) -> None:
        await self._put(f"/api/users/{quote(login.user, safe='')}", {"password": login.password, "tags": ""})

    async def delete_user(self, *, user: str) -> bool:
        reply = await self._http.delete(f"{self._url}/api/users/{quote(user, safe='')}", auth=self._auth, timeout=10)
        if reply.status_code not in (204, 404):
            raise RuntimeError(f"RabbitMQ management API delete {user}: {reply.status_code} {reply.text[:300]}")
        return reply.status_code == 204

    async def set_permissions(self, *, user: str, permissions: Permissions) -> None:
        await self._put(f"/api/permissions/%2F/{quote(user, safe='')}", {
            "configure": permissions.configure, "write": permissions.write, "read": permissions.read})

    async def set_policy(self, *, name: str, pattern: str, definition: dict[str, Any]) -> None:
        await self._put(f"/api/policies/%2F/{quote(name, safe='')}", {
            "pattern": pattern, "definition": definition, "apply-to": "queues", "priority": 10})

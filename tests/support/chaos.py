"""Fault injection in tests (docs/chaos.md): two test members with a service between them, the gateway's chaos routes,
and the journal's fault entries — the same helpers on the in-process mesh and on real processes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from meshkit.members import grant, unique_id
from shared.mesh.envelope import MessageType
from tests.support.members import TestMember


@dataclass
class Pair:
    """A sender, a recipient and an asynchronous service from one to the other."""

    sender: TestMember
    recipient: TestMember
    service: str

    async def send(self, **data: Any) -> str:
        sent = await self.sender.send(service_id=self.service, message_type=MessageType.REQUEST, data=data or {"n": 1})
        return str(sent["messageId"])


async def pair(mesh: Any, make: Callable[..., Awaitable[TestMember]]) -> Pair:
    sender, recipient = await make("chaos-from"), await make("chaos-to")
    service = unique_id("test.chaos")
    await grant(mesh, service_id=service, channel="async", providers=[recipient.member_id],
                callers=[sender.member_id])
    return Pair(sender=sender, recipient=recipient, service=service)


async def call(mesh: Any, method: str, path: str, *, json: Any = None, **params: Any) -> tuple[int, Any]:
    """The gateway's ``/admin/chaos…`` route: its status and JSON."""
    async with mesh.client() as http:
        reply = await http.request(method, f"{mesh.gateway}/admin/chaos{path}", json=json, params=params or None,
                                   headers=mesh.admin, timeout=30)
    return reply.status_code, reply.json()


async def add(mesh: Any, **rule: Any) -> dict[str, Any]:
    status, body = await call(mesh, "POST", "/rules", json=rule)
    assert status == 201, body
    return dict(body)


@asynccontextmanager
async def rule(mesh: Any, **spec: Any) -> AsyncIterator[dict[str, Any]]:
    """A rule in place for the block, removed at its end whatever happened."""
    added = await add(mesh, **spec)
    try:
        yield added
    finally:
        await call(mesh, "DELETE", f"/rules/{added['id']}")


async def rule_now(mesh: Any, rule_id: str) -> dict[str, Any]:
    status, body = await call(mesh, "GET", "/rules")
    assert status == 200, body
    return next(r for r in body["rules"] if r["id"] == rule_id)


async def fired(mesh: Any, rule_id: str) -> list[dict[str, Any]]:
    status, body = await call(mesh, "GET", "/fired", ruleId=rule_id)
    assert status == 200, body
    return list(body["fired"])


async def wait_journal(mesh: Any, *, timeout_s: float = 60, at_least: int = 1, **filters: Any) -> list[dict[str, Any]]:
    """The journal's wait-until on the gateway (the whole mesh's): the entries, or AssertionError with the nearest
    misses."""
    params = {key: str(value) for key, value in filters.items()} | {"timeoutS": str(timeout_s),
                                                                     "atLeast": str(at_least)}
    async with mesh.client() as http:
        reply = await http.get(f"{mesh.gateway}/admin/journal/wait", params=params, headers=mesh.admin,
                               timeout=timeout_s + 30)
    body = reply.json()
    assert reply.status_code == 200, body
    assert body["matched"], f"no {filters} in the journal; nearest: {body.get('nearestMisses')}"
    return list(body["entries"])

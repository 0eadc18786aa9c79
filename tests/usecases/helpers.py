"""What the use-case tests do again and again: apply through the portal, follow a case, read the log."""

from __future__ import annotations

import asyncio
from typing import Any

from meshkit.load import FINAL, Person
from tests.support.inprocess import InProcessMesh


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def apply(mesh: InProcessMesh, person: Person, token: str, service: str = "employment.job-seeker-registration",
                *, key: str | None = None, **fields: Any) -> dict[str, Any]:
    async with mesh.client("portal") as portal:
        reply = await portal.post(f"/citizens/{person.iin}/applications", json=person.request(service, **fields),
                                  headers=bearer(token) | ({"Idempotency-Key": key} if key else {}))
    assert reply.status_code == 202, reply.text
    return reply.json()


async def case(mesh: InProcessMesh, person: Person, token: str, correlation_id: str) -> dict[str, Any]:
    async with mesh.client("portal") as portal:
        cases = (await portal.get(f"/citizens/{person.iin}/applications", headers=bearer(token))).json()
    return next(c for c in cases["applications"] if c["correlationId"] == correlation_id)


async def final_case(mesh: InProcessMesh, person: Person, token: str, correlation_id: str, *,
                     timeout_s: float = 30.0) -> dict[str, Any]:
    """The case as its citizen sees it, once final (polled gently: in process, polling costs the mesh's CPU)."""
    await final_cases(mesh, [correlation_id], timeout_s=timeout_s)
    return await case(mesh, person, token, correlation_id)


async def final_cases(mesh: InProcessMesh, correlation_ids: list[str], *, timeout_s: float = 30.0,
                      service: str = "portal") -> dict[str, dict[str, Any]]:
    """Wait until every case is final at the portal (or ИС ЦОН): one admin request a round for all of them."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    wanted = set(correlation_ids)
    while True:
        async with mesh.client(service) as http:
            every = (await http.get("/admin/cases")).json()["applications"]
        found = {c["correlationId"]: c for c in every if c["correlationId"] in wanted}
        if len(found) == len(wanted) and all(c["status"] in FINAL for c in found.values()):
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not final: {[c for c in found.values() if c['status'] not in FINAL]}")
        await asyncio.sleep(0.1)


async def notices(mesh: InProcessMesh, person: Person, token: str, number: str) -> list[dict[str, Any]]:
    async with mesh.client("portal") as portal:
        every = (await portal.get(f"/citizens/{person.iin}/notifications", headers=bearer(token))).json()
    return [n for n in every["notifications"] if n["applicationNumber"] == number]


async def ready(mesh: InProcessMesh, name: str) -> tuple[int, dict[str, Any]]:
    async with mesh.client(name) as http:
        reply = await http.get("/ready")
    return reply.status_code, reply.json()


async def ready_becomes(mesh: InProcessMesh, name: str, status: int, *, timeout_s: float = 5.0) -> dict[str, Any]:
    """Poll /ready until it answers ``status`` (answers are cached for half a second); the last body."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        code, body = await ready(mesh, name)
        if code == status:
            return body
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{name} /ready stayed {code}: {body}")
        await asyncio.sleep(0.1)


async def until_status(mesh: InProcessMesh, person: Person, token: str, correlation_id: str, status: str, *,
                       timeout_s: float = 10.0) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        found = await case(mesh, person, token, correlation_id)
        if found["status"] == status:
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"case {correlation_id} never {status}: {found}")
        await asyncio.sleep(0.1)


async def every_notice(mesh: InProcessMesh, person: Person, token: str, number: str, *, count: int,
                       timeout_s: float = 40.0) -> list[dict[str, Any]]:
    """The citizen's notices of one application once ``count`` have come (one retried through an outage may come
    after a later one: the list keeps the order things happened in)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        seen = await notices(mesh, person, token, number)
        if len(seen) >= count or asyncio.get_running_loop().time() > deadline:
            return seen
        await asyncio.sleep(0.2)

"""The whole-mesh reset and the scoped ones (issue 20), orchestrated by the gateway.

Why the gateway: it is the one place that can stop the mesh's traffic (its ingress) while the members' state goes,
it already holds the clock and the registry that a reset puts back, and one process holding the reset makes a
second one, from another tester, answer ``RESET_RUNNING`` instead of interleaving. It reaches the member services
over HTTP with the admin token — the control plane, as НУЦ is reached — at the addresses ``GET /mesh`` gives
(``SHEP_PEER_URLS``, else ``MESH_SERVICE_URLS``); messages between members still go only through it.

A whole reset: the ingress paused, what waits in it and in the dead letters drained, every member's
``POST /admin/state/reset`` at once (each drains its own queues, empties its state, seeds again), the gateway's
own state (the message log, pending calls and deliveries) emptied and its registry put back to the seed, the clock
back to real time, the ingress resumed; the answer waits for every ``/ready`` and reports each service's duration.
The clock is judged first: a reset the certificates would not survive (``CLOCK_OUTSIDE_VALIDITY``) changes nothing.
НУЦ's CA and issued certificates, the members' system keys and pins, and the broker accounts are kept.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import delete
from sqlmodel import SQLModel

from services.shep_gateway.consumers import IngressWorker
from services.shep_gateway.handlers import Gateway
from services.shep_gateway.registry_book import RegistryBook
from services.shep_gateway.store import DeliveryRow, LogAnchor, LogHead, LogRecord, ParkedRequest, SyncCall
from services.shep_gateway.usecases.clock_authority import ClockAuthority
from services.shep_gateway.usecases.clock_validity import refuse_outside
from shared.db import Sessions
from shared.errors import MeshError
from shared.logging import get_logger
from shared.mesh.bus import Bus
from shared.mesh.outbox import OutboxMessage
from shared.mesh.topology import DEAD_QUEUE, INGRESS_QUEUES

log = get_logger(__name__)
NOT_MEMBERS = {"shep_gateway", "nuc_pki"}  # the gateway resets itself; НУЦ's CA and certificates are kept
READY_WAIT_S = 30.0
OWN_STATE: list[type[SQLModel]] = [LogRecord, LogHead, LogAnchor, SyncCall, ParkedRequest, DeliveryRow, OutboxMessage]


@dataclass
class ServiceOutcome:
    duration_ms: float
    rows: dict[str, int] = field(default_factory=dict)
    drained: int = 0
    ready: bool = True


class MemberCalls:
    """HTTP to the member services' admin routes."""

    def __init__(self, *, http: httpx.AsyncClient, urls: Callable[[], dict[str, str]],
                 admin_token: Callable[[], str]) -> None:
        self._http = http
        self._urls = urls
        self._token = admin_token

    @property
    def names(self) -> list[str]:
        return sorted(self._urls())

    async def call(self, name: str, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        url = self._urls().get(name)
        if url is None:
            raise MeshError("RESET_MEMBER_FAILED", f"the gateway knows no address of {name!r} (SHEP_PEER_URLS)")
        try:
            reply = await self._http.request(method, f"{url}{path}", json=body, timeout=60.0,
                                             headers={"Authorization": f"Bearer {self._token()}"})
        except httpx.HTTPError as exc:
            raise MeshError("RESET_MEMBER_FAILED", f"{name} did not answer {method} {path}: "
                            f"{type(exc).__name__}") from None
        if reply.status_code != 200:
            code = reply.json().get("code") if reply.headers.get("content-type", "").startswith("application/json") \
                else None
            raise MeshError("RESET_MEMBER_FAILED", f"{name} refused {method} {path}: {reply.status_code} {code}")
        answer: dict[str, Any] = reply.json()
        return answer

    async def ready(self, names: list[str]) -> dict[str, bool]:
        """Each service's ``/ready``, waited for (a service reseeding answers 503 a moment)."""
        deadline = time.monotonic() + READY_WAIT_S
        ready = dict.fromkeys(names, False)
        while not all(ready.values()) and time.monotonic() < deadline:
            for name in [n for n, ok in ready.items() if not ok]:
                try:
                    ready[name] = (await self._http.get(f"{self._urls()[name]}/ready", timeout=5.0)).status_code == 200
                except httpx.HTTPError:
                    ready[name] = False
            if not all(ready.values()):
                await asyncio.sleep(0.05)
        return ready


class MeshReset:
    def __init__(self, *, sessions: Sessions, bus: Bus, members: MemberCalls, worker: IngressWorker,
                 gateway: Gateway, book: RegistryBook, clock: ClockAuthority,
                 own_ready: Callable[[], Awaitable[tuple[bool, dict[str, str]]]],
                 forget: Callable[[], Awaitable[int]] | None = None,
                 end_faults: Callable[[], Awaitable[list[dict[str, Any]]]] | None = None) -> None:
        self._own_ready = own_ready
        self._end_faults = end_faults  # the tests' fault-injection rules, everywhere: removed first
        self._forget = forget  # the tester's journal, every service's: emptied last
        self._sessions = sessions
        self._bus = bus
        self.members = members
        self._worker = worker
        self._gateway = gateway
        self._book = book
        self.clock = clock
        self._busy = asyncio.Lock()

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        """One reset, restore or snapshot at a time, mesh-wide: a second answers ``RESET_RUNNING`` at once."""
        if self._busy.locked():
            raise MeshError("RESET_RUNNING", "a mesh reset, restore or snapshot is running: wait for its answer")
        async with self._busy:
            yield

    @asynccontextmanager
    async def paused(self) -> AsyncIterator[None]:
        """The ingress stopped, and what waits in it and in the dead letters thrown away; resumed however it ends."""
        await self._worker.stop()
        try:
            await self._worker.discard_waiting()
            for queue in (*INGRESS_QUEUES, DEAD_QUEUE):
                while (delivery := await self._bus.get(queue=queue)) is not None:
                    await delivery.ack()
            yield
        finally:
            await self._worker.start()

    async def reset(self, *, iin: str | None = None, district: str | None = None,
                    service: str | None = None) -> tuple[str, dict[str, ServiceOutcome]]:
        async with self.exclusive():
            if iin or district:
                scope, body = ("iin", {"iin": iin}) if iin else ("district", {"district": district})
                return scope, await self._on_members(self.members.names, body)
            if service is not None:
                if service not in self.members.names:
                    raise MeshError("RESET_SCOPE_UNKNOWN", f"no member service {service!r} to reset "
                                    f"({', '.join(self.members.names)})")
                return "service", await self._on_members([service], {})
            return "all", await self._whole()

    async def _whole(self) -> dict[str, ServiceOutcome]:
        refuse_outside(await self.clock.validities(), at=self.clock.clock.real_now())  # before anything changes
        if self._end_faults is not None:  # first: deliveries a "down" rule held go out, and the members drain them
            await self._end_faults()
        async with self.paused():
            started = time.perf_counter()
            own = await self.reset_own()  # first: ИС МИО's reseeding joins its districts to the registry again
            await self.clock.change(advance_s=None, advance_working_days=None, speed=None, reset=True, force=True)
            gateway = ServiceOutcome(duration_ms=_ms(started), rows=own)
            outcomes = await self._on_members(self.members.names, {}, wait_ready=False)
            outcomes["shep_gateway"] = gateway
        ready = await self.members.ready(self.members.names) | {"shep_gateway": await self.ready_here()}
        if self._forget is not None:  # last: what the reset itself set off (ИС МИО re-joining its districts…) too
            await self._forget()
        for name, ok in ready.items():
            outcomes[name].ready = ok
        log.info("mesh_reset", services=len(outcomes), ready=all(ready.values()))
        return outcomes

    async def ready_here(self) -> bool:
        """The gateway's own /ready once its ingress runs again."""
        deadline = time.monotonic() + READY_WAIT_S
        while True:
            ok = (await self._own_ready())[0]
            if ok or time.monotonic() > deadline:
                return ok
            await asyncio.sleep(0.05)

    async def reset_own(self) -> dict[str, int]:
        """The gateway's own state: the message log from its genesis again, no pending call, delivery or parked
        request; the registry as the seed says (entries the seed lacks — testers' members — are kept)."""
        rows: dict[str, int] = {}
        self._gateway.cancel_timers()
        async with self._sessions() as session, session.begin():
            for model in OWN_STATE:
                result = await session.exec(delete(model))
                rows[str(model.__tablename__)] = int(result.rowcount or 0)
        await self._book.reset_to_seed()
        rows["scenarios"] = self._gateway.scenarios.end_all()  # tests' forced outcomes: ended with the rest
        return rows

    async def _on_members(self, names: list[str], body: dict[str, Any], *,
                          wait_ready: bool = True) -> dict[str, ServiceOutcome]:
        async def one(name: str) -> ServiceOutcome:
            answer = await self.members.call(name, "POST", "/admin/state/reset", body)
            return ServiceOutcome(duration_ms=answer["durationMs"], rows=answer["rows"], drained=answer["drained"])
        outcomes = dict(zip(names, await asyncio.gather(*(one(n) for n in names)), strict=True))
        if wait_ready:
            for name, ok in (await self.members.ready(names)).items():
                outcomes[name].ready = ok
        return outcomes


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)

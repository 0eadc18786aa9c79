"""The whole mesh in one process, for use-case tests that run in milliseconds.

The six services' FastAPI apps are built by their own ``create_app`` — wired exactly as in production — but
on one in-memory broker (``MemoryBroker``, AMQP semantics) instead of RabbitMQ, SQLite files in a temporary
directory, and HTTP between services (НУЦ's OCSP, the gateway's control API) through ASGI transports instead
of sockets. A service can be stopped and started again on the same database, the broker can go down and come
back, and the mesh clock can be moved — everything a use case needs that does not need real processes.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import SecretStr

from meshkit.load import Person, new_person, portal_session
from services.con_operator.main import create_app as con_app
from services.con_operator.settings import ConOperatorSettings
from services.gbd_fl.main import create_app as gbdfl_app
from services.gbd_fl.settings import GbdFlSettings
from services.mio_workstation.main import create_app as mio_app
from services.mio_workstation.settings import MioSettings
from services.nuc_pki.main import create_app as nuc_app
from services.nuc_pki.settings import NucSettings
from services.portal.main import create_app as portal_app
from services.portal.settings import PortalSettings
from services.shep_gateway.main import create_app as gateway_app
from services.shep_gateway.settings import GatewaySettings
from shared.clock import MeshClock
from shared.employment.logins import use_fast_hashing
from shared.mesh.bus_memory import MemoryBroker, MemoryBus
from shared.mesh.settings import MeshSettings, ServiceSettings
from shared.mesh.topology import DEAD_QUEUE, H_REFUSAL_CODE, H_REFUSAL_REASON, declare_core
from shared.telemetry import propagate_trace

ADMIN_TOKEN = "inprocess-admin-token-0123456789"
OCSP_MAX_AGE_S = 0.5  # a revocation reaches every verifier within half a second
SERVICES = ("nuc_pki", "shep_gateway", "gbd_fl", "portal", "mio_workstation", "con_operator")
_FACTORIES: dict[str, tuple[Callable[..., FastAPI], type[ServiceSettings]]] = {
    "nuc_pki": (nuc_app, NucSettings), "shep_gateway": (gateway_app, GatewaySettings),
    "gbd_fl": (gbdfl_app, GbdFlSettings), "portal": (portal_app, PortalSettings),
    "mio_workstation": (mio_app, MioSettings), "con_operator": (con_app, ConOperatorSettings),
}


def url(service: str) -> str:
    return f"http://{service}.mesh"


class AppRouter(httpx.AsyncBaseTransport):
    """HTTP between in-process services: a request goes to the app its host names; a stopped service's host
    refuses the connection, as a dead process's port would."""

    def __init__(self) -> None:
        self.apps: dict[str, httpx.ASGITransport] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        transport = self.apps.get(request.url.host.removesuffix(".mesh"))
        if transport is None:
            raise httpx.ConnectError(f"connection refused: {request.url.host} is not running", request=request)
        return await transport.handle_async_request(request)


@dataclass
class Running:
    app: FastAPI
    bus: MemoryBus
    stack: AsyncExitStack


@dataclass
class InProcessMesh:
    directory: Path
    settings: dict[str, ServiceSettings]
    broker: MemoryBroker = field(default_factory=MemoryBroker)
    router: AppRouter = field(default_factory=AppRouter)
    running: dict[str, Running] = field(default_factory=dict)

    # ---- lifecycle ---------------------------------------------------------------------------------------------
    async def start(self, name: str, *, wait: bool = True) -> None:
        factory, _ = _FACTORIES[name]
        bus = MemoryBus(broker=self.broker)
        http = httpx.AsyncClient(transport=self.router, timeout=10, event_hooks={"request": [propagate_trace]})
        app = factory(self.settings[name], bus=bus, http=http)
        stack = AsyncExitStack()
        stack.push_async_callback(http.aclose)
        self.router.apps[name] = httpx.ASGITransport(app=app)
        await stack.enter_async_context(app.router.lifespan_context(app))
        self.running[name] = Running(app=app, bus=bus, stack=stack)
        if wait:
            await self.wait_ready(name)

    async def stop(self, name: str) -> None:
        """The service goes away: its port refuses, its connection to the broker closes (unacked messages return)."""
        running = self.running.pop(name)
        self.router.apps.pop(name, None)
        await running.stack.aclose()

    async def wait_ready(self, name: str, *, timeout_s: float = 60.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout_s
        async with self.client(name) as http:
            while True:
                reply = await http.get("/ready")
                if reply.status_code == 200:
                    return
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(f"{name} not ready: {reply.text}")
                await asyncio.sleep(0.05)

    async def close(self) -> None:
        for name in reversed(list(self.running)):
            await self.stop(name)

    @asynccontextmanager
    async def outage(self, name: str) -> AsyncIterator[None]:
        """``name`` is down for the duration of the block, then started again on the same database."""
        await self.stop(name)
        try:
            yield
        finally:
            await self.start(name)

    # ---- talking to it ------------------------------------------------------------------------------------------
    def client(self, name: str | None = None, *, timeout: float = 30.0) -> httpx.AsyncClient:
        """HTTP to a service (``name``: relative paths), or to any of them by full URL; the admin token attached."""
        return httpx.AsyncClient(transport=self.router, base_url=url(name) if name else "", timeout=timeout,
                                 headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})

    # the same face as a mesh of real processes (tests.support.mesh.MeshHandle), for tests written for both
    gateway, nuc, admin_token, ocsp_max_age_s = url("shep_gateway"), url("nuc_pki"), ADMIN_TOKEN, OCSP_MAX_AGE_S
    settle_s = 0.05  # how long a wrong delivery is given to show up

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    def url(self, service: str) -> str:
        return url(service)

    def new_bus(self, connection_name: str) -> MemoryBus:
        return MemoryBus(broker=self.broker)

    def app(self, name: str) -> FastAPI:
        return self.running[name].app

    def database(self, name: str) -> Path:
        return self.directory / f"{name}.db"

    async def sql(self, name: str, statement: str, *params: Any) -> list[tuple]:
        """Read (or change) a service's SQLite database directly, as an operator with sqlite3 would.

        In a worker thread: the services share this event loop, so a blocking call made while one of them holds the
        write lock would wait for a commit that can never run (``database is locked`` after the timeout).
        """
        def run() -> list[tuple]:
            with sqlite3.connect(self.database(name), timeout=30) as db:
                return db.execute(statement, params).fetchall()
        return await asyncio.to_thread(run)

    async def dead_letters(self) -> list[dict[str, Any]]:
        """Everything in mesh.dead-letters now (taken out of the queue)."""
        bus = MemoryBus(broker=self.broker)
        await bus.connect()
        out = []
        while (delivery := await bus.get(queue=DEAD_QUEUE)) is not None:
            out.append({"messageId": delivery.message_id, "code": delivery.headers.get(H_REFUSAL_CODE),
                        "reason": delivery.headers.get(H_REFUSAL_REASON), "headers": delivery.headers,
                        "body": delivery.body})
            await delivery.ack()
        await bus.close()
        return out

    # ---- people -------------------------------------------------------------------------------------------------
    async def person(self, *, district: str, jobless: bool = True, min_age: int = 25, max_age: int = 50) -> Person:
        """A ГБД ФЛ person no one else uses, with signing and authentication certificates from НУЦ."""
        return await new_person(self.client, district=district, jobless=jobless, min_age=min_age, max_age=max_age)

    async def citizen_session(self, person: Person) -> str:
        """Register ``person`` at the portal with EDS and log in with EDS (no password hashing: fast); a token."""
        return await portal_session(self.client, person)

    async def set_mode(self, district: str, *, share: float = 0.0001, mode: str = "auto") -> None:
        async with self.client("mio_workstation") as mio:
            (await mio.put(f"/admin/districts/{district}/mode", json={"mode": mode, "autoShare": share})
             ).raise_for_status()

    async def advance_clock(self, *, seconds: float | None = None, working_days: int | None = None,
                            speed: float | None = None, reset: bool = False) -> dict:
        """Change the mesh clock; returns once every service follows it (the gateway's answer)."""
        change = {"advanceSeconds": seconds, "advanceWorkingDays": working_days, "speed": speed} | \
            ({"reset": True} if reset else {})
        async with self.client("shep_gateway") as gateway:
            reply = (await gateway.post("/admin/clock", json={k: v for k, v in change.items() if v is not None}))
        answer = reply.json()
        state = answer["state"]
        for name in self.running:  # every service follows the broadcast before the test goes on
            clock = self.clock_of(name)
            await until(lambda c=clock: c.state.version >= state["version"], what=f"{name} to follow the clock")
        return answer

    def clock_of(self, name: str) -> MeshClock:
        state = self.app(name).state
        node = getattr(state, "node", None)
        if node is not None:
            return node.clock
        return state.gateway.clock if name == "shep_gateway" else state.clock


async def until(condition: Callable[[], bool], *, what: str, timeout_s: float = 30.0, every_s: float = 0.01) -> None:
    """Wait for something the mesh does in its own time."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(every_s)


SYNC_TIMEOUT_S = 5.0
"""The in-process mesh's synchronous deadline: ИС МИО's look-ups (ГБД ФЛ) and the portal's and ИС ЦОН's registry
look-ups wait this long. One second had them time out on a machine loaded by the suite's other lanes — asked again,
the late answer refused; a registration answered REGISTRY_UNAVAILABLE — and a test that wants a time-out asks for its
own, or takes the outage tests' few seconds."""
GATEWAY_LOOKUP_TIMEOUT_S = 1.0


def mesh_settings(directory: Path, *, overrides: dict[str, dict[str, Any]] | None = None,
                  sync_timeout_s: float = SYNC_TIMEOUT_S) -> dict[str, ServiceSettings]:
    mesh = MeshSettings(env="test", admin_token=SecretStr(ADMIN_TOKEN),
                        key_passphrase=SecretStr("inprocess-key-passphrase-0123"), amqp_url="memory://",
                        nuc_url=url("nuc_pki"), gateway_url=url("shep_gateway"), sync_timeout_s=sync_timeout_s,
                        ocsp_max_age_s=OCSP_MAX_AGE_S, retry_fault_attempts=2, log_level="WARNING")
    out: dict[str, ServiceSettings] = {}
    for name, (_, settings_class) in _FACTORIES.items():
        values: dict[str, Any] = {"database_url": f"sqlite:///{directory / (name + '.db')}", "mesh": mesh,
                                  "public_url": url(name)}
        if name == "gbd_fl":
            values["population_size"] = 600
        if name in ("portal", "con_operator"):
            values["registry_timeout_s"] = sync_timeout_s
        if name == "nuc_pki":
            values["holder_keys"] = "ec"
        if name == "shep_gateway":  # the services it asks over HTTP: the merged journal, resets, the settle
            values["peer_urls"] = ",".join(f"{peer}={url(peer)}" for peer in _FACTORIES if peer != name)
            # its own district look-ups keep one second: the outage tests watch one time out and be asked again
            values["mesh"] = mesh.model_copy(update={"sync_timeout_s": GATEWAY_LOOKUP_TIMEOUT_S})
        values.update((overrides or {}).get(name, {}))
        out[name] = settings_class(**values)
    return out


async def start_inprocess_mesh(directory: Path, *, overrides: dict[str, dict[str, Any]] | None = None,
                               sync_timeout_s: float = SYNC_TIMEOUT_S) -> InProcessMesh:
    use_fast_hashing()
    mesh = InProcessMesh(directory=directory, settings=mesh_settings(directory, overrides=overrides,
                                                                      sync_timeout_s=sync_timeout_s))
    bus = MemoryBus(broker=mesh.broker)
    await bus.connect()
    await declare_core(bus)  # the dead-letter queue exists from the start, as on a real broker
    await bus.close()
    for name in SERVICES:
        await mesh.start(name, wait=False)
    for name in SERVICES:
        await mesh.wait_ready(name, timeout_s=120)
    return mesh

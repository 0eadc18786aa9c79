"""Readiness that follows reality: named start-up steps, then live checks of what the service depends on.

``/ready`` answers 503 until every start-up step has succeeded; after that it asks the live checks (the
broker connection, the database, the trust store, a worker's progress) each time — answers are kept for
``CACHE_S`` so a busy health checker costs nothing — and is 503, naming what is down and why, for as long as
one of them fails. Compose health checks and ``make run`` rely on the status code.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from shared.clock import MeshClock
from shared.db import ping
from shared.logging import get_logger
from shared.mesh.bus import Bus
from shared.pki.cert_check import CertificateVerifier

log = get_logger(__name__)
Probe = Callable[[], Awaitable[str | None]]  # None: fine; otherwise why not
CACHE_S = 0.5
PROBE_TIMEOUT_S = 2.0


class Readiness:
    def __init__(self, *, steps: list[str]) -> None:
        self._state: dict[str, str] = dict.fromkeys(steps, "pending")
        self._probes: dict[str, Probe] = {}
        self._live: dict[str, str] = {}
        self._checked_at = 0.0
        self._lock = asyncio.Lock()

    def done(self, step: str) -> None:
        self._state[step] = "ok"

    def waiting(self, step: str, reason: str) -> None:
        self._state[step] = f"waiting: {reason}"

    def watch(self, name: str, probe: Probe) -> None:
        """A live check asked on every readiness question once start-up is over."""
        self._probes[name] = probe

    @property
    def started(self) -> bool:
        return all(v == "ok" for v in self._state.values())

    @property
    def ready(self) -> bool:
        """Start-up done and no live check failing at its last asking."""
        return self.started and all(v == "ok" for v in self._live.values())

    async def check(self) -> tuple[bool, dict[str, str]]:
        """Ask the live checks (at most every ``CACHE_S``); return readiness and every check's state."""
        if self.started:
            async with self._lock:
                if time.monotonic() - self._checked_at >= CACHE_S:
                    names = list(self._probes)
                    results = await asyncio.gather(*(self._ask(self._probes[n]) for n in names))
                    live = {n: "ok" if r is None else f"down: {r}" for n, r in zip(names, results, strict=True)}
                    for name, state in live.items():
                        if state != self._live.get(name, "ok"):
                            log.warning("readiness_changed", check=name, state=state)
                    self._live, self._checked_at = live, time.monotonic()
        return self.ready, {**self._state, **self._live}

    @staticmethod
    async def _ask(probe: Probe) -> str | None:
        try:
            return await asyncio.wait_for(probe(), timeout=PROBE_TIMEOUT_S)
        except TimeoutError:
            return f"no answer within {PROBE_TIMEOUT_S:g} s"
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"[:300]

    def report(self) -> dict[str, str]:
        return {**self._state, **self._live}


async def until_done(*, readiness: Readiness, step: str, action: Callable[[], Awaitable[None]],
                     max_delay_s: float = 0.25) -> None:
    """Run a start-up step until it succeeds, backing off; its last error is visible on /ready meanwhile.

    The back-off stops at a quarter of a second: what a step waits for (the broker, НУЦ, the gateway) is started
    beside it and comes up within seconds, and a service that retried at 3.2 s and 5 s was ready that much after it
    (``make run`` starts the broker and the services together); at a second, each of the chain gateway → member →
    ИС МИО's staff could still sit up to a second idle after what it waited for was up. Four small requests a
    second are no load on what it waits for."""
    delay = 0.2
    while True:
        try:
            await action()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"[:300]
            readiness.waiting(step, reason)
            log.info("startup_step_waiting", step=step, reason=reason, retry_in_s=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay_s)
            continue
        readiness.done(step)
        log.info("startup_step_done", step=step)
        return


def broker_probe(bus: Bus) -> Probe:
    async def probe() -> str | None:
        return None if bus.is_connected else "the connection to RabbitMQ is lost (reconnecting)"
    return probe


def database_probe(engine: AsyncEngine) -> Probe:
    async def probe() -> str | None:
        await ping(engine)
        return None
    return probe


def trust_probe(verifier: Callable[[], CertificateVerifier | None], clock: MeshClock) -> Probe:
    """НУЦ's certificates are loaded, and none of them has expired on the mesh clock."""
    async def probe() -> str | None:
        loaded = verifier()
        if loaded is None:
            return "НУЦ's CA certificates are not loaded"
        now = clock.now()
        for cert in (*loaded.trust.roots, *loaded.trust.intermediates):
            if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
                return f"the CA certificate {cert.subject.rfc4514_string()} is not valid at mesh time {now.isoformat()}"
        return None
    return probe

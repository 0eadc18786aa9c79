"""The scenarios registered at the gateway (issue 20), held in its memory with a TTL on the wall clock.

Why memory and not the gateway's database: a scenario lives for one test's flows — minutes — and is registered
after the mesh is up; what a restarted gateway forgets, the test registers again. Why the wall clock and not the
mesh clock: a test moves the mesh clock days ahead to finish a case (``settle``), and its scenario must outlive that.

A removed or expired scenario is remembered as ended (its id, not its rules) for as long as it lived: a late message
of a flow that named it is then told apart from one naming an id that never existed (``usecases.scenarios``).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from shared.mesh.scenarios import FlowScenario, Rule

MAX_LIVE = 10_000  # far more than tests in flight; a bound so the admin cannot fill the gateway's memory


@dataclass(frozen=True)
class Registered:
    scenario: FlowScenario
    created_at: float  # Unix time
    expires_at: float

    @property
    def id(self) -> str:
        return self.scenario.id


class ScenarioBook:
    def __init__(self, *, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self._live: dict[str, Registered] = {}
        self._ended: dict[str, float] = {}  # id → when it may be forgotten
        self._lock = threading.Lock()

    def add(self, rules: tuple[Rule, ...], *, ttl_s: float) -> Registered:
        now = self._now()
        registered = Registered(scenario=FlowScenario(id=f"scn-{secrets.token_urlsafe(16)}", rules=rules),
                                created_at=now, expires_at=now + ttl_s)
        with self._lock:
            self._sweep(now)
            self._live[registered.id] = registered
        return registered

    def full(self) -> bool:
        with self._lock:
            self._sweep(self._now())
            return len(self._live) >= MAX_LIVE

    def live(self, scenario_id: str) -> Registered | None:
        with self._lock:
            self._sweep(self._now())
            return self._live.get(scenario_id)

    def ended(self, scenario_id: str) -> bool:
        with self._lock:
            self._sweep(self._now())
            return scenario_id in self._ended

    def remove(self, scenario_id: str) -> Registered | None:
        with self._lock:
            found = self._live.pop(scenario_id, None)
            if found is not None:
                self._ended[scenario_id] = self._now() + (found.expires_at - found.created_at)
            return found

    def end_all(self) -> int:
        """Every live scenario ended (a whole-mesh reset): a late message still naming one goes through as a plain
        flow, as after its removal. How many there were."""
        with self._lock:
            ending = list(self._live)
        for scenario_id in ending:
            self.remove(scenario_id)
        return len(ending)

    def all(self) -> list[Registered]:
        with self._lock:
            self._sweep(self._now())
            return sorted(self._live.values(), key=lambda r: r.created_at)

    def _sweep(self, now: float) -> None:
        for scenario_id, found in list(self._live.items()):
            if found.expires_at <= now:
                del self._live[scenario_id]
                self._ended[scenario_id] = now + (found.expires_at - found.created_at)
        for scenario_id, until in list(self._ended.items()):
            if until <= now:
                del self._ended[scenario_id]

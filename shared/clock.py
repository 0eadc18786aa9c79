"""The mesh clock: one notion of "now" for every service, with an offset and a speed testers can change.

mesh_now = anchor_mesh + (real_now - anchor_real) * speed. A change re-anchors at the current instant and
bumps ``version``; services apply a broadcast state only if it is newer than the one they hold, so the order
in which updates arrive does not matter.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from pydantic import BaseModel, Field

# Kazakhstan has one time zone, UTC+5, since 1 March 2024.
KZ_TZ = dt.timezone(dt.timedelta(hours=5), "KZT")


class ClockState(BaseModel):
    version: int = 0
    anchor_real: float = Field(description="real Unix time of the anchor")
    anchor_mesh: float = Field(description="mesh Unix time at the anchor")
    speed: float = Field(default=1.0, gt=0, le=100_000)

    @classmethod
    def real_time(cls, *, now: float) -> ClockState:
        return cls(version=0, anchor_real=now, anchor_mesh=now, speed=1.0)


class MeshClock:
    def __init__(self, *, state: ClockState | None = None, real_time: Callable[[], float] = time.time) -> None:
        self._real_time = real_time
        self._state = state or ClockState.real_time(now=real_time())

    @property
    def state(self) -> ClockState:
        return self._state

    def timestamp(self) -> float:
        s = self._state
        return s.anchor_mesh + (self._real_time() - s.anchor_real) * s.speed

    def now(self) -> dt.datetime:
        """Current mesh time, timezone-aware (UTC)."""
        return dt.datetime.fromtimestamp(self.timestamp(), tz=dt.UTC)

    def real_now(self) -> dt.datetime:
        """Real time (UTC), as the clock reads it: where a reset takes the mesh clock back to."""
        return dt.datetime.fromtimestamp(self._real_time(), tz=dt.UTC)

    def earliest_now(self) -> dt.datetime:
        """The earlier of mesh now and real now: what a certificate issued now must be valid from, so the one reset
        the mesh allows (back to real time) never leaves it «not yet valid» (issue 20)."""
        return min(self.now(), self.real_now())

    def local_now(self) -> dt.datetime:
        """Current mesh time in Kazakhstan local time, which decides the calendar date."""
        return self.now().astimezone(KZ_TZ)

    def apply(self, state: ClockState) -> bool:
        """Adopt a broadcast state if it is newer; returns whether it was adopted."""
        if state.version <= self._state.version:
            return False
        self._state = state
        return True

    def advanced_by(self, *, seconds: float) -> ClockState:
        """The state that results from jumping ``seconds`` ahead now (not applied)."""
        if seconds < 0:
            raise ValueError("the mesh clock only moves forward")
        real = self._real_time()
        return ClockState(version=self._state.version + 1, anchor_real=real,
                          anchor_mesh=self.timestamp() + seconds, speed=self._state.speed)

    def with_speed(self, *, speed: float) -> ClockState:
        real = self._real_time()
        return ClockState(version=self._state.version + 1, anchor_real=real,
                          anchor_mesh=self.timestamp(), speed=speed)

    def reset(self) -> ClockState:
        """Back to real time at normal speed, keeping versions monotonic."""
        real = self._real_time()
        return ClockState(version=self._state.version + 1, anchor_real=real, anchor_mesh=real, speed=1.0)

    def real_seconds_until(self, when: dt.datetime) -> float:
        """How long, in real seconds, until the mesh clock reads ``when`` (0 if already past)."""
        return max(0.0, (when.timestamp() - self.timestamp()) / self._state.speed)

"""A per-client limit on calls that an anonymous caller could use to learn who exists (registration)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from shared.errors import MeshError


class RateLimit:
    """At most ``per_minute`` calls from one client address in any sixty seconds (real time, this process).

    In memory on purpose: it slows a guesser down, it is not an accounting; a restart forgets it."""

    def __init__(self, *, per_minute: int, what: str, now: Callable[[], float] = time.monotonic) -> None:
        self._limit = per_minute
        self._what = what
        self._now = now
        self._calls: dict[str, deque[float]] = {}

    def check(self, client: str) -> None:
        now = self._now()
        calls = self._calls.setdefault(client, deque())
        while calls and calls[0] <= now - 60:
            calls.popleft()
        if len(calls) >= self._limit:
            wait = max(1, round(calls[0] + 60 - now))
            raise MeshError("TOO_MANY_ATTEMPTS", f"at most {self._limit} {self._what} a minute from one address: "
                            f"try again in {wait} s", details={"retryAfterSeconds": wait})
        calls.append(now)
        if len(self._calls) > 10_000:  # forget idle clients rather than grow without bound
            for key in [k for k, v in self._calls.items() if not v or v[-1] <= now - 60]:
                del self._calls[key]

"""Readiness: named start-up steps; /ready answers 503 until every one of them has succeeded."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from shared.logging import get_logger

log = get_logger(__name__)


class Readiness:
    def __init__(self, *, steps: list[str]) -> None:
        self._state: dict[str, str] = dict.fromkeys(steps, "pending")

    def done(self, step: str) -> None:
        self._state[step] = "ok"

    def waiting(self, step: str, reason: str) -> None:
        self._state[step] = f"waiting: {reason}"

    @property
    def ready(self) -> bool:
        return all(v == "ok" for v in self._state.values())

    def report(self) -> dict[str, str]:
        return dict(self._state)


async def until_done(*, readiness: Readiness, step: str, action: Callable[[], Awaitable[None]],
                     max_delay_s: float = 5.0) -> None:
    """Run a start-up step until it succeeds, backing off; its last error is visible on /ready meanwhile."""
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

"""A task a component runs beside its service (start-up, outbox relay, gateway ingress, МИО's simulated
staff): started once, and on stop cancelled and awaited, so nothing it was doing is left running unawaited."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from shared.logging import get_logger

log = get_logger(__name__)


class BackgroundTask:
    def __init__(self, *, name: str, run: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._name = name
        self._run = run
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self._name)
            self._task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("background_task_died", task=self._name, error=repr(task.exception())[:500])

    async def stop(self) -> None:
        """Cancelled until it has ended: Python 3.11's ``asyncio.wait_for`` swallows a cancellation that comes as the
        future it waits on completes (the relay's ``_wake`` set by a kick at that moment), and the task then runs on —
        one cancel and a gather hung a test member's close for ever (seen in tests/usecases/test_chaos.py, whose
        senders get an ERROR and acknowledge it as they are closed)."""
        if self._task is not None:
            while not self._task.done():
                self._task.cancel()
                await asyncio.wait({self._task}, timeout=1.0)
            self._task = None

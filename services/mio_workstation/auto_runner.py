"""Simulated staff: in auto mode each step is done after its share of the allowed time, on the mesh clock.

The runner sleeps until the next step falls due (in real seconds, at the clock's current speed) and wakes at
once when an application arrives or the mesh clock is changed. Whatever fell due meanwhile is done at its own
scheduled time, in order — a jump of ten working days runs a case's whole schedule as if the days had passed
(``SimulatedStaff.finish``), like a time-skipping test server.
"""

from __future__ import annotations

import asyncio
import contextlib

from services.mio_workstation.usecases.automatic import SimulatedStaff
from services.mio_workstation.usecases.districts import Districts
from shared.clock import MeshClock
from shared.errors import MeshError
from shared.logging import get_logger
from shared.mesh.background import BackgroundTask

log = get_logger(__name__)
IDLE_S = 30.0
PARALLEL = 8  # applications simulated staff work on at once


class AutoRunner:
    def __init__(self, *, staff: SimulatedStaff, districts: Districts, clock: MeshClock) -> None:
        self._staff = staff
        self._districts = districts
        self._clock = clock
        self._loop = BackgroundTask(name="mio-auto-runner", run=self._run)

    def wake(self) -> None:
        self._districts.wake_runner()

    async def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _run(self) -> None:
        while True:
            self._districts.changed.clear()
            wait = IDLE_S
            try:
                wait = await self.pass_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("auto_runner_pass_failed")
                wait = 2.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._districts.changed.wait(), timeout=max(0.02, min(wait, IDLE_S)))

    async def pass_once(self) -> float:
        """Do every step that is due; return how long (real seconds) until the next one."""
        due, upcoming = await self._staff.due()
        gate = asyncio.Semaphore(PARALLEL)

        async def finish(number: str) -> bool:
            async with gate:
                try:
                    await self._staff.finish(number)
                except MeshError as exc:  # e.g. staff acted meanwhile; the next pass sees the new state
                    log.warning("auto_step_skipped", number=number, code=exc.code, reason=exc.message)
                    return False
                return True

        # Simulated staff work on several applications at once, as an office does: a decision waits on ГБД ФЛ,
        # and the others need not wait for it.
        done = await asyncio.gather(*(finish(number) for number in due), return_exceptions=True)
        for number, outcome in zip(due, done, strict=True):
            if isinstance(outcome, BaseException):  # the others went on; this one is tried again next pass
                log.error("auto_step_failed", number=number, error=repr(outcome)[:300])
        if due:
            return 0.0 if any(outcome is True for outcome in done) else 1.0
        return self._clock.real_seconds_until(upcoming) if upcoming else IDLE_S

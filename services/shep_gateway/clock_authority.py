"""The gateway is the authority for the mesh clock: it keeps the state and broadcasts every change, signed."""

from __future__ import annotations

import datetime as dt

from services.shep_gateway.store import ClockRow
from shared.bus import Bus
from shared.clock import ClockState, MeshClock
from shared.contracts import ClockPayload
from shared.db import Sessions
from shared.envelope import MessageType
from shared.logging import get_logger
from shared.member import Composer, outgoing
from shared.topology import CLOCK_EXCHANGE
from shared.working_calendar import WorkingCalendar

log = get_logger(__name__)


class ClockAuthority:
    def __init__(self, *, sessions: Sessions, bus: Bus, clock: MeshClock, composer: Composer) -> None:
        self._sessions = sessions
        self._bus = bus
        self._clock = clock
        self._composer = composer
        self._calendar = WorkingCalendar()

    @property
    def clock(self) -> MeshClock:
        return self._clock

    async def load(self) -> None:
        async with self._sessions() as session:
            row = await session.get(ClockRow, 1)
        if row is not None:
            self._clock.apply(ClockState.model_validate(row.state))

    async def change(self, *, advance_s: float | None, advance_working_days: int | None,
                           speed: float | None, reset: bool) -> ClockState:
        if reset:
            state = self._clock.reset()
        else:
            seconds = advance_s or 0.0
            if advance_working_days:
                local = self._clock.local_now()
                target = self._calendar.add_working_days(local.date(), advance_working_days)
                seconds += (dt.datetime.combine(target, local.timetz()) - local).total_seconds()
            state = self._clock.advanced_by(seconds=seconds) if seconds else self._clock.state
            if speed is not None:
                self._clock.apply(state)
                state = self._clock.with_speed(speed=speed)
        self._clock.apply(state)
        async with self._sessions() as session, session.begin():
            await session.merge(ClockRow(id=1, state=state.model_dump()))
        log.info("mesh_clock_set", version=state.version, speed=state.speed)
        await self.broadcast()
        return state

    async def broadcast(self) -> None:
        s = self._clock.state
        payload = ClockPayload(version=s.version, anchor_real=s.anchor_real, anchor_mesh=s.anchor_mesh, speed=s.speed)
        wire = self._composer.compose(service_id="shep.clock", message_type=MessageType.NOTIFICATION,
                                     data=payload.model_dump(by_alias=True), correlation_id="mesh-clock")
        await self._bus.publish(exchange=CLOCK_EXCHANGE, routing_key="", message=outgoing(wire, persistent=False),
                                mandatory=False)

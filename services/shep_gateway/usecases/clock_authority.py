"""The gateway is the authority for the mesh clock: it keeps the state and broadcasts every change, signed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from services.shep_gateway.store import ClockRow
from services.shep_gateway.usecases.clock_validity import (
    Validity,
    ca_validities,
    pinned_validities,
    refuse_outside,
    validity_of,
)
from shared.clock import ClockState, MeshClock
from shared.db import Sessions
from shared.logging import get_logger
from shared.mesh.bus import Bus
from shared.mesh.contracts import ClockPayload
from shared.mesh.control_clients import NucClient
from shared.mesh.envelope import MessageType
from shared.mesh.member import Composer, outgoing
from shared.mesh.topology import CLOCK_EXCHANGE
from shared.working_calendar import WorkingCalendar

log = get_logger(__name__)


@dataclass(frozen=True)
class ClockChanged:
    state: ClockState
    warnings: list[str] = field(default_factory=list)


class ClockAuthority:
    def __init__(self, *, sessions: Sessions, bus: Bus, clock: MeshClock, composer: Composer,
                 nuc: NucClient | None = None) -> None:
        self._nuc = nuc
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

    async def validities(self) -> list[Validity]:
        """The certificates the mesh cannot work without: the CA chain, the gateway's own, each member's newest."""
        own = [validity_of("the gateway", self._composer.signer.certificate)] if self._composer.signer else []
        return await ca_validities(self._nuc) + own + await pinned_validities(self._sessions)

    async def change(self, *, advance_s: float | None, advance_working_days: int | None,
                     speed: float | None, reset: bool, force: bool = False) -> ClockChanged:
        before = self._clock.now()
        seconds = 0.0 if reset else self._seconds_ahead(advance_s=advance_s, advance_working_days=advance_working_days)
        if not force and (reset or seconds):
            target = self._clock.real_now() if reset else before + dt.timedelta(seconds=seconds)
            refuse_outside(await self.validities(), at=target)
        if reset:
            state = self._clock.reset()
        else:
            state = self._clock.advanced_by(seconds=seconds) if seconds else self._clock.state
            if speed is not None:
                self._clock.apply(state)
                state = self._clock.with_speed(speed=speed)
        self._clock.apply(state)
        async with self._sessions() as session, session.begin():
            await session.merge(ClockRow(id=1, state=state.model_dump()))
        log.info("mesh_clock_set", version=state.version, speed=state.speed)
        await self.broadcast()
        after = self._clock.now()
        return ClockChanged(state=state, warnings=await self._warnings_going_back(to=after) if after < before else [])

    def _seconds_ahead(self, *, advance_s: float | None, advance_working_days: int | None) -> float:
        seconds = advance_s or 0.0
        if advance_working_days:
            local = self._clock.local_now()
            target = self._calendar.add_working_days(local.date(), advance_working_days)
            seconds += (dt.datetime.combine(target, local.timetz()) - local).total_seconds()
        return seconds

    async def _warnings_going_back(self, *, to: dt.datetime) -> list[str]:
        """Certificates issued while the clock was ahead begin after the new now: НУЦ says how many, so a tester
        is not left wondering why logins and signatures are suddenly refused as "not yet valid"."""
        if self._nuc is None:
            return []
        try:
            found = await self._nuc.not_yet_valid(at=to)
        except Exception as exc:  # the clock has moved; only the warning is lost
            return [f"the mesh clock went back to {to.isoformat()}, and НУЦ could not say which certificates that "
                    f"makes not yet valid ({type(exc).__name__})"]
        if not found["count"]:
            return []
        holders = ", ".join(f"{n} {holder}" for holder, n in sorted(found["byHolder"].items()))
        return [f"{found['count']} certificates ({holders}) were issued while the mesh clock was ahead and are not "
                f"yet valid at {to.isoformat()}: logins and signatures with them are refused "
                f"(Client.CertificateNotYetValid) until the clock passes {found['latestNotBefore']}. Services renew "
                "their own system certificates when restarted (meshctl service restart NAME); issue new citizens "
                "and staff, or move the clock forward again."]

    async def broadcast(self) -> None:
        s = self._clock.state
        payload = ClockPayload(version=s.version, anchor_real=s.anchor_real, anchor_mesh=s.anchor_mesh, speed=s.speed)
        wire = self._composer.compose(service_id="shep.clock", message_type=MessageType.NOTIFICATION,
                                     data=payload.model_dump(by_alias=True), correlation_id="mesh-clock")
        await self._bus.publish(exchange=CLOCK_EXCHANGE, routing_key="", message=outgoing(wire, persistent=False),
                                mandatory=False)

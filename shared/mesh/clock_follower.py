"""Following the mesh clock: the gateway broadcasts each change (signed) on the mesh.clock fanout."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from shared.clock import ClockState, MeshClock
from shared.logging import get_logger
from shared.mesh.bus import Bus, Delivery, Subscription
from shared.mesh.contracts import ClockPayload
from shared.mesh.failures import PermanentFailure
from shared.mesh.topology import CLOCK_EXCHANGE, GATEWAY_ID

log = get_logger(__name__)
CLOCK_SERVICE = "shep.clock"


def state_of(payload: ClockPayload) -> ClockState:
    return ClockState(version=payload.version, anchor_real=payload.anchor_real, anchor_mesh=payload.anchor_mesh,
                      speed=payload.speed)


class ClockFollower:
    def __init__(self, *, bus: Bus, clock: MeshClock, verify: Callable[..., Awaitable], name: str) -> None:
        self._name = name
        self._bus = bus
        self._clock = clock
        self._verify = verify
        self._listeners: list[Callable[[ClockState], Awaitable[None]]] = []
        self._subscription: Subscription | None = None

    def on_change(self, listener: Callable[[ClockState], Awaitable[None]]) -> None:
        self._listeners.append(listener)

    async def start(self) -> None:
        queue = await self._bus.declare_queue(name=f"{self._name}.clock.{uuid.uuid4().hex[:12]}", exclusive=True,
                                              auto_delete=True, durable=False)
        await self._bus.bind_queue(queue=queue, exchange=CLOCK_EXCHANGE)
        self._subscription = await self._bus.consume(queue=queue, handler=self._on_message, prefetch=4)

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.cancel()

    async def adopt(self, state: ClockState) -> None:
        if self._clock.apply(state):
            log.info("mesh_clock_changed", version=state.version, speed=state.speed)
            for listener in self._listeners:
                await listener(state)

    async def _on_message(self, delivery: Delivery) -> None:
        try:
            incoming = await self._verify(delivery, broadcast=True)
            if incoming.envelope.sender != GATEWAY_ID or not isinstance(incoming.payload, ClockPayload):
                raise PermanentFailure("Client.AccessDenied", "only the gateway sets the mesh clock")
            await self.adopt(state_of(incoming.payload))
        except Exception as exc:  # a broadcast is not retried: the next heartbeat carries the state again
            log.warning("clock_update_refused", reason=str(exc))
        await delivery.ack()

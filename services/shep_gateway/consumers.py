"""The gateway's one message entry point: shep.ingress, handled in batches by a single worker.

One worker keeps the log chain in arrival order; batching lets one transaction (and one fsync) carry many
messages when traffic is heavy, while a lone message is handled at once.
"""

from __future__ import annotations

import asyncio

from services.shep_gateway.handlers import Examined, Gateway
from shared.background import BackgroundTask
from shared.bus import Bus, Delivery, Subscription
from shared.logging import get_logger
from shared.topology import INGRESS_QUEUE

log = get_logger(__name__)


class IngressWorker:
    def __init__(self, *, gateway: Gateway, bus: Bus, batch_size: int, prefetch: int) -> None:
        self._gateway = gateway
        self._bus = bus
        self._batch_size = batch_size
        self._prefetch = prefetch
        self._inbox: asyncio.Queue[Delivery] = asyncio.Queue()
        self._subscription: Subscription | None = None
        self._loop = BackgroundTask(name="gateway-ingress", run=self._run)

    async def start(self) -> None:
        self._loop.start()
        self._subscription = await self._bus.consume(queue=INGRESS_QUEUE, handler=self._inbox.put,
                                                     prefetch=self._prefetch)

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.cancel()
        await self._loop.stop()

    async def _run(self) -> None:
        while True:
            batch = [await self._inbox.get()]
            while len(batch) < self._batch_size and not self._inbox.empty():
                batch.append(self._inbox.get_nowait())
            try:
                # One after another: examine only waits on a cache miss (OCSP, a prior request), so a task per
                # message would cost more than it could overlap.
                examined: list[Examined] = [await self._gateway.examine(d) for d in batch]
                await self._gateway.commit(examined)
                if self._inbox.empty():
                    await self._gateway.flush_published()
            except asyncio.CancelledError:
                raise
            except Exception:
                # Nothing was acked: hand the batch back to the broker and try again shortly.
                log.exception("ingress_batch_failed", size=len(batch))
                for delivery in batch:
                    try:
                        await delivery.reject(requeue=True)
                    except Exception:  # the channel may be gone; the broker requeues unacked messages itself
                        log.warning("ingress_requeue_failed")
                await asyncio.sleep(0.5)

"""The gateway: its use cases (``services.shep_gateway.usecases``) wired together over one set of collaborators.

Ingress, per message: parse → sender known → signature mathematics → certificate pinned to the sender →
certificate valid on the mesh clock and not revoked (OCSP) → payload fits its contract → route granted
(``ingress_decision``, ``routing``). The checks return one ``Decision`` — ``Routed``, ``Refused``, ``Parked``
(district lookup) or ``Retry`` (НУЦ unreachable) — and a batch of examined messages is then applied by one
``match`` in one transaction (``ingress_commit``, ``outcomes``): the chained, signed log records (``ledger``), the
deliveries, the refusals (an ERROR back to a proven sender and a copy with the reason to the dead-letter queue) all
go into the outbox together, and the broker messages are acked only after that commit. Park, unpark
(``district_lookup``) and time-outs (``sync_timeouts``) produce decisions the same way and go through the same match.
"""

from __future__ import annotations

import datetime as dt

from services.shep_gateway.registry_book import RegistryBook
from services.shep_gateway.scenario_book import ScenarioBook
from services.shep_gateway.settings import GatewaySettings
from services.shep_gateway.usecases.district_lookup import DistrictLookups
from services.shep_gateway.usecases.examined import Examined
from services.shep_gateway.usecases.failed_messages import FailedMessages
from services.shep_gateway.usecases.ingress_commit import IngressCommit
from services.shep_gateway.usecases.ingress_decision import IngressDecision
from services.shep_gateway.usecases.ledger import Ledger
from services.shep_gateway.usecases.outcomes import Outcomes
from services.shep_gateway.usecases.receipts import Receipts
from services.shep_gateway.usecases.redelivery import Redelivery
from services.shep_gateway.usecases.retention import Retention
from services.shep_gateway.usecases.routing import Routing
from services.shep_gateway.usecases.scenarios import Scenarios
from services.shep_gateway.usecases.sealing import Sealer
from services.shep_gateway.usecases.sync_calls import SyncCalls
from services.shep_gateway.usecases.sync_timeouts import SyncTimeouts
from shared.clock import MeshClock
from shared.db import Sessions
from shared.mesh.bus import Bus, Delivery
from shared.mesh.failures import RetryPolicy
from shared.mesh.member import Composer
from shared.mesh.outbox import OutboxRelay
from shared.mesh.payload_crypto import Keyring


class Gateway:
    """What the ingress worker, the delivery watch and start-up call; each call is one use case's."""

    def __init__(self, *, settings: GatewaySettings, sessions: Sessions, bus: Bus, clock: MeshClock,
                 composer: Composer, relay: OutboxRelay, book: RegistryBook, accounts_enforced: bool = True) -> None:
        self.settings = settings
        self.clock = clock
        self.composer = composer
        self.book = book
        self.policy: RetryPolicy = settings.mesh.retry_policy()
        self.ledger = Ledger(sessions=sessions, bus=bus, relay=relay, composer=composer, clock=clock)
        sealer = Sealer(book=book, composer=composer, clock=clock)
        receipts = Receipts(receipt_timeout_s=settings.receipt_timeout_s)
        self.calls = SyncCalls(sessions=sessions)
        districts = DistrictLookups(book=book, composer=composer, clock=clock, settings=settings)
        self.scenarios = Scenarios(book=ScenarioBook())  # per-flow outcomes for tests (issue 20)
        self.outcomes = outcomes = Outcomes(ledger=self.ledger, sealer=sealer, composer=composer, book=book,
                                            districts=districts, calls=self.calls, receipts=receipts,
                                            scenarios=self.scenarios)
        self.decision = IngressDecision(book=book, routing=Routing(book=book, sessions=sessions, settings=settings),
                                        clock=clock, policy=self.policy, bus=bus, accounts_enforced=accounts_enforced,
                                        scenarios=self.scenarios)
        self.ingress = IngressCommit(ledger=self.ledger, outcomes=outcomes, calls=self.calls, bus=bus)
        self.failed = FailedMessages(decision=self.decision, ledger=self.ledger, outcomes=outcomes,
                                     districts=districts, calls=self.calls)
        self.timeouts = SyncTimeouts(ledger=self.ledger, sealer=sealer, composer=composer, clock=clock,
                                     outcomes=outcomes, districts=districts, calls=self.calls)
        self.calls.on_deadline = self.timeouts.fire
        self.redelivery = Redelivery(bus=bus, settings=settings, ledger=self.ledger, sealer=sealer,
                                     composer=composer, book=book, receipts=receipts, clock=clock)
        self.retention = Retention(ledger=self.ledger, composer=composer)

    @property
    def keyring(self) -> Keyring:
        return self.decision.keyring

    @keyring.setter
    def keyring(self, keyring: Keyring) -> None:
        """The gateway's keys (current and renewed-away-from) that payloads open with, loaded at start-up."""
        self.decision.keyring = keyring

    async def examine(self, delivery: Delivery) -> Examined:
        return await self.decision.examine(delivery)

    async def commit(self, batch: list[Examined]) -> None:
        await self.ingress.commit(batch)

    async def refuse_failed(self, delivery: Delivery, *, code: str, reason: str) -> None:
        await self.failed.refuse(delivery, code=code, reason=reason)

    async def redeliver_due(self) -> float | None:
        return await self.redelivery.redeliver_due()

    async def restore_timers(self) -> None:
        await self.calls.restore()

    def cancel_timers(self) -> None:
        self.calls.cancel_all()

    async def purge_log(self, *, older_than: dt.timedelta) -> int:
        return await self.retention.purge_log(older_than=older_than)

    async def purge_deliveries(self, *, older_than: dt.timedelta) -> int:
        return await self.retention.purge_deliveries(older_than=older_than)

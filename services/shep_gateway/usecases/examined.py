"""What the ingress use cases pass between them: a message as examined (its decision and the checks behind it) and
the transaction a batch of them is applied in."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from services.shep_gateway.domain import Decision
from services.shep_gateway.store import LogHead
from shared.mesh.bus import Delivery
from shared.mesh.envelope import EnvelopeHeader, ParsedEnvelope
from shared.mesh.payload_crypto import Wire


@dataclass
class Examined:
    delivery: Delivery
    message_id: str
    received_at: dt.datetime
    decision: Decision
    parsed: ParsedEnvelope | None = None
    checks: dict[str, Any] = field(default_factory=dict)
    proven: bool = False  # signed by a key pinned to its sender: only then is the sender told of a refusal
    wire: Wire | None = None  # as it arrived: its header readable, data and signature encrypted to the gateway

    @property
    def header(self) -> EnvelopeHeader | None:
        """What the message says of itself outside its encrypted part (all of it, once opened)."""
        return self.parsed.envelope if self.parsed else self.wire.header if self.wire else None

    @property
    def sender(self) -> str | None:
        return self.header.sender if self.header else None


@dataclass
class Txn:
    """One ingress transaction in the making: the log records it appends (and the chain head they lead to),
    the messages it publishes once committed, and the sync-call timers it arms afterwards."""

    session: AsyncSession
    head: LogHead
    records: list[dict[str, Any]] = field(default_factory=list)
    staged: list[dict[str, Any]] = field(default_factory=list)
    timers: list[tuple[str, float]] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)  # ON_DELIVERY until the member's receipt

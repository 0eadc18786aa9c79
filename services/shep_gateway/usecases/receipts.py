"""Delivery receipts (``shared.mesh.receipts``): what the gateway delivers on a member's queue is ON_DELIVERY until
that member's own receipt says it took it; then DELIVERED. Both are written in the transaction that routed the
delivery or took the receipt (``redelivery`` delivers again what no receipt came for)."""

from __future__ import annotations

import time

from sqlalchemy import bindparam, update
from sqlmodel.ext.asyncio.session import AsyncSession

from services.shep_gateway.store import DeliveryRow
from services.shep_gateway.usecases.examined import Examined, Txn
from shared.mesh.bus import OutgoingMessage
from shared.mesh.dead_letters import json_safe
from shared.mesh.envelope import EnvelopeHeader
from shared.mesh.receipts import DeliveryReceipt
from shared.mesh.topology import DELIVERY_EXCHANGE


class Receipts:
    def __init__(self, *, receipt_timeout_s: float) -> None:
        self._receipt_timeout_s = receipt_timeout_s

    def track(self, txn: Txn, message: OutgoingMessage, *, env: EnvelopeHeader, recipient: str, log_seq: int,
              routing_key: str) -> None:
        """A delivery on a member's queue stays ON_DELIVERY until the member acknowledges it."""
        now = time.time()
        txn.deliveries.append({
            "message_id": message.message_id, "recipient": recipient, "sender": env.sender,
            "message_type": env.message_type.value, "service_id": env.service_id,
            "correlation_id": env.correlation_id, "exchange": DELIVERY_EXCHANGE, "routing_key": routing_key,
            "body": message.body, "headers": json_safe(message.headers), "log_seq": log_seq, "state": "ON_DELIVERY",
            "attempts": 1, "first_sent_at": now, "next_attempt_at": now + self._receipt_timeout_s,
            "settled_at": None, "settled_by": None})

    @staticmethod
    async def receipted(txn: Txn, item: Examined) -> None:
        """A member's receipt: its delivery is DELIVERED — only the recipient's own receipt counts."""
        assert item.parsed is not None
        env = item.parsed.envelope
        receipt = DeliveryReceipt.model_validate(env.data)
        if await delivered(txn.session, message_id=receipt.message_id, recipient=env.sender,
                           settled_by=item.message_id):
            item.checks["receipt"] = "DELIVERED"
            return
        row = await txn.session.get(DeliveryRow, receipt.message_id)
        item.checks["receipt"] = ("no such delivery" if row is None else "not the recipient's"
                                  if row.recipient != env.sender else f"already {row.state}")


async def delivered(session: AsyncSession, *, message_id: str, recipient: str, settled_by: str) -> bool:
    """A delivery ``recipient`` acknowledged: ON_DELIVERY → DELIVERED (its body dropped), ``settled_by`` the receipt —
    a member's receipt message, or a SOAP member's answer to its push. False: it was not ON_DELIVERY to them."""
    done = await (await session.connection()).execute(_DELIVERED, {
        "mid": message_id, "to": recipient, "now": time.time(), "by": settled_by})
    return bool(done.rowcount)


_TABLE = DeliveryRow.__table__  # type: ignore[attr-defined]
_DELIVERED = update(_TABLE).where(  # built once: every receipt runs it (``Ledger``'s statements)
    _TABLE.c.message_id == bindparam("mid"), _TABLE.c.recipient == bindparam("to"),
    _TABLE.c.state == "ON_DELIVERY").values(state="DELIVERED", settled_at=bindparam("now"),
                                             settled_by=bindparam("by"), body=b"")

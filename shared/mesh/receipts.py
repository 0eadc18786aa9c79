"""Delivery receipts: a member tells the gateway it has recorded a delivery, so a delivery taken by anyone else
(a competing consumer on the member's queue — the broker's administrator can attach one) does not vanish.

The real ШЭП's asynchronous channel has ``sendDeliveryNotification`` and the delivery states ON_DELIVERY,
DELIVERED, NOT_DELIVERED and DELIVERY_STOPPED. Here a member's inbox, in the transaction that records a delivery
(or, for a copy it recorded already, in one of its own), queues a signed ``shep.delivery-receipt`` notification
to the gateway through its outbox: exactly once with the effect. The gateway keeps every delivery it makes on a
member's queue ON_DELIVERY until that receipt, delivers it again (the same sealed bytes; the member's inbox
de-duplicates by messageId) when none came within ``SHEP_RECEIPT_TIMEOUT_S``, doubling the wait each time, and
after ``SHEP_DELIVERY_ATTEMPTS`` attempts marks it NOT_DELIVERED: logged, dead-lettered, and its sender told
(``Server.NotDelivered``). Only an attempt that can have been taken counts — the member's queue has a consumer and
nothing waiting in it; a member that is down or behind is waited for without counting, so an outage still loses
nothing and fails no case. Synchronous calls need none: their caller waits with a deadline and hears an answer or
``Server.Timeout`` either way.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shared.mesh.contracts import Contract, register_contract
from shared.mesh.envelope import MessageType

RECEIPT_SERVICE = "shep.delivery-receipt"
NOT_DELIVERED = "Server.NotDelivered"
H_REDELIVERY = "x-shep-redelivery"  # on a copy the gateway delivers again: which attempt it is (2, 3, …)


class DeliveryReceipt(Contract):
    """A member's word that it recorded the delivery ``messageId`` (sealed under log record ``logSeq``)."""

    message_id: str = Field(alias="messageId", min_length=1, max_length=64)
    state: Literal["DELIVERED"] = "DELIVERED"
    log_seq: int | None = Field(default=None, alias="logSeq")


register_contract(service_id=RECEIPT_SERVICE, message_type=MessageType.NOTIFICATION, model=DeliveryReceipt)

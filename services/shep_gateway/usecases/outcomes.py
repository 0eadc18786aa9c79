"""A decision applied, inside the batch's transaction, by one ``match``: a routed message is logged and staged for
its recipient (encrypted to its key, sealed, tracked until its receipt); a refused one is logged, copied to the
dead-letter queue with the reason, and its proven sender told with an ERROR; a parked one waits for its district;
what is routed to the gateway itself is a receipt or the answer to its own lookup. Everything goes into the outbox
in that transaction: nothing is published before it commits."""

from __future__ import annotations

from typing import Any

import orjson

from services.shep_gateway.domain import Destination, Outcome, Parked, Refusal, Refused, Retry, Routed
from services.shep_gateway.registry_book import RegistryBook
from services.shep_gateway.usecases.district_lookup import DistrictLookups
from services.shep_gateway.usecases.examined import Examined, Txn
from services.shep_gateway.usecases.ledger import Ledger
from services.shep_gateway.usecases.receipts import Receipts
from services.shep_gateway.usecases.scenarios import Scenarios
from services.shep_gateway.usecases.sealing import Sealer
from services.shep_gateway.usecases.sync_calls import SyncCalls
from shared.logging import get_logger, message_context
from shared.mesh.bus import OutgoingMessage
from shared.mesh.contracts import ErrorPayload
from shared.mesh.dead_letters import dead_copy
from shared.mesh.envelope import MessageType, parse_envelope
from shared.mesh.journal import Journal
from shared.mesh.member import NUC, Composer
from shared.mesh.outbox import outbox_values
from shared.mesh.receipts import RECEIPT_SERVICE
from shared.mesh.topology import (
    DEAD_EXCHANGE,
    DELIVERY_EXCHANGE,
    H_DEADLINE,
    H_RECIPIENT,
    deadline_header,
    ingress_queue_of,
)
from shared.pki.cert_check import is_transient_refusal
from shared.telemetry import SpanKind, metrics, span

log = get_logger(__name__)


class Outcomes:
    def __init__(self, *, ledger: Ledger, sealer: Sealer, composer: Composer, book: RegistryBook,
                 districts: DistrictLookups, calls: SyncCalls, receipts: Receipts, scenarios: Scenarios) -> None:
        self._ledger = ledger
        self._scenarios = scenarios
        self._sealer = sealer
        self._composer = composer
        self._book = book
        self._districts = districts
        self._calls = calls
        self._receipts = receipts
        self.journal: Journal | None = None  # every decision, with its checks and the payload as opened

    @property
    def member_id(self) -> str:
        return self._composer.member_id

    async def apply(self, txn: Txn, *, item: Examined) -> None:
        """Apply ``item``'s decision inside a span continuing the trace its sender started (its ``traceparent``):
        what the gateway forwards, refuses or answers carries that trace on, and the log record keeps its id."""
        header = item.header
        with span(f"route {header.service_id if header else 'unparsed'}", kind=SpanKind.CONSUMER,
                  parent=item.delivery.headers,
                  attributes={"mesh.message_id": item.message_id, "mesh.sender": item.sender or "",
                              "mesh.message_type": header.message_type.value if header else ""}) as current:
            await self._apply(txn, item=item)
            decision = item.decision
            outcome = type(decision).__name__.lower()
            if self.journal is not None:
                try:
                    journal_decision(self.journal, item, outcome=outcome)
                except Exception:  # the tester's journal never fails the message it watches
                    log.exception("journal_record_failed")
            current.set_attribute("mesh.outcome", outcome)
            if isinstance(decision, Routed):
                current.set_attribute("mesh.recipient", decision.destination.recipient)
            elif isinstance(decision, Refused):
                current.set_attribute("mesh.refusal_code", decision.refusal.code)
                metrics().refused(decision.refusal.code)
            metrics().message_in(outcome)

    async def _apply(self, txn: Txn, *, item: Examined) -> None:
        decision = item.decision
        if isinstance(decision, Routed) and decision.destination.recipient != self.member_id and \
                self._book.encryption_certificate(decision.destination.recipient) is None:
            decision = item.decision = Refused(Refusal(
                "Server.RecipientKeyUnknown", f"{decision.destination.recipient} has no certificate pinned that "
                "allows key agreement, so its payload cannot be encrypted to it (a member renews its certificate "
                "when it is restarted)"))
        if isinstance(decision, Routed) and decision.destination.reply_to_caller:
            decision = await self._calls.answer_in_time(txn.session, item=item, routed=decision)
        match decision:
            case Parked(lookup=lookup):
                await self.apply(txn, item=self._districts.park(txn, item=item, lookup=lookup))
            case Routed(destination=destination) if destination.recipient == self.member_id:
                await self._to_gateway(txn, item)
            case Routed(destination=destination, deadline=deadline):
                self._routed(txn, item, destination=destination, deadline=deadline)
            case Refused(refusal=refusal):
                self._refused(txn, item, refusal=refusal)
            case Retry():
                raise AssertionError("a message to retry is not applied")

    async def _to_gateway(self, txn: Txn, item: Examined) -> None:
        """A member's receipt, or ГБД ФЛ's answer to the gateway's own lookup (which routes the request parked
        on it)."""
        assert item.parsed is not None
        receipt = item.parsed.envelope.service_id == RECEIPT_SERVICE
        if receipt:
            await self._receipts.receipted(txn, item)
        self._ledger.log(txn, item, outcome=Outcome.ROUTED, recipient=self.member_id)
        if not receipt:
            resumed = await self._districts.unpark(txn, answer=item)
            if resumed is not None:
                await self.apply(txn, item=resumed)

    def _routed(self, txn: Txn, item: Examined, *, destination: Destination, deadline: float | None) -> None:
        seq = self._ledger.log(txn, item, outcome=Outcome.ROUTED, recipient=destination.recipient)
        self._stage_delivery(txn, item=item, destination=destination, deadline=deadline, log_seq=seq)
        assert item.parsed is not None
        env = item.parsed.envelope
        with message_context(correlation_id=env.correlation_id, message_id=item.message_id,
                             service_id=env.service_id):
            log.info("message_routed", messageType=env.message_type.value, sender=env.sender,
                     recipient=destination.recipient)

    def _refused(self, txn: Txn, item: Examined, *, refusal: Refusal) -> None:
        head = item.header
        seq = self._ledger.log(txn, item, outcome=Outcome.REFUSED, refusal=refusal,
                               recipient=head.recipient if head else None)
        self._stage_refusal(txn, item=item, refusal=refusal, log_seq=seq)
        with message_context(correlation_id=head.correlation_id if head else None, message_id=item.message_id):
            log.warning("message_refused", code=refusal.code, reason=refusal.message, sender=item.sender)

    def _stage_delivery(self, txn: Txn, *, item: Examined, destination: Destination, deadline: float | None,
                        log_seq: int) -> None:
        assert item.parsed is not None
        env = item.parsed.envelope
        # the flow's scenario, with the rules the gateway holds for it (``usecases.scenarios``)
        headers: dict[str, Any] = {H_RECIPIENT: destination.recipient, **self._scenarios.delivery_headers(item)}
        if env.message_type is MessageType.REQUEST and destination.channel == "sync":
            assert deadline is not None
            # No broker TTL: the provider refuses a request it finds past this deadline, with a reason.
            headers[H_DEADLINE] = deadline_header(deadline)
            self._calls.open(txn, item=item, destination=destination, deadline=deadline)
        # Checked, logged: now encrypted for the recipient's key, and sealed as what the recipient gets.
        body = orjson.dumps(self._sealer.for_hop(item.parsed.raw, recipient=destination.recipient))
        sealed = self._sealer.sealed(headers, body=body, recipient=destination.recipient, log_seq=log_seq)
        message = OutgoingMessage(body=body, headers=sealed, message_id=item.message_id,
                                  correlation_id=env.correlation_id)
        txn.staged.append(outbox_values(exchange=destination.exchange, routing_key=destination.routing_key,
                                        message=message))
        if destination.channel == "async" and destination.exchange == DELIVERY_EXCHANGE:
            self._receipts.track(txn, message, env=env, recipient=destination.recipient, log_seq=log_seq,
                                 routing_key=destination.routing_key)

    def _stage_refusal(self, txn: Txn, *, item: Examined, refusal: Refusal, log_seq: int) -> None:
        queue = ingress_queue_of(item.delivery)
        txn.staged.append(outbox_values(exchange=DEAD_EXCHANGE, routing_key=queue, message=dead_copy(
            item.delivery, code=refusal.code, reason=refusal.message, queue=queue,
            body=self._sealer.dead_body(item))))
        target = self._error_target(item)
        if target is None:
            return
        exchange, routing_key = target
        env = item.header
        assert env is not None  # a proven sender: its envelope parsed
        assert item.sender is not None
        error = ErrorPayload(code=refusal.code, message=refusal.message, where="gateway",
                             refused_message_id=str(env.message_id),
                             details={"failedAt": NUC if is_transient_refusal(refusal.code) else "gateway"})
        wire = self._composer.compose(
            service_id=env.service_id, message_type=MessageType.ERROR, data=error.model_dump(by_alias=True),
            correlation_id=env.correlation_id, recipient=env.sender, in_reply_to=env.message_id)
        message = self._sealer.sealed_own(wire, recipient=item.sender, log_seq=log_seq)
        txn.staged.append(outbox_values(exchange=exchange, routing_key=routing_key, message=message))
        if exchange == DELIVERY_EXCHANGE:  # on the sender's own queue: it acknowledges this one too
            self._receipts.track(txn, message, env=parse_envelope(orjson.dumps(wire)).envelope,
                                 recipient=item.sender, log_seq=log_seq, routing_key=routing_key)

    def _error_target(self, item: Examined) -> tuple[str, str] | None:
        """Where a refusal is reported: to a proven sender only (a message anyone could have forged is not
        answered), on the caller's reply queue, else the sender's own queue. A SyncChannel call by SOAP is always
        answered: the reply queue is the gateway's own SOAP door's, which authenticated its caller (senderId and
        password) and answers it with a fault — a certificate revoked since the door checked it included."""
        if item.checks.get("door") == "soap" and item.delivery.reply_to:
            return "", item.delivery.reply_to
        if not item.proven or item.sender == self.member_id:
            return None
        if item.delivery.reply_to:
            return "", item.delivery.reply_to
        if item.sender is not None and item.sender in self._book.registry.members:
            return DELIVERY_EXCHANGE, item.sender
        return None


def journal_decision(journal: Journal, item: Examined, *, outcome: str) -> None:
    """The tester's journal entry of one decision: the envelope as the gateway read it (its data opened, when it
    could be), the checks it made and their results, and where it went or why it was refused."""
    header, decision = item.header, item.decision
    fields: dict[str, Any] = {"messageId": item.message_id, "sender": item.sender, "checks": dict(item.checks),
                              "outcome": outcome}
    if header is not None:
        fields.update(correlationId=header.correlation_id, serviceId=header.service_id,
                      messageType=header.message_type.value, recipient=header.recipient,
                      inReplyTo=str(header.in_reply_to) if header.in_reply_to else None)
    if isinstance(decision, Routed):
        fields.update(recipient=decision.destination.recipient, channel=decision.destination.channel)
    elif isinstance(decision, Refused):
        fields.update(code=decision.refusal.code, reason=decision.refusal.message)
    journal.record("envelope", payload=item.parsed.envelope.data if item.parsed else None, **fields)

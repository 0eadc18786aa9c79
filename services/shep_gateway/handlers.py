"""Gateway use cases.

Ingress, per message: parse → sender known → signature mathematics → certificate pinned to the sender →
certificate valid on the mesh clock and not revoked (OCSP) → payload fits its contract → route granted. The
checks return one ``Decision`` — ``Routed``, ``Refused``, ``Parked`` (district lookup) or ``Retry`` (НУЦ
unreachable) — and a batch of examined messages is then applied by one ``match`` in one transaction: the
chained, signed log records, the deliveries, the refusals (an ERROR back to a proven sender and a copy with
the reason to the dead-letter queue) all go into the outbox together, and the broker messages are acked only
after that commit. Park, unpark and time-outs produce decisions the same way and go through the same match.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import delete, func, union_all, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.shep_gateway.district_routing import (
    INTERNAL_REPLIES,
    LOOKUP_SERVICE,
    StoredDelivery,
    district_from_answer,
)
from services.shep_gateway.domain import (
    GENESIS_HASH,
    LOG_FIELDS,
    Decision,
    Destination,
    DistrictLookup,
    Outcome,
    Parked,
    PriorRequest,
    Refusal,
    Refused,
    Retry,
    Routed,
    anchor_content,
    chained,
    digest,
    record_content,
)
from services.shep_gateway.registry_book import RegistryBook
from services.shep_gateway.settings import GatewaySettings
from services.shep_gateway.store import DeliveryRow, LogAnchor, LogHead, LogRecord, ParkedRequest, SyncCall
from shared.clock import MeshClock
from shared.db import Sessions
from shared.errors import MeshError
from shared.logging import get_logger, message_context
from shared.mesh.bus import Bus, BusError, Delivery, OutgoingMessage
from shared.mesh.contracts import DUPLICATE_MESSAGE, ErrorPayload, parse_payload
from shared.mesh.dead_letters import copy_of, dead_copy, json_safe, withheld_body
from shared.mesh.envelope import EnvelopeHeader, MessageType, ParsedEnvelope, parse_envelope
from shared.mesh.failures import Attempts, Failure, FailureKind, RetryPolicy
from shared.mesh.member import NUC, Composer
from shared.mesh.outbox import OutboxRelay, StagedBatch, insert_outbox, mark_batch_sent, outbox_values, publish_in_order
from shared.mesh.payload_crypto import NOT_ENCRYPTED, Keyring, Wire, is_encrypted, open_wire, read_wire, seal_wire
from shared.mesh.receipts import H_REDELIVERY, NOT_DELIVERED, RECEIPT_SERVICE, DeliveryReceipt
from shared.mesh.seal import seal_headers
from shared.mesh.topology import (
    DEAD_EXCHANGE,
    DELIVERY_EXCHANGE,
    H_DEADLINE,
    H_PUBLISHER,
    H_RECIPIENT,
    INGRESS_QUEUE,
    RETRY_TIERS_S,
    deadline_header,
    first_publisher,
    member_queue,
    publish_retry,
    read_deadline,
    retry_queue,
)
from shared.pki.canonical import canonical_bytes
from shared.pki.cert_check import (
    Expectation,
    is_transient,
    is_transient_refusal,
    refusal_code,
    signature_refusal_code,
)
from shared.pki.cert_profile import Holder, Usage, serial_hex
from shared.pki.signing import SignatureError, sign_detached, verify_detached

log = get_logger(__name__)
LOOKUP_WAIT_MAX_S = 60.0  # the longest the gateway waits for one district lookup before asking again


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


class Gateway:
    def __init__(self, *, settings: GatewaySettings, sessions: Sessions, bus: Bus, clock: MeshClock,
                 composer: Composer, relay: OutboxRelay, book: RegistryBook, accounts_enforced: bool = True) -> None:
        self.settings = settings
        self.accounts_enforced = accounts_enforced  # each member publishes under its own broker login
        self._sessions = sessions
        self._bus = bus
        self.clock = clock
        self.composer = composer
        self._relay = relay
        self._book = book
        self.policy: RetryPolicy = settings.mesh.retry_policy()
        self._chain_lock = asyncio.Lock()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._published: list[tuple[str, int]] = []  # (outbox batch, rows published) not yet marked sent
        self.keyring = Keyring()  # the gateway's keys (current and renewed-away-from) that payloads open with

    @property
    def member_id(self) -> str:
        return self.composer.member_id

    @property
    def book(self) -> RegistryBook:
        return self._book

    # ---- ingress: examine ---------------------------------------------------------------------------------
    async def examine(self, delivery: Delivery) -> Examined:
        now = self.clock.now()
        try:
            wire = read_wire(delivery.body)
        except MeshError as exc:
            message_id = delivery.message_id or f"unparsable-{uuid.uuid4()}"
            return Examined(delivery=delivery, message_id=message_id[:64], received_at=now,
                            decision=Refused(Refusal(exc.code, exc.message)), checks={"envelope": "unparsable"})
        head = wire.header
        item = Examined(delivery=delivery, message_id=str(head.message_id), received_at=now,
                        decision=Refused(Refusal("Server.NotExamined", "not examined")), wire=wire,
                        checks={"envelope": "ok"})
        with message_context(correlation_id=head.correlation_id, message_id=item.message_id,
                             service_id=head.service_id):
            item.decision = await self._decide(item)
        return item

    async def _decide(self, item: Examined) -> Decision:
        assert item.wire is not None
        env = item.wire.header
        if item.delivery.message_id is not None and item.delivery.message_id != item.message_id:
            return Refused(Refusal("Client.MessageIdMismatch", "the transport message id differs from the envelope's"))
        member = self._book.registry.members.get(env.sender)
        if member is None:
            item.checks["sender"] = "unknown"
            return Refused(Refusal("Client.UnknownMember", f"{env.sender!r} is not a registered member system"))
        if not member.active:
            item.checks["sender"] = "suspended"
            return Refused(Refusal("Client.MemberSuspended", f"{env.sender} is suspended in the registry"))
        item.checks["sender"] = "known"
        if self.accounts_enforced:
            publisher = self._publisher(item.delivery)
            item.checks["publisher"] = publisher
            if publisher != env.sender:
                return Refused(Refusal("Client.PublisherMismatch", f"published under the broker login {publisher!r}, "
                                       f"not {env.sender!r}'s own: a member sends only in its own name"))
            item.proven = True  # the broker vouches: the sender's own login published it
        refusal = self._open(item)
        if refusal is not None:
            return Refused(refusal)
        refusal = await self._check_signature(item)
        if refusal is not None:
            return self._retry_or_refuse(item, refusal) if is_transient_refusal(refusal.code) else Refused(refusal)
        try:
            assert item.parsed is not None
            parse_payload(service_id=env.service_id, message_type=env.message_type, data=item.parsed.envelope.data)
        except MeshError as exc:
            item.checks["payload"] = "invalid"
            return Refused(Refusal(exc.code, exc.message))
        item.checks["payload"] = "ok"
        return await self._route(item)

    def _open(self, item: Examined) -> Refusal | None:
        """Decrypt the data and signature the sender encrypted to the gateway (``shared.mesh.payload_crypto``); a
        payload sent in clear crossed the broker readable and is refused, its dead letter keeping only a digest."""
        assert item.wire is not None
        if item.wire.encrypted is None:
            item.parsed, item.checks["encryption"] = item.wire.plain, "none"
            return Refusal(NOT_ENCRYPTED, "data and signature must travel encrypted to the gateway's certificate "
                           "(JWE, ECDH-ES with A256GCM, GET /certificate): they crossed the broker readable")
        try:
            item.parsed = open_wire(item.wire, self.keyring)
        except MeshError as exc:  # not for a key the gateway has, altered, or not an envelope's data inside
            item.checks["encryption"] = exc.code
            return Refusal(exc.code, exc.message)
        item.checks["encryption"] = "ok"
        return None

    def _publisher(self, delivery: Delivery) -> str | None:
        """The broker login that published ``delivery`` (RabbitMQ checked its user-id against the connection)."""
        return first_publisher(delivery, me=self._bus.login)

    async def _check_signature(self, item: Examined) -> Refusal | None:
        assert item.parsed is not None
        env = item.parsed.envelope
        try:
            verified = verify_detached(content=item.parsed.signed_bytes(), signature_b64=env.signature)
        except SignatureError as exc:
            item.checks["signature"] = {"ok": False, "signatureCode": exc.code}
            return Refusal(signature_refusal_code(exc.code), exc.message)
        serial = serial_hex(verified.signer)
        if not await self._book.is_pinned(member_id=env.sender, serial=serial):
            item.checks["signature"] = {"ok": False, "serial": serial, "pinned": False}
            return Refusal("Client.CertificateNotRegistered",
                           f"certificate {serial} is not registered for {env.sender} at the gateway")
        result = await self._book.verifier_or_fail().check(certificate=verified.signer, expect=Expectation(
            usage=Usage.SIGN, holder=Holder.SYSTEM, common_name=env.sender))
        item.checks["signature"] = result.summary()
        if result.ok:
            item.proven = True
            return None
        if is_transient(result):  # everything but revocation checked out: the key is the sender's
            item.proven = True
        return Refusal(refusal_code(result), result.message)

    def _retry_or_refuse(self, item: Examined, refusal: Refusal) -> Retry | Refused:
        """НУЦ cannot say now whether the sender's certificate is revoked (unreachable, or a clock not caught up
        with a mesh clock change): try again later, within the retry
        policy's window (and, for a synchronous call, before its deadline); refuse once that has passed."""
        headers = item.delivery.headers
        deadline = read_deadline(headers, default_s=0) if H_DEADLINE in headers else None
        failure = Failure(FailureKind.OUTAGE, refusal.code, refusal.message)
        attempts = Attempts.after_failure(headers, failure=failure)
        delay = self.policy.delay(failure, attempts, deadline_s=deadline)
        if delay is None:
            _code, reason = self.policy.gave_up(failure, attempts)
            return Refused(Refusal(refusal.code, reason))
        return Retry(refusal=refusal, delay_s=delay)

    async def _route(self, item: Examined) -> Decision:
        assert item.parsed is not None
        env = item.parsed.envelope
        if env.service_id == RECEIPT_SERVICE:  # a member's receipt for a delivery: the gateway's own business
            if env.message_type is not MessageType.NOTIFICATION or env.recipient not in (None, self.member_id):
                return Refused(Refusal("Client.InvalidReceipt", f"a {RECEIPT_SERVICE} is a NOTIFICATION to "
                                       f"{self.member_id}"))
            item.checks["route"] = self.member_id
            return Routed(Destination(recipient=self.member_id, exchange="", routing_key="", channel="async"))
        prior = None
        if env.message_type in (MessageType.RESPONSE, MessageType.ERROR):
            prior = await self._prior_request(env.in_reply_to)
        decision = self._book.registry.route(env, prior=prior)
        if isinstance(decision, Refusal):
            item.checks["route"] = "denied"
            return Refused(decision)
        if isinstance(decision, DistrictLookup):
            item.checks["route"] = "district of the applicant's registered address"
            return Parked(decision)
        item.checks["route"] = decision.recipient
        if decision.channel == "sync" and env.message_type is MessageType.REQUEST:
            if not item.delivery.reply_to:
                return Refused(Refusal("Client.ReplyToRequired", "a synchronous request names its reply queue "
                                       "(reply_to)"))
            now = time.time()
            asked = read_deadline(item.delivery.headers, default_s=now + self.settings.mesh.sync_timeout_s)
            deadline = min(asked, now + self.settings.max_sync_deadline_s)
            if deadline <= now:
                return Refused(Refusal("Server.Timeout", "the request's deadline passed before the gateway could "
                                       "route it"))
            return Routed(decision, deadline=deadline)
        return Routed(decision)

    async def _prior_request(self, message_id: uuid.UUID | None) -> PriorRequest | None:
        if message_id is None:
            return None
        async with self._sessions() as session:
            record = (await session.exec(select(LogRecord).where(
                LogRecord.message_id == str(message_id), LogRecord.outcome == Outcome.ROUTED.value,
                LogRecord.message_type == MessageType.REQUEST.value))).first()
            call = await session.get(SyncCall, str(message_id)) if record else None
        if record is None or record.sender is None:
            return None
        return PriorRequest(message_id=record.message_id, sender=record.sender, recipient=record.recipient,
                            service_id=record.service_id or "", sync_state=call.state if call else None,
                            reply_to=call.reply_to if call else None)

    # ---- ingress: commit ----------------------------------------------------------------------------------
    async def commit(self, batch: list[Examined]) -> None:
        """Record, route and refuse a batch in one transaction, publish what it staged, then ack."""
        retries = [e for e in batch if isinstance(e.decision, Retry)]
        final = [e for e in batch if not isinstance(e.decision, Retry)]
        if final:
            async with self._chain_lock:
                async with self._sessions() as session, session.begin():
                    logged = await self._already_logged(session, [e.message_id for e in final])
                    seen = set(logged)
                    txn = Txn(session=session, head=await self._lock_head(session))
                    for item in final:
                        if item.message_id in logged and item.delivery.redelivered:
                            # The broker handing back a delivery whose ack it lost (a gateway restart): the same
                            # message, handled already — not a second copy.
                            log.info("redelivery_already_handled", message_id=item.message_id)
                            continue
                        if item.message_id in seen:
                            await self._apply(txn, item=self._replayed(item))
                            continue
                        seen.add(item.message_id)
                        await self._apply(txn, item=item)
                    rows = await self._write(txn)
                for message_id, deadline in txn.timers:  # committed: the calls are open whatever happens next
                    self.schedule_timeout(message_id=message_id, deadline=deadline)
                await self._publish(rows)
        for item in retries:
            await self._retry(item)
        await self._bus.ack_all([item.delivery for item in final])

    @staticmethod
    def _replayed(item: Examined) -> Examined:
        """A second copy of a message already logged: not delivered again, but never dropped silently either —
        refused as ``Client.DuplicateMessage`` (logged, dead-lettered, its proven sender told). The log record
        gets an id of its own (the log keeps one record per message id); ``checks.replayOf`` names the first.

        A sender's own at-least-once redelivery ends here too; the ERROR it gets back names the first copy,
        which went through, and recipients do not apply it to a case (``shared.employment.case_tracking``)."""
        return Examined(delivery=item.delivery, message_id=f"{item.message_id}~{uuid.uuid4().hex[:8]}",
                        received_at=item.received_at, parsed=item.parsed, wire=item.wire, proven=item.proven,
                        checks={**item.checks, "replayOf": item.message_id},
                        decision=Refused(Refusal(DUPLICATE_MESSAGE, f"message {item.message_id} went through the "
                                                 "gateway already; this copy is not delivered again")))

    async def _apply(self, txn: Txn, *, item: Examined) -> None:
        decision = item.decision
        if isinstance(decision, Routed) and decision.destination.recipient != self.member_id and \
                self._book.encryption_certificate(decision.destination.recipient) is None:
            decision = item.decision = Refused(Refusal(
                "Server.RecipientKeyUnknown", f"{decision.destination.recipient} has no certificate pinned that "
                "allows key agreement, so its payload cannot be encrypted to it (a member renews its certificate "
                "when it is restarted)"))
        if isinstance(decision, Routed) and decision.destination.reply_to_caller:
            decision = await self._answer_in_time(txn.session, item=item, routed=decision)
        match decision:
            case Parked(lookup=lookup):
                await self._park(txn, item=item, lookup=lookup)
            case Routed(destination=destination) if destination.recipient == self.member_id:
                assert item.parsed is not None
                receipt = item.parsed.envelope.service_id == RECEIPT_SERVICE
                if receipt:
                    await self._receipted(txn, item)
                self._log(txn, item, outcome=Outcome.ROUTED, recipient=self.member_id)
                if not receipt:
                    await self._unpark(txn, answer=item)
            case Routed(destination=destination, deadline=deadline):
                seq = self._log(txn, item, outcome=Outcome.ROUTED, recipient=destination.recipient)
                self._stage_delivery(txn, item=item, destination=destination, deadline=deadline, log_seq=seq)
                assert item.parsed is not None
                env = item.parsed.envelope
                with message_context(correlation_id=env.correlation_id, message_id=item.message_id,
                                     service_id=env.service_id):
                    log.info("message_routed", messageType=env.message_type.value, sender=env.sender,
                             recipient=destination.recipient)
            case Refused(refusal=refusal):
                head = item.header
                seq = self._log(txn, item, outcome=Outcome.REFUSED, refusal=refusal,
                                recipient=head.recipient if head else None)
                self._stage_refusal(txn, item=item, refusal=refusal, log_seq=seq)
                with message_context(correlation_id=head.correlation_id if head else None,
                                     message_id=item.message_id):
                    log.warning("message_refused", code=refusal.code, reason=refusal.message, sender=item.sender)
            case Retry():
                raise AssertionError("a message to retry is not applied")

    async def _write(self, txn: Txn) -> StagedBatch:
        await self._mark_published(txn.session)
        if txn.records:
            await txn.session.exec(LogRecord.__table__.insert(), params=txn.records)  # type: ignore[attr-defined, call-overload]
        if txn.deliveries:
            await txn.session.exec(DeliveryRow.__table__.insert(), params=txn.deliveries)  # type: ignore[attr-defined, call-overload]
        await self._save_head(txn.session, txn.head)
        return await insert_outbox(txn.session, txn.staged)

    async def _publish(self, batch: StagedBatch) -> None:
        """Publish what a transaction just committed; anything left unsent is the relay's to recover.

        That the rows left is recorded in the next transaction (or by ``flush_published`` when traffic
        pauses): a crash in between only means the relay publishes them again, and receivers de-duplicate.
        """
        if not batch.rows:
            return
        done, failure = await publish_in_order(self._bus, batch.rows)
        if failure is not None:
            log.warning("gateway_publish_deferred", error=repr(failure[1])[:300])
            self._relay.kick()
        if done:
            self._published.append((batch.batch_id, done))

    async def _mark_published(self, session: AsyncSession) -> None:
        for batch_id, count in self._published:
            await mark_batch_sent(session, batch_id=batch_id, count=count)
        self._published.clear()

    async def flush_published(self) -> None:
        """Record what was published when no next batch is coming to carry it."""
        if not self._published:
            return
        async with self._chain_lock, self._sessions() as session, session.begin():
            await self._mark_published(session)

    async def _retry(self, item: Examined) -> None:
        assert isinstance(item.decision, Retry)
        attempts = Attempts.after_failure(item.delivery.headers, failure=Failure(
            FailureKind.OUTAGE, item.decision.refusal.code, item.decision.refusal.message))
        log.warning("ingress_retry_scheduled", message_id=item.message_id, attempt=attempts.attempt,
                    in_s=item.decision.delay_s, reason=item.decision.refusal.message)
        try:
            publisher = self._publisher(item.delivery)
            await publish_retry(self._bus, queue=INGRESS_QUEUE, tier_s=item.decision.delay_s, message=copy_of(
                item.delivery, headers={**item.delivery.headers, **attempts.headers(),
                                        **({H_PUBLISHER: publisher} if publisher else {})}))
        except BusError:
            await item.delivery.reject(requeue=True)
            return
        await item.delivery.ack()

    @staticmethod
    async def _already_logged(session: AsyncSession, ids: list[str]) -> set[str]:
        """Messages handled before: logged, or parked waiting for their district (one query on the hot path)."""
        logged = select(LogRecord.message_id).where(col(LogRecord.message_id).in_(ids))
        parked = select(ParkedRequest.message_id).where(col(ParkedRequest.message_id).in_(ids))
        rows = await session.exec(union_all(logged, parked))  # type: ignore[call-overload]
        return {row[0] for row in rows.all()}

    @staticmethod
    async def _lock_head(session: AsyncSession) -> LogHead:
        head = (await session.exec(select(LogHead).where(LogHead.id == 1).with_for_update())).first()
        return head or LogHead(id=1, seq=0, record_hash=GENESIS_HASH)

    @staticmethod
    async def _save_head(session: AsyncSession, head: LogHead) -> None:
        result = await session.exec(update(LogHead).where(col(LogHead.id) == 1)  # type: ignore[call-overload]
                                    .values(seq=head.seq, record_hash=head.record_hash))
        if result.rowcount == 0:  # the very first record
            session.add(LogHead(id=1, seq=head.seq, record_hash=head.record_hash))

    def _log(self, txn: Txn, item: Examined, *, outcome: Outcome, recipient: str | None,
             refusal: Refusal | None = None) -> int:
        """Chain a signed record of ``item`` after the transaction's head; its hash becomes the new head.
        Returns the record's sequence number, which the seal of what it delivers names."""
        parsed = item.parsed
        env = item.header
        raw = parsed.raw if parsed else item.wire.raw if item.wire else None
        row: dict[str, Any] = {
            "seq": txn.head.seq + 1, "message_id": item.message_id,
            "correlation_id": env.correlation_id if env else None, "service_id": env.service_id if env else None,
            "message_type": env.message_type.value if env else None, "sender": env.sender if env else None,
            "recipient": recipient, "route_id": env.route_id if env else None,
            "in_reply_to": str(env.in_reply_to) if env and env.in_reply_to else None,
            "message_date": raw.get("messageDate") if raw else None,
            "received_at": item.received_at.isoformat(), "outcome": outcome.value,
            "error_code": refusal.code if refusal else None,
            "error_reason": refusal.message[:1000] if refusal else None,
            "payload_digest": digest(canonical_bytes(parsed.envelope.data)) if parsed else None,
            "envelope_digest": digest(item.delivery.body), "checks": json_safe(item.checks),
            "prev_hash": txn.head.record_hash,
        }
        assert set(row) == set(LOG_FIELDS)
        assert self.composer.signer is not None
        content = record_content(chained(row))
        hashed = digest(content)
        signature = base64.b64encode(sign_detached(content=content, signer=self.composer.signer,
                                                   at=self.clock.now())).decode()
        txn.records.append({**row, "record_hash": hashed, "signature": signature,
                            "logged_at": dt.datetime.now(dt.UTC)})
        txn.head = LogHead(id=1, seq=row["seq"], record_hash=hashed)
        return int(row["seq"])

    def _sealed_own(self, wire: dict[str, Any], *, recipient: str, log_seq: int) -> OutgoingMessage:
        """An envelope the gateway wrote itself (an ERROR), encrypted and sealed for ``recipient`` — in clear only to
        a member with no certificate for key agreement yet: an ERROR holds a code and a reason, never a payload."""
        body = orjson.dumps(self._for_hop(wire, recipient=recipient))
        return OutgoingMessage(body=body, message_id=wire["messageId"], correlation_id=wire["correlationId"],
                               headers=self._sealed({}, body=body, recipient=recipient, log_seq=log_seq))

    def _for_hop(self, wire: dict[str, Any], *, recipient: str) -> dict[str, Any]:
        """A signed envelope's wire form with its data and signature encrypted to ``recipient``'s certificate."""
        certificate = self._book.encryption_certificate(recipient)
        return wire if certificate is None else seal_wire(wire, recipient=certificate)

    def _dead_body(self, item: Examined) -> bytes:
        """What the dead-letter queue keeps of a refused message: the envelope encrypted to the gateway (as it came,
        or encrypted now), never its payload in clear; one that cannot be encrypted is kept as its digest."""
        body = item.delivery.body
        if is_encrypted(body):
            return body
        if item.parsed is not None:
            return orjson.dumps(seal_wire(item.parsed.raw, recipient=self._book.own_certificate()))
        return withheld_body(body)

    def _sealed(self, headers: dict[str, Any], *, body: bytes, recipient: str, log_seq: int) -> dict[str, Any]:
        """``headers`` plus the gateway's seal over what it delivers (``shared.mesh.seal``)."""
        assert self.composer.signer is not None
        return {**headers, **seal_headers(body=body, log_seq=log_seq, recipient=recipient,
                                          signer=self.composer.signer, at=self.clock.now())}

    # ---- district routing: park, look the applicant up in ГБД ФЛ, route on the answer ----------------------
    def _lookup_request(self, *, iin: str, correlation_id: str, for_message: str,
                        attempt: int = 1) -> Examined | Refusal:
        """The gateway's own ``gbdfl.person-by-iin`` call, examined as if it had come through ingress.

        Each attempt waits twice as long as the one before, up to a minute: while ГБД ФЛ is down the lookups
        thin out (each one left in its queue is dead-lettered when it returns), and when it comes back the
        lookup waiting then is answered at once, so the request is routed within seconds of ГБД ФЛ's return.
        """
        wait_s = min(self.settings.mesh.sync_timeout_s * 2 ** (attempt - 1), LOOKUP_WAIT_MAX_S)
        wire = self.composer.compose(service_id=LOOKUP_SERVICE, message_type=MessageType.REQUEST,
                                     data={"iin": iin}, correlation_id=correlation_id)
        body = orjson.dumps(wire)
        parsed = parse_envelope(body)
        destination = self._book.registry.route_request(parsed.envelope)
        if not isinstance(destination, Destination):
            reason = destination.message if isinstance(destination, Refusal) else "the lookup itself needs a district"
            return Refusal("Server.RouteLookupDenied", f"the gateway cannot ask ГБД ФЛ for the applicant's "
                           f"district: {reason}")
        delivery = StoredDelivery(body=body, message_id=wire["messageId"], correlation_id=correlation_id,
                                  reply_to=INTERNAL_REPLIES)
        return Examined(delivery=delivery, message_id=wire["messageId"], received_at=self.clock.now(),
                        decision=Routed(destination, deadline=time.time() + wait_s),
                        parsed=parsed, proven=True,
                        checks={"origin": f"gateway: district of the applicant of {for_message}",
                                "route": destination.recipient})

    async def _park(self, txn: Txn, *, item: Examined, lookup: DistrictLookup) -> None:
        assert item.parsed is not None
        asked = self._lookup_request(iin=lookup.applicant_iin, correlation_id=item.parsed.envelope.correlation_id,
                                     for_message=item.message_id)
        if isinstance(asked, Refusal):
            item.decision = Refused(asked)
            await self._apply(txn, item=item)
            return
        txn.session.add(ParkedRequest(  # the envelope as its sender signed it: opened, in the gateway's own database
            message_id=item.message_id, lookup_id=asked.message_id, service_id=lookup.service_id,
            applicant_iin=lookup.applicant_iin, body=orjson.dumps(item.parsed.raw),
            headers=json_safe(item.delivery.headers),
            received_at=item.received_at, checks=json_safe(item.checks), parked_at=dt.datetime.now(dt.UTC)))
        log.info("request_parked_for_district", message_id=item.message_id, lookup_id=asked.message_id)
        await self._apply(txn, item=asked)

    async def _parked_by_lookup(self, session: AsyncSession, lookup_id: str) -> ParkedRequest | None:
        parked = (await session.exec(select(ParkedRequest).where(ParkedRequest.lookup_id == lookup_id)
                                     .with_for_update())).first()
        return parked if parked is not None and parked.state == "PARKED" else None

    @staticmethod
    def _resumed(parked: ParkedRequest, decision: Decision) -> Examined:
        delivery = StoredDelivery(body=parked.body, headers=dict(parked.headers), message_id=parked.message_id)
        parsed = parse_envelope(parked.body)
        delivery.correlation_id = parsed.envelope.correlation_id
        return Examined(delivery=delivery, message_id=parked.message_id, received_at=parked.received_at,
                        decision=decision, parsed=parsed, checks=dict(parked.checks), proven=True)

    @staticmethod
    def _resolve(txn: Txn, parked: ParkedRequest) -> None:
        parked.state, parked.resolved_at = "RESOLVED", dt.datetime.now(dt.UTC)
        txn.session.add(parked)

    async def _unpark(self, txn: Txn, *, answer: Examined) -> None:
        """ГБД ФЛ answered the gateway: route the parked request to the district it named, or refuse it."""
        assert answer.parsed is not None
        lookup_id = str(answer.parsed.envelope.in_reply_to)
        parked = await self._parked_by_lookup(txn.session, lookup_id)
        if parked is None:
            return
        self._resolve(txn, parked)
        request = parse_envelope(parked.body).envelope
        district = district_from_answer(answer.parsed.envelope)
        found = district if isinstance(district, Refusal) else \
            self._book.registry.route_request(request, looked_up_district=district)
        decision: Decision
        if isinstance(found, Destination):
            decision = Routed(found)
        elif isinstance(found, Refusal):
            decision = Refused(found)
        else:
            decision = Refused(Refusal("Client.RouteRequired", "the applicant's district could not be determined; "
                                       "set routeId"))
        item = self._resumed(parked, decision)
        item.checks["route"] = {"lookup": lookup_id, "district": None if isinstance(district, Refusal) else district,
                                **({"recipient": found.recipient} if isinstance(found, Destination) else {})}
        await self._apply(txn, item=item)

    async def _lookup_timed_out(self, txn: Txn, *, lookup_id: str) -> None:
        """ГБД ФЛ did not answer in time: ask again (the request stays parked while ГБД ФЛ is down), until the
        request has waited ``route_lookup_max_wait_s``; then refuse it."""
        parked = await self._parked_by_lookup(txn.session, lookup_id)
        if parked is None:
            return
        waited = (dt.datetime.now(dt.UTC) - (parked.parked_at or dt.datetime.now(dt.UTC))).total_seconds()
        request = parse_envelope(parked.body).envelope
        refusal: Refusal
        if waited < self.settings.route_lookup_max_wait_s:
            asked = self._lookup_request(iin=parked.applicant_iin, correlation_id=request.correlation_id,
                                         for_message=parked.message_id, attempt=parked.attempts + 1)
            if isinstance(asked, Examined):
                parked.lookup_id, parked.attempts = asked.message_id, parked.attempts + 1
                txn.session.add(parked)
                if parked.attempts in (2, 10) or parked.attempts % 60 == 0:
                    log.warning("district_lookup_still_waiting", message_id=parked.message_id,
                                attempts=parked.attempts, waited_s=round(waited))
                await self._apply(txn, item=asked)
                return
            refusal = asked
        else:
            refusal = Refusal("Server.RouteLookupFailed", f"ГБД ФЛ did not tell the applicant's district in "
                              f"{waited:.0f} s ({parked.attempts} attempts); try again later or set routeId")
        self._resolve(txn, parked)
        await self._apply(txn, item=self._resumed(parked, Refused(refusal)))

    def _stage_delivery(self, txn: Txn, *, item: Examined, destination: Destination, deadline: float | None,
                        log_seq: int) -> None:
        assert item.parsed is not None
        env = item.parsed.envelope
        headers: dict[str, Any] = {H_RECIPIENT: destination.recipient}
        if env.message_type is MessageType.REQUEST and destination.channel == "sync":
            assert deadline is not None
            assert item.delivery.reply_to
            # No broker TTL: the provider refuses a request it finds past this deadline, with a reason.
            headers[H_DEADLINE] = deadline_header(deadline)
            txn.session.add(SyncCall(message_id=item.message_id, caller=env.sender, provider=destination.recipient,
                                     service_id=env.service_id, correlation_id=env.correlation_id,
                                     reply_to=item.delivery.reply_to, deadline=deadline))
            txn.timers.append((item.message_id, deadline))
        # Checked, logged: now encrypted for the recipient's key, and sealed as what the recipient gets.
        body = orjson.dumps(self._for_hop(item.parsed.raw, recipient=destination.recipient))
        headers = self._sealed(headers, body=body, recipient=destination.recipient, log_seq=log_seq)
        message = OutgoingMessage(body=body, headers=headers, message_id=item.message_id,
                                  correlation_id=env.correlation_id)
        txn.staged.append(outbox_values(exchange=destination.exchange, routing_key=destination.routing_key,
                                        message=message))
        if destination.channel == "async" and destination.exchange == DELIVERY_EXCHANGE:
            self._track(txn, message, env=env, recipient=destination.recipient, log_seq=log_seq,
                        routing_key=destination.routing_key)

    async def _answer_in_time(self, session: AsyncSession, *, item: Examined, routed: Routed) -> Routed | Refused:
        """A synchronous answer closes its call; if the deadline or another answer got there first, refuse it."""
        assert item.parsed is not None
        call_id = str(item.parsed.envelope.in_reply_to)
        result = await session.exec(update(SyncCall).where(col(SyncCall.message_id) == call_id,  # type: ignore[call-overload]
                                                           col(SyncCall.state) == "PENDING").values(state="ANSWERED"))
        if result.rowcount:
            self._cancel_timer(call_id)
            return routed
        call = await session.get(SyncCall, call_id)
        if call is not None and call.state == "TIMED_OUT":
            return Refused(Refusal("Server.LateResponse", "the caller's deadline passed; it was told Server.Timeout"))
        return Refused(Refusal("Client.DuplicateResponse", f"request {call_id} is already answered"))

    def _stage_refusal(self, txn: Txn, *, item: Examined, refusal: Refusal, log_seq: int) -> None:
        txn.staged.append(outbox_values(exchange=DEAD_EXCHANGE, routing_key=INGRESS_QUEUE, message=dead_copy(
            item.delivery, code=refusal.code, reason=refusal.message, queue=INGRESS_QUEUE,
            body=self._dead_body(item))))
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
        wire = self.composer.compose(
            service_id=env.service_id, message_type=MessageType.ERROR, data=error.model_dump(by_alias=True),
            correlation_id=env.correlation_id, recipient=env.sender, in_reply_to=env.message_id)
        message = self._sealed_own(wire, recipient=item.sender, log_seq=log_seq)
        txn.staged.append(outbox_values(exchange=exchange, routing_key=routing_key, message=message))
        if exchange == DELIVERY_EXCHANGE:  # on the sender's own queue: it acknowledges this one too
            self._track(txn, message, env=parse_envelope(orjson.dumps(wire)).envelope, recipient=item.sender,
                        log_seq=log_seq, routing_key=routing_key)

    def _error_target(self, item: Examined) -> tuple[str, str] | None:
        """Where a refusal is reported: to a proven sender only (a message anyone could have forged is not
        answered), on the caller's reply queue, else the sender's own queue."""
        if not item.proven or item.sender == self.member_id:
            return None
        if item.delivery.reply_to:
            return "", item.delivery.reply_to
        if item.sender is not None and item.sender in self._book.registry.members:
            return DELIVERY_EXCHANGE, item.sender
        return None

    # ---- delivery receipts (shared.mesh.receipts) -------------------------------------------------------------------
    def _track(self, txn: Txn, message: OutgoingMessage, *, env: EnvelopeHeader, recipient: str, log_seq: int,
               routing_key: str) -> None:
        """A delivery on a member's queue stays ON_DELIVERY until the member acknowledges it."""
        now = time.time()
        txn.deliveries.append({
            "message_id": message.message_id, "recipient": recipient, "sender": env.sender,
            "message_type": env.message_type.value, "service_id": env.service_id,
            "correlation_id": env.correlation_id, "exchange": DELIVERY_EXCHANGE, "routing_key": routing_key,
            "body": message.body, "headers": json_safe(message.headers), "log_seq": log_seq, "state": "ON_DELIVERY",
            "attempts": 1, "first_sent_at": now, "next_attempt_at": now + self.settings.receipt_timeout_s,
            "settled_at": None, "settled_by": None})

    async def _receipted(self, txn: Txn, item: Examined) -> None:
        """A member's receipt: its delivery is DELIVERED — only the recipient's own receipt counts."""
        assert item.parsed is not None
        env = item.parsed.envelope
        receipt = DeliveryReceipt.model_validate(env.data)
        done = await txn.session.exec(update(DeliveryRow).where(  # type: ignore[call-overload]
            col(DeliveryRow.message_id) == receipt.message_id, col(DeliveryRow.recipient) == env.sender,
            col(DeliveryRow.state) == "ON_DELIVERY").values(state="DELIVERED", settled_at=time.time(),
                                                            settled_by=item.message_id, body=b""))
        if done.rowcount:
            item.checks["receipt"] = "DELIVERED"
            return
        row = await txn.session.get(DeliveryRow, receipt.message_id)
        item.checks["receipt"] = ("no such delivery" if row is None else "not the recipient's"
                                  if row.recipient != env.sender else f"already {row.state}")

    async def redeliver_due(self, *, limit: int = 200) -> float | None:
        """Deliver again each delivery no receipt came for in time (the same sealed bytes), or, once it has had
        ``SHEP_DELIVERY_ATTEMPTS``, mark it NOT_DELIVERED. Returns the seconds until the next one is due (None:
        nothing is on delivery).

        An attempt counts only when the delivery can have been taken: the member's queue has a consumer and holds
        nothing waiting. A member that is down (no consumer) or behind (messages still queued — ours may be among
        them) is waited for without counting, however long: an outage of a member loses nothing and fails no case,
        as before receipts existed; the row says what it waits for (``waits``, ``waitingFor``)."""
        now = time.time()
        async with self._sessions() as session:
            recipients = (await session.exec(select(DeliveryRow.recipient).where(
                DeliveryRow.state == "ON_DELIVERY", col(DeliveryRow.next_attempt_at) <= now).distinct())).all()
        present = []
        for recipient in recipients:  # one look at each member's queue, and one statement for all it waits with
            why = await self._member_absent(member_queue(recipient))
            if why is None:
                present.append(recipient)
            else:
                await self._wait_for_member(recipient, why=why, now=now)
        async with self._sessions() as session:
            due = (await session.exec(select(DeliveryRow).where(
                DeliveryRow.state == "ON_DELIVERY", col(DeliveryRow.next_attempt_at) <= now,
                col(DeliveryRow.recipient).in_(present)).order_by(col(DeliveryRow.next_attempt_at)).limit(limit))).all()
        for row in due:
            if row.attempts >= self.settings.delivery_attempts:
                await self._not_delivered(row)
            else:
                await self._deliver_again(row)
        async with self._sessions() as session:
            upcoming = (await session.exec(select(func.min(DeliveryRow.next_attempt_at)).where(
                DeliveryRow.state == "ON_DELIVERY"))).one()
        return None if upcoming is None else max(0.0, upcoming - time.time())

    async def _member_absent(self, queue: str) -> str | None:
        """Why a delivery on ``queue`` cannot have been taken yet (None: it can): no consumer, or messages waiting in
        the queue or in its retry tiers (a member holding deliveries through an outage of its own — OCSP, its
        database — parks them there: ``shared.mesh.failures``). A queue the broker cannot describe now is judged as
        before: attempts count."""
        try:
            status = await self._bus.queue_status(queue=queue)
            waiting = status.ready
            for tier in RETRY_TIERS_S:
                waiting += (await self._bus.queue_status(queue=retry_queue(queue, tier))).ready
        except BusError:
            return None
        if status.consumers == 0:
            return f"no consumer on {queue}: the member is down"
        if waiting:
            return f"{waiting} messages still queued on {queue} or its retry tiers"
        return None

    async def _wait_for_member(self, recipient: str, *, why: str, now: float) -> None:
        """Every delivery due to ``recipient`` waits one more receipt timeout, no attempt counted (one statement,
        however many: a member gone for good — a tester's own that went away — costs a statement a sweep)."""
        async with self._sessions() as session, session.begin():
            waited = await session.exec(update(DeliveryRow).where(  # type: ignore[call-overload]
                col(DeliveryRow.recipient) == recipient, col(DeliveryRow.state) == "ON_DELIVERY",
                col(DeliveryRow.next_attempt_at) <= now).values(
                waits=col(DeliveryRow.waits) + 1, waiting_for=why[:128],
                next_attempt_at=time.time() + self.settings.receipt_timeout_s))
        log.debug("deliveries_await_member", recipient=recipient, deliveries=waited.rowcount, reason=why)

    async def _deliver_again(self, row: DeliveryRow) -> None:
        """No receipt: the delivery was taken by someone else, or the member is slow or down. The same sealed
        bytes go to its queue again; its inbox takes a copy it has recorded as a duplicate (and acknowledges it)."""
        attempt = row.attempts + 1
        message = OutgoingMessage(body=row.body, headers={**row.headers, H_REDELIVERY: attempt},
                                  message_id=row.message_id, correlation_id=row.correlation_id)
        try:
            await self._bus.publish(exchange=row.exchange, routing_key=row.routing_key, message=message)
        except BusError as exc:  # looked at again next time
            log.warning("redelivery_deferred", message_id=row.message_id, error=str(exc)[:200])
            return
        wait = self.settings.receipt_timeout_s * 2 ** (attempt - 1)
        async with self._sessions() as session, session.begin():
            await session.exec(update(DeliveryRow).where(  # type: ignore[call-overload]
                col(DeliveryRow.message_id) == row.message_id, col(DeliveryRow.state) == "ON_DELIVERY",
                col(DeliveryRow.attempts) == row.attempts).values(attempts=attempt, next_attempt_at=time.time() + wait))
        with message_context(correlation_id=row.correlation_id, message_id=row.message_id):
            log.warning("delivery_not_acknowledged", recipient=row.recipient, attempt=attempt,
                        next_in_s=round(wait, 1))

    async def _not_delivered(self, row: DeliveryRow) -> None:
        """Every attempt went unacknowledged: NOT_DELIVERED — a log record of its own (``checks.notDelivered``
        names the message), the last copy in the dead-letter queue, and its sender told (``Server.NotDelivered``,
        naming the message), unless what was not delivered is itself an ERROR."""
        waited = time.time() - row.first_sent_at
        refusal = Refusal(NOT_DELIVERED, f"{row.recipient} did not acknowledge {row.message_id} after "
                          f"{row.attempts} deliveries over {waited:.0f} s: someone else took it from its queue, or "
                          "it is down")
        async with self._chain_lock:
            async with self._sessions() as session, session.begin():
                gone = await session.exec(update(DeliveryRow).where(  # type: ignore[call-overload]
                    col(DeliveryRow.message_id) == row.message_id, col(DeliveryRow.state) == "ON_DELIVERY")
                    .values(state="NOT_DELIVERED", settled_at=time.time(), settled_by=NOT_DELIVERED, body=b""))
                if not gone.rowcount:
                    return  # its receipt came meanwhile
                stored = StoredDelivery(body=row.body, headers=dict(row.headers), message_id=row.message_id,
                                        correlation_id=row.correlation_id)
                item = Examined(delivery=stored, message_id=f"{row.message_id}~not-delivered"[:64],
                                received_at=self.clock.now(), decision=Refused(refusal), wire=read_wire(row.body),
                                checks={"notDelivered": row.message_id, "attempts": row.attempts,
                                        "recipient": row.recipient})
                txn = Txn(session=session, head=await self._lock_head(session))
                seq = self._log(txn, item, outcome=Outcome.NOT_DELIVERED, recipient=row.recipient, refusal=refusal)
                txn.staged.append(outbox_values(exchange=DEAD_EXCHANGE, routing_key=row.routing_key, message=dead_copy(
                    stored, code=NOT_DELIVERED, reason=refusal.message, queue=member_queue(row.recipient))))
                if row.message_type != MessageType.ERROR.value and row.sender and row.sender != self.member_id \
                        and row.sender in self._book.registry.members:
                    error = ErrorPayload(code=NOT_DELIVERED, message=refusal.message, where="gateway",
                                         refused_message_id=row.message_id, details={"failedAt": row.recipient})
                    wire = self.composer.compose(
                        service_id=row.service_id or RECEIPT_SERVICE, message_type=MessageType.ERROR,
                        data=error.model_dump(by_alias=True), correlation_id=row.correlation_id or row.message_id,
                        recipient=row.sender, in_reply_to=uuid.UUID(row.message_id))
                    message = self._sealed_own(wire, recipient=row.sender, log_seq=seq)
                    txn.staged.append(outbox_values(exchange=DELIVERY_EXCHANGE, routing_key=row.sender,
                                                    message=message))
                    self._track(txn, message, env=parse_envelope(orjson.dumps(wire)).envelope, recipient=row.sender,
                                log_seq=seq, routing_key=row.sender)
                rows = await self._write(txn)
            await self._publish(rows)
        with message_context(correlation_id=row.correlation_id, message_id=row.message_id):
            log.error("delivery_not_delivered", recipient=row.recipient, attempts=row.attempts, sender=row.sender)

    async def purge_deliveries(self, *, older_than: dt.timedelta) -> int:
        """Forget settled deliveries (real time): the log keeps their record."""
        cutoff = time.time() - older_than.total_seconds()
        async with self._sessions() as session, session.begin():
            result = await session.exec(delete(DeliveryRow).where(  # type: ignore[call-overload]
                DeliveryRow.state != "ON_DELIVERY", col(DeliveryRow.settled_at) < cutoff))
        return int(result.rowcount or 0)

    # ---- synchronous deadlines ---------------------------------------------------------------------------
    def schedule_timeout(self, *, message_id: str, deadline: float) -> None:
        """A timer per call in flight; the database, not the timer, is the truth, so a restart re-arms them."""
        loop = asyncio.get_running_loop()
        delay = max(0.0, deadline - time.time())
        self._timers[message_id] = loop.call_later(
            delay, lambda: asyncio.ensure_future(self.fire_timeout(message_id=message_id)))

    def _cancel_timer(self, message_id: str) -> None:
        timer = self._timers.pop(message_id, None)
        if timer is not None:
            timer.cancel()

    def cancel_timers(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    async def restore_timers(self) -> None:
        async with self._sessions() as session:
            pending = (await session.exec(select(SyncCall).where(SyncCall.state == "PENDING"))).all()
        for call in pending:
            self.schedule_timeout(message_id=call.message_id, deadline=call.deadline)

    async def fire_timeout(self, *, message_id: str) -> None:
        """The provider did not answer in time: tell the caller Server.Timeout and log it."""
        self._timers.pop(message_id, None)
        try:
            async with self._chain_lock:
                async with self._sessions() as session, session.begin():
                    result = await session.exec(update(SyncCall).where(  # type: ignore[call-overload]
                        col(SyncCall.message_id) == message_id, col(SyncCall.state) == "PENDING")
                        .values(state="TIMED_OUT"))
                    if result.rowcount == 0:
                        return
                    call = await session.get(SyncCall, message_id)
                    assert call is not None
                    error = ErrorPayload(
                        code="Server.Timeout", where="gateway", refused_message_id=message_id,
                        message=f"{call.provider} did not answer {call.service_id} before the deadline",
                        details={"failedAt": call.provider})
                    wire = self.composer.compose(service_id=call.service_id, message_type=MessageType.ERROR,
                                                 data=error.model_dump(by_alias=True),
                                                 correlation_id=call.correlation_id, recipient=call.caller,
                                                 in_reply_to=uuid.UUID(message_id))
                    body = orjson.dumps(wire)
                    txn = Txn(session=session, head=await self._lock_head(session))
                    timeout = Examined(delivery=StoredDelivery(body=body), message_id=wire["messageId"],
                                       received_at=self.clock.now(), parsed=parse_envelope(body),
                                       decision=Refused(Refusal("Server.Timeout", error.message)),
                                       checks={"deadline": call.deadline})
                    seq = self._log(txn, timeout, outcome=Outcome.TIMEOUT, recipient=call.caller,
                                    refusal=Refusal("Server.Timeout", error.message))
                    if call.caller == self.member_id:  # the gateway's own district lookup
                        await self._lookup_timed_out(txn, lookup_id=message_id)
                    else:
                        txn.staged.append(outbox_values(exchange="", routing_key=call.reply_to, message=(
                            self._sealed_own(wire, recipient=call.caller, log_seq=seq))))
                    rows = await self._write(txn)
                for call_id, deadline in txn.timers:
                    self.schedule_timeout(message_id=call_id, deadline=deadline)
                await self._publish(rows)
            log.warning("sync_call_timed_out", message_id=message_id, service_id=call.service_id)
        except Exception:
            log.exception("sync_timeout_failed", message_id=message_id)
            # The call is still PENDING in the database: try again shortly rather than leave it open for ever.
            self.schedule_timeout(message_id=message_id, deadline=time.time() + 2.0)

    # ---- a message nothing can process ---------------------------------------------------------------------
    async def refuse_failed(self, delivery: Delivery, *, code: str, reason: str) -> None:
        """A message that failed every attempt is refused like any other — logged, copied to the dead-letter
        queue with the reason, its sender told if proven — in a transaction of its own. When it is ГБД ФЛ's
        answer to the gateway's own lookup, what failed is routing the request parked on it: that request is
        refused instead (the answer itself is logged as it came), so it is not asked for again and again."""
        item = await self.examine(delivery)
        refusal = Refusal(code, reason)
        item.checks["processing"] = "failed"
        async with self._chain_lock:
            async with self._sessions() as session, session.begin():
                if item.message_id in await self._already_logged(session, [item.message_id]):
                    return
                txn = Txn(session=session, head=await self._lock_head(session))
                parked = await self._lookup_answered(txn, item)
                if parked is not None:
                    self._resolve(txn, parked)
                    await self._apply(txn, item=self._resumed(parked, Refused(refusal)))
                else:
                    item.decision = Refused(refusal)
                    await self._apply(txn, item=item)
                rows = await self._write(txn)
            await self._publish(rows)

    async def _lookup_answered(self, txn: Txn, item: Examined) -> ParkedRequest | None:
        """If ``item`` is an answer to the gateway's own lookup: close the call, log the answer, and return the
        request parked on it."""
        routed = item.decision
        if not (isinstance(routed, Routed) and routed.destination.recipient == self.member_id and item.parsed):
            return None
        if not isinstance(await self._answer_in_time(txn.session, item=item, routed=routed), Routed):
            return None
        self._log(txn, item, outcome=Outcome.ROUTED, recipient=self.member_id)
        return await self._parked_by_lookup(txn.session, str(item.parsed.envelope.in_reply_to))

    # ---- retention -----------------------------------------------------------------------------------------
    async def purge_log(self, *, older_than: dt.timedelta) -> int:
        """Drop log records written (real time) before ``older_than`` ago, always a prefix of the chain, and
        leave a signed anchor — the last purged record's hash — from which the rest of the chain verifies."""
        cutoff = dt.datetime.now(dt.UTC) - older_than
        async with self._chain_lock, self._sessions() as session, session.begin():
            last = (await session.exec(select(func.max(LogRecord.seq)).where(col(LogRecord.logged_at) < cutoff))).one()
            if last is None:
                return 0
            record = await session.get(LogRecord, last)
            assert record is not None
            first = (await session.exec(select(func.min(LogRecord.seq)))).one() or last
            purged_at = dt.datetime.now(dt.UTC).isoformat()
            anchor = LogAnchor(seq=last, record_hash=record.record_hash, purged_records=last - first + 1,
                               purged_at=purged_at, signature="")
            assert self.composer.signer is not None
            anchor.signature = base64.b64encode(sign_detached(content=anchor_content(
                seq=anchor.seq, record_hash=anchor.record_hash, purged=anchor.purged_records, purged_at=purged_at),
                signer=self.composer.signer, at=dt.datetime.fromisoformat(purged_at))).decode()  # as purged_at: real
            session.add(anchor)
            await session.exec(delete(LogRecord).where(col(LogRecord.seq) <= last))  # type: ignore[call-overload]
            await session.exec(delete(ParkedRequest).where(  # type: ignore[call-overload]
                ParkedRequest.state == "RESOLVED", col(ParkedRequest.resolved_at) < cutoff))
            await session.exec(delete(SyncCall).where(  # type: ignore[call-overload]
                SyncCall.state != "PENDING", col(SyncCall.deadline) < cutoff.timestamp()))
        log.info("message_log_purged", up_to_seq=last, records=anchor.purged_records)
        return anchor.purged_records

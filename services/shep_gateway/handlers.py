"""Gateway use cases.

Ingress, per message: parse → sender known → signature mathematics → certificate pinned to the sender →
certificate valid on the mesh clock and not revoked (OCSP) → payload fits its contract → route granted.
A batch of examined messages is then committed in one transaction: the chained, signed log records, the
deliveries, the refusals (an ERROR back to the sender and a copy with the reason to the dead-letter queue)
all go into the outbox together, and the broker messages are acked only after that commit.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import time
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import union_all, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.shep_gateway.district_routing import (
    INTERNAL_REPLIES,
    LOOKUP_SERVICE,
    MAX_LOOKUPS,
    StoredDelivery,
    district_from_answer,
    storable_headers,
)
from services.shep_gateway.domain import (
    GENESIS_HASH,
    Destination,
    DistrictLookup,
    Outcome,
    PriorRequest,
    Refusal,
    digest,
    record_content,
)
from services.shep_gateway.registry_book import RegistryBook
from services.shep_gateway.settings import GatewaySettings
from services.shep_gateway.store import (
    LogHead,
    LogRecord,
    ParkedRequest,
    SyncCall,
)
from shared.bus import Bus, BusError, Delivery, OutgoingMessage
from shared.canonical import canonical_bytes
from shared.cert_check import (
    Expectation,
    is_transient,
    refusal_code,
    signature_refusal_code,
)
from shared.cert_profile import Holder, Usage, serial_hex
from shared.clock import MeshClock
from shared.consumer import copy_of
from shared.contracts import ErrorPayload, parse_payload
from shared.db import Sessions
from shared.envelope import MessageType, ParsedEnvelope, parse_envelope
from shared.errors import MeshError
from shared.logging import get_logger, message_context
from shared.member import Composer, outgoing
from shared.outbox import (
    OutboxRelay,
    StagedBatch,
    insert_outbox,
    mark_batch_sent,
    outbox_values,
    publish_in_order,
)
from shared.signing import SignatureError, sign_detached, verify_detached
from shared.topology import (
    DEAD_EXCHANGE,
    DELIVERY_EXCHANGE,
    H_ATTEMPT,
    H_DEADLINE,
    H_ORIGIN_QUEUE,
    H_RECIPIENT,
    H_REFUSAL_CODE,
    H_REFUSAL_REASON,
    INGRESS_QUEUE,
    RETRY_TIERS_S,
    deadline_header,
    read_deadline,
    retry_queue,
)

log = get_logger(__name__)
MAX_TRANSIENT_ATTEMPTS = 5


class Verdict(StrEnum):
    ROUTE = "ROUTE"
    REFUSE = "REFUSE"
    RETRY = "RETRY"
    PARK = "PARK"  # held until ГБД ФЛ tells the applicant's district


@dataclass
class Examined:
    delivery: Delivery
    message_id: str
    received_at: dt.datetime
    verdict: Verdict
    parsed: ParsedEnvelope | None = None
    destination: Destination | None = None
    refusal: Refusal | None = None
    checks: dict[str, Any] = field(default_factory=dict)
    deadline: float | None = None
    lookup: DistrictLookup | None = None

    @property
    def sender(self) -> str | None:
        return self.parsed.envelope.sender if self.parsed else None


@dataclass
class Txn:
    """One ingress transaction in the making: the log records it appends (and the chain head they lead to),
    the messages it publishes once committed, and the sync-call timers it arms afterwards."""

    session: AsyncSession
    head: LogHead
    records: list[dict[str, Any]] = field(default_factory=list)
    staged: list[dict[str, Any]] = field(default_factory=list)
    timers: list[tuple[str, float]] = field(default_factory=list)


class Gateway:
    def __init__(self, *, settings: GatewaySettings, sessions: Sessions, bus: Bus, clock: MeshClock,
                 composer: Composer, relay: OutboxRelay, book: RegistryBook) -> None:
        self.settings = settings
        self._sessions = sessions
        self._bus = bus
        self.clock = clock
        self.composer = composer
        self._relay = relay
        self._book = book
        self._chain_lock = asyncio.Lock()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._published: list[tuple[str, int]] = []  # (outbox batch, rows published) not yet marked sent

    # ---- ingress: examine ---------------------------------------------------------------------------------
    async def examine(self, delivery: Delivery) -> Examined:
        now = self.clock.now()
        try:
            parsed = parse_envelope(delivery.body)
        except MeshError as exc:
            message_id = delivery.message_id or f"unparsable-{uuid.uuid4()}"
            return Examined(delivery=delivery, message_id=message_id[:64], received_at=now, verdict=Verdict.REFUSE,
                            refusal=Refusal(exc.code, exc.message), checks={"envelope": "unparsable"})
        env = parsed.envelope
        item = Examined(delivery=delivery, message_id=str(env.message_id), received_at=now, verdict=Verdict.REFUSE,
                        parsed=parsed, checks={"envelope": "ok"})
        with message_context(correlation_id=env.correlation_id, message_id=item.message_id):
            refusal = await self._check(item)
        if refusal is None:
            return item
        if refusal.code == "Server.OcspResponderUnreachable":
            attempts = int(delivery.headers.get(H_ATTEMPT, 0)) + 1
            if attempts < MAX_TRANSIENT_ATTEMPTS:
                item.verdict = Verdict.RETRY
        item.refusal = refusal
        return item

    async def _check(self, item: Examined) -> Refusal | None:
        assert item.parsed is not None
        env = item.parsed.envelope
        if item.delivery.message_id is not None and item.delivery.message_id != item.message_id:
            return Refusal("Client.MessageIdMismatch", "the transport message id differs from the envelope's")
        member = self._book.registry.members.get(env.sender)
        if member is None:
            item.checks["sender"] = "unknown"
            return Refusal("Client.UnknownMember", f"{env.sender!r} is not a registered member system")
        if not member.active:
            item.checks["sender"] = "suspended"
            return Refusal("Client.MemberSuspended", f"{env.sender} is suspended in the registry")
        item.checks["sender"] = "known"
        refusal = await self._check_signature(item)
        if refusal is not None:
            return refusal
        try:
            parse_payload(service_id=env.service_id, message_type=env.message_type, data=env.data)
        except MeshError as exc:
            item.checks["payload"] = "invalid"
            return Refusal(exc.code, exc.message)
        item.checks["payload"] = "ok"
        return await self._check_route(item)

    async def _check_signature(self, item: Examined) -> Refusal | None:
        assert item.parsed is not None
        env = item.parsed.envelope
        try:
            verified = verify_detached(content=item.parsed.signed_bytes(), signature_b64=env.signature)
        except SignatureError as exc:
            item.checks["signature"] = {"ok": False, "signatureCode": exc.code}
            return Refusal(signature_refusal_code(exc.code), exc.message)
        serial = serial_hex(verified.signer)
        if serial not in self._book.pinned(env.sender):
            item.checks["signature"] = {"ok": False, "serial": serial, "pinned": False}
            return Refusal("Client.CertificateNotRegistered",
                           f"certificate {serial} is not registered for {env.sender} at the gateway")
        result = await self._book.verifier_or_fail().check(certificate=verified.signer, expect=Expectation(
            usage=Usage.SIGN, holder=Holder.SYSTEM, common_name=env.sender))
        item.checks["signature"] = result.summary()
        if not result.ok:
            code = refusal_code(result)
            return Refusal("Server.OcspResponderUnreachable" if is_transient(result) else code, result.message)
        return None

    async def _check_route(self, item: Examined) -> Refusal | None:
        assert item.parsed is not None
        env = item.parsed.envelope
        prior = None
        if env.message_type in (MessageType.RESPONSE, MessageType.ERROR):
            prior = await self._prior_request(env.in_reply_to)
        decision = self._book.registry.route(env, prior=prior)
        if isinstance(decision, Refusal):
            item.checks["route"] = "denied"
            return decision
        if isinstance(decision, DistrictLookup):
            item.checks["route"] = "district of the applicant's registered address"
            item.lookup = decision
            item.verdict = Verdict.PARK
            return None
        item.checks["route"] = decision.recipient
        if decision.channel == "sync" and env.message_type is MessageType.REQUEST:
            if not item.delivery.reply_to:
                return Refusal("Client.ReplyToRequired", "a synchronous request names its reply queue (reply_to)")
            now = time.time()
            asked = read_deadline(item.delivery.headers, default_s=now + self.settings.mesh.sync_timeout_s)
            item.deadline = min(asked, now + self.settings.max_sync_deadline_s)
            if item.deadline <= now:
                return Refusal("Server.Timeout", "the request's deadline passed before the gateway could route it")
        item.destination = decision
        item.verdict = Verdict.ROUTE
        return None

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
        retries = [e for e in batch if e.verdict is Verdict.RETRY]
        final = [e for e in batch if e.verdict is not Verdict.RETRY]
        timers: list[tuple[str, float]] = []
        if final:
            async with self._chain_lock:
                async with self._sessions() as session, session.begin():
                    seen = await self._already_logged(session, [e.message_id for e in final])
                    txn = Txn(session=session, head=await self._lock_head(session))
                    for item in final:
                        if item.message_id in seen:
                            log.info("duplicate_ignored", message_id=item.message_id)
                            continue
                        seen.add(item.message_id)
                        await self._apply(txn, item=item)
                    rows = await self._write(txn)
                await self._publish(rows)
            timers = txn.timers
        for message_id, deadline in timers:
            self.schedule_timeout(message_id=message_id, deadline=deadline)
        for item in retries:
            await self._retry(item)
        await self._bus.ack_all([item.delivery for item in final])

    async def _write(self, txn: Txn) -> StagedBatch:
        await self._mark_published(txn.session)
        if txn.records:
            await txn.session.exec(LogRecord.__table__.insert(), params=txn.records)  # type: ignore[attr-defined, call-overload]
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
        attempt = int(item.delivery.headers.get(H_ATTEMPT, 0)) + 1
        tier = RETRY_TIERS_S[min(attempt - 1, len(RETRY_TIERS_S) - 1)]
        log.warning("ingress_retry_scheduled", message_id=item.message_id, attempt=attempt, in_s=tier,
                    reason=item.refusal.message if item.refusal else "")
        try:
            await self._bus.publish(exchange="", routing_key=retry_queue(INGRESS_QUEUE, tier), message=copy_of(
                item.delivery, headers={**item.delivery.headers, H_ATTEMPT: attempt}))
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

    async def _apply(self, txn: Txn, *, item: Examined) -> None:
        if item.verdict is Verdict.PARK:
            await self._park(txn, item=item)
            return
        if item.verdict is Verdict.ROUTE and item.destination is not None and item.destination.reply_to_caller:
            await self._close_sync_call(txn.session, item=item)
        if item.verdict is Verdict.ROUTE and item.destination is not None \
                and item.destination.recipient == self.composer.member_id:
            self._append(txn, parsed=item.parsed, message_id=item.message_id, raw=item.delivery.body,
                         received_at=item.received_at, outcome=Outcome.ROUTED, recipient=self.composer.member_id,
                         code=None, reason=None, checks=item.checks)
            await self._unpark(txn, answer=item)
            return
        if item.verdict is Verdict.ROUTE:
            assert item.destination is not None
            assert item.parsed is not None
            self._stage_delivery(txn, item=item)
            outcome, code, reason = Outcome.ROUTED, None, None
            recipient = item.destination.recipient
        else:
            assert item.refusal is not None
            self._stage_refusal(txn, item=item)
            outcome, code, reason = Outcome.REFUSED, item.refusal.code, item.refusal.message
            recipient = item.parsed.envelope.recipient if item.parsed else None
            log.warning("message_refused", code=code, reason=reason, message_id=item.message_id,
                        sender=item.sender)
        self._append(txn, parsed=item.parsed, message_id=item.message_id, raw=item.delivery.body,
                     received_at=item.received_at, outcome=outcome, recipient=recipient, code=code, reason=reason,
                     checks=item.checks)

    def _append(self, txn: Txn, *, parsed: ParsedEnvelope | None, message_id: str, raw: bytes,
                received_at: dt.datetime, outcome: Outcome, recipient: str | None, code: str | None,
                reason: str | None, checks: dict[str, Any]) -> None:
        """Add a signed record to the chain; its hash becomes the transaction's new head."""
        head = txn.head
        """Chain one record after ``head``, sign it, and add its row to ``records``; returns the new head."""
        env = parsed.envelope if parsed else None
        fields: dict[str, Any] = {
            "seq": head.seq + 1, "messageId": message_id,
            "correlationId": env.correlation_id if env else None, "serviceId": env.service_id if env else None,
            "messageType": env.message_type.value if env else None, "sender": env.sender if env else None,
            "recipient": recipient, "routeId": env.route_id if env else None,
            "inReplyTo": str(env.in_reply_to) if env and env.in_reply_to else None,
            "messageDate": parsed.raw.get("messageDate") if parsed else None,
            "receivedAt": received_at.isoformat(), "outcome": outcome.value, "errorCode": code,
            "errorReason": reason[:1000] if reason else None,
            "payloadDigest": digest(canonical_bytes(env.data)) if env else None, "envelopeDigest": digest(raw),
            "checks": checks, "prevHash": head.record_hash,
        }
        assert self.composer.signer is not None
        content = record_content(fields)
        hashed = digest(content)
        signature = base64.b64encode(sign_detached(content=content, signer=self.composer.signer)).decode()
        txn.records.append({
            "seq": fields["seq"], "message_id": message_id, "correlation_id": fields["correlationId"],
            "service_id": fields["serviceId"], "message_type": fields["messageType"], "sender": fields["sender"],
            "recipient": recipient, "route_id": fields["routeId"], "in_reply_to": fields["inReplyTo"],
            "message_date": fields["messageDate"], "received_at": fields["receivedAt"], "outcome": outcome.value,
            "error_code": code, "error_reason": fields["errorReason"], "payload_digest": fields["payloadDigest"],
            "envelope_digest": fields["envelopeDigest"], "checks": checks, "prev_hash": head.record_hash,
            "record_hash": hashed, "signature": signature})
        txn.head = LogHead(id=1, seq=fields["seq"], record_hash=hashed)

    # ---- district routing: park, look the applicant up in ГБД ФЛ, route on the answer ----------------------
    def _lookup_request(self, *, iin: str, correlation_id: str, for_message: str) -> Examined | Refusal:
        """The gateway's own ``gbdfl.person-by-iin`` call, examined as if it had come through ingress."""
        wire = self.composer.compose(service_id=LOOKUP_SERVICE, message_type=MessageType.REQUEST,
                                     data={"iin": iin}, correlation_id=correlation_id)
        body = orjson.dumps(wire)
        parsed = parse_envelope(body)
        decision = self._book.registry.route_request(parsed.envelope)
        if not isinstance(decision, Destination):
            reason = decision.message if isinstance(decision, Refusal) else "the lookup itself needs a district"
            return Refusal("Server.RouteLookupDenied", f"the gateway cannot ask ГБД ФЛ for the applicant's "
                           f"district: {reason}")
        delivery = StoredDelivery(body=body, message_id=wire["messageId"], correlation_id=correlation_id,
                                  reply_to=INTERNAL_REPLIES)
        return Examined(delivery=delivery, message_id=wire["messageId"], received_at=self.clock.now(),
                        verdict=Verdict.ROUTE, parsed=parsed, destination=decision,
                        checks={"origin": f"gateway: district of the applicant of {for_message}",
                                "route": decision.recipient},
                        deadline=time.time() + self.settings.mesh.sync_timeout_s)

    async def _park(self, txn: Txn, *, item: Examined) -> None:
        assert item.lookup is not None
        assert item.parsed is not None
        lookup = self._lookup_request(iin=item.lookup.applicant_iin, correlation_id=item.parsed.envelope.correlation_id,
                                      for_message=item.message_id)
        if isinstance(lookup, Refusal):
            item.verdict, item.refusal = Verdict.REFUSE, lookup
            await self._apply(txn, item=item)
            return
        txn.session.add(ParkedRequest(
            message_id=item.message_id, lookup_id=lookup.message_id, service_id=item.lookup.service_id,
            applicant_iin=item.lookup.applicant_iin, body=item.delivery.body,
            headers=storable_headers(item.delivery.headers), received_at=item.received_at, checks=item.checks))
        log.info("request_parked_for_district", message_id=item.message_id, lookup_id=lookup.message_id)
        await self._apply(txn, item=lookup)

    async def _parked_by_lookup(self, session: AsyncSession, lookup_id: str) -> ParkedRequest | None:
        parked = (await session.exec(select(ParkedRequest).where(ParkedRequest.lookup_id == lookup_id)
                                     .with_for_update())).first()
        return parked if parked is not None and parked.state == "PARKED" else None

    def _resumed(self, parked: ParkedRequest) -> Examined:
        delivery = StoredDelivery(body=parked.body, headers=dict(parked.headers), message_id=parked.message_id)
        parsed = parse_envelope(parked.body)
        delivery.correlation_id = parsed.envelope.correlation_id
        return Examined(delivery=delivery, message_id=parked.message_id, received_at=parked.received_at,
                        verdict=Verdict.REFUSE, parsed=parsed, checks=dict(parked.checks))

    async def _unpark(self, txn: Txn, *, answer: Examined) -> None:
        """ГБД ФЛ answered the gateway: route the parked request to the district it named, or refuse it."""
        assert answer.parsed is not None
        lookup_id = str(answer.parsed.envelope.in_reply_to)
        parked = await self._parked_by_lookup(txn.session, lookup_id)
        if parked is None:
            return
        parked.state = "RESOLVED"
        txn.session.add(parked)
        item = self._resumed(parked)
        assert item.parsed is not None
        district = district_from_answer(answer.parsed.envelope)
        decision = district if isinstance(district, Refusal) else \
            self._book.registry.route_request(item.parsed.envelope, looked_up_district=district)
        item.checks["route"] = {"lookup": lookup_id, "district": None if isinstance(district, Refusal) else district}
        if isinstance(decision, Destination):
            item.verdict, item.destination = Verdict.ROUTE, decision
            item.checks["route"]["recipient"] = decision.recipient
        else:
            item.refusal = decision if isinstance(decision, Refusal) else Refusal(
                "Client.RouteRequired", "the applicant's district could not be determined; set routeId")
        await self._apply(txn, item=item)

    async def _lookup_timed_out(self, txn: Txn, *, lookup_id: str) -> None:
        """Ask again (the answer may have been lost in a restart) a few times, then refuse the parked request."""
        parked = await self._parked_by_lookup(txn.session, lookup_id)
        if parked is None:
            return
        item = self._resumed(parked)
        assert item.parsed is not None
        if parked.attempts < MAX_LOOKUPS:
            lookup = self._lookup_request(iin=parked.applicant_iin, correlation_id=item.parsed.envelope.correlation_id,
                                          for_message=parked.message_id)
            if isinstance(lookup, Examined):
                parked.lookup_id, parked.attempts = lookup.message_id, parked.attempts + 1
                txn.session.add(parked)
                await self._apply(txn, item=lookup)
                return
            item.refusal = lookup
        else:
            item.refusal = Refusal("Server.RouteLookupFailed", f"ГБД ФЛ did not tell the applicant's district in "
                                   f"{MAX_LOOKUPS} attempts; try again later or set routeId")
        parked.state = "RESOLVED"
        txn.session.add(parked)
        await self._apply(txn, item=item)

    def _stage_delivery(self, txn: Txn, *, item: Examined) -> None:
        assert item.destination is not None
        assert item.parsed is not None
        dest, env = item.destination, item.parsed.envelope
        headers: dict[str, Any] = {H_RECIPIENT: dest.recipient}
        expiration = None
        if env.message_type is MessageType.REQUEST and dest.channel == "sync":
            assert item.deadline is not None
            assert item.delivery.reply_to
            headers[H_DEADLINE] = deadline_header(item.deadline)
            expiration = max(1, int((item.deadline - time.time()) * 1000))
            txn.session.add(SyncCall(message_id=item.message_id, caller=env.sender, provider=dest.recipient,
                                     service_id=env.service_id, correlation_id=env.correlation_id,
                                     reply_to=item.delivery.reply_to, deadline=item.deadline))
            txn.timers.append((item.message_id, item.deadline))
        txn.staged.append(outbox_values(exchange=dest.exchange, routing_key=dest.routing_key, message=OutgoingMessage(
            body=item.delivery.body, headers=headers, message_id=item.message_id,
            correlation_id=env.correlation_id, expiration_ms=expiration)))

    async def _close_sync_call(self, session: AsyncSession, *, item: Examined) -> None:
        """Mark the call answered; if the deadline or another answer got there first, refuse this one."""
        assert item.parsed is not None
        call_id = str(item.parsed.envelope.in_reply_to)
        result = await session.exec(update(SyncCall).where(col(SyncCall.message_id) == call_id,  # type: ignore[call-overload]
                                                           col(SyncCall.state) == "PENDING").values(state="ANSWERED"))
        if result.rowcount == 0:
            call = await session.get(SyncCall, call_id)
            late = call is not None and call.state == "TIMED_OUT"
            item.verdict = Verdict.REFUSE
            item.refusal = (Refusal("Server.LateResponse", "the caller's deadline passed; it was told Server.Timeout")
                            if late else Refusal("Client.DuplicateResponse", f"request {call_id} is already answered"))
        else:
            self._cancel_timer(call_id)

    def _stage_refusal(self, txn: Txn, *, item: Examined) -> None:
        assert item.refusal is not None
        dead_headers = {**item.delivery.headers, H_REFUSAL_CODE: item.refusal.code,
                        H_REFUSAL_REASON: item.refusal.message[:1000], H_ORIGIN_QUEUE: INGRESS_QUEUE}
        txn.staged.append(outbox_values(exchange=DEAD_EXCHANGE, routing_key=INGRESS_QUEUE,
                                    message=copy_of(item.delivery, headers=dead_headers)))
        target = self._error_target(item)
        if target is None:
            return
        exchange, routing_key = target
        env = item.parsed.envelope if item.parsed else None
        error = ErrorPayload(code=item.refusal.code, message=item.refusal.message, where="gateway",
                             refused_message_id=item.message_id)
        in_reply_to = env.message_id if env else None
        wire = self.composer.compose(
            service_id=env.service_id if env else "shep.refusal", message_type=MessageType.ERROR,
            data=error.model_dump(by_alias=True), correlation_id=env.correlation_id if env else item.message_id,
            recipient=env.sender if env and env.sender in self._book.registry.members else None,
            in_reply_to=in_reply_to)
        txn.staged.append(outbox_values(exchange=exchange, routing_key=routing_key, message=outgoing(wire)))

    def _error_target(self, item: Examined) -> tuple[str, str] | None:
        """Where a refusal is reported: the caller's reply queue, else the sender's own queue if it exists."""
        if item.delivery.reply_to:
            return "", item.delivery.reply_to
        sender = item.sender
        if sender is not None and sender in self._book.registry.members and sender != self.composer.member_id:
            return DELIVERY_EXCHANGE, sender
        return None

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
                        message=f"{call.provider} did not answer {call.service_id} before the deadline")
                    wire = self.composer.compose(service_id=call.service_id, message_type=MessageType.ERROR,
                                                 data=error.model_dump(by_alias=True),
                                                 correlation_id=call.correlation_id, recipient=call.caller,
                                                 in_reply_to=uuid.UUID(message_id))
                    body = orjson.dumps(wire)
                    txn = Txn(session=session, head=await self._lock_head(session))
                    self._append(txn, parsed=parse_envelope(body), message_id=wire["messageId"], raw=body,
                                 received_at=self.clock.now(), outcome=Outcome.TIMEOUT, recipient=call.caller,
                                 code="Server.Timeout", reason=error.message, checks={"deadline": call.deadline})
                    if call.caller == self.composer.member_id:  # the gateway's own district lookup
                        await self._lookup_timed_out(txn, lookup_id=message_id)
                    else:
                        txn.staged.append(outbox_values(exchange="", routing_key=call.reply_to, message=outgoing(wire)))
                    rows = await self._write(txn)
                await self._publish(rows)
            for call_id, deadline in txn.timers:
                self.schedule_timeout(message_id=call_id, deadline=deadline)
            log.warning("sync_call_timed_out", message_id=message_id, service_id=call.service_id)
        except Exception:
            log.exception("sync_timeout_failed", message_id=message_id)

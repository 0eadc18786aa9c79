"""A member system's side of the mesh: compose and sign envelopes, send them through the outbox, call
synchronous services, and receive verified, typed messages from the gateway.

Every incoming envelope is checked again here, as the recipient must: it parses, it is addressed to this
member, it carries the gateway's seal, its payload opens with this member's key (every payload travels encrypted
for the hop, ``shared.mesh.payload_crypto``), its system signature is valid and made with a НУЦ system certificate
issued to the named sender, not expired or revoked, and its payload fits the contract. What it sends it encrypts to
the gateway's certificate.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
from cryptography import x509
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.clock import MeshClock
from shared.db import Sessions
from shared.errors import MeshError, RelayedError
from shared.logging import get_logger, message_context
from shared.mesh.bus import Bus, BusError, Delivery, OutgoingMessage, Subscription
from shared.mesh.consumer import MessageConsumer
from shared.mesh.contracts import Contract, ErrorPayload, parse_payload
from shared.mesh.dead_letters import dead_letter
from shared.mesh.envelope import (
    Envelope,
    EnvelopeHeader,
    MessageType,
    ParsedEnvelope,
    cms_signature,
    signer_of,
    unsigned_envelope,
)
from shared.mesh.failures import OutageFailure, PermanentFailure, RetryPolicy
from shared.mesh.journal import Journal
from shared.mesh.outbox import OutboxRelay, queue_outgoing
from shared.mesh.payload_crypto import Keyring, can_agree_keys, open_wire, read_wire, seal_wire
from shared.mesh.receipts import RECEIPT_SERVICE, DeliveryReceipt
from shared.mesh.scenarios import Withheld
from shared.mesh.seal import Seal, check_seal
from shared.mesh.topology import (
    GATEWAY_ID,
    H_DEADLINE,
    INGRESS_EXCHANGE,
    SYNC_INGRESS_KEY,
    deadline_header,
    declare_member_queues,
    member_queue,
    member_sync_queue,
    read_deadline,
)
from shared.pki.cert_check import (
    CertificateVerifier,
    Expectation,
    is_transient,
    is_transient_refusal,
    refusal_code,
)
from shared.pki.cert_profile import Holder, Usage, describe_certificate
from shared.pki.signing import SignerIdentity, sign_wire
from shared.telemetry import metrics

log = get_logger(__name__)

REPLY_MARGIN_S = 2.0
"""How long past its deadline a synchronous caller still waits for the gateway's own answer (Server.Timeout)."""
NUC = "nuc"          # hop names in an error's details.failedAt: "nuc", "gateway", "broker", or a member id
GATEWAY = "gateway"
BROKER = "broker"
INVALID_REPLY = "Client.InvalidReply"  # a reply that could not be read (when what refused it names no code)


def failed_hop(error: ErrorPayload, *, sender: str) -> str:
    """Which hop of a call failed, as far as its ERROR tells: НУЦ, the gateway, or the provider."""
    if error.details.get("failedAt"):
        return str(error.details["failedAt"])
    if is_transient_refusal(error.code):
        return NUC
    return GATEWAY if error.where == "gateway" else sender


@dataclass(frozen=True)
class Incoming:
    parsed: ParsedEnvelope
    payload: Contract | None
    prepared: dict[str, Any] = field(default_factory=dict)  # what a ``before`` step found out, for the handler
    seal: Seal | None = None  # the gateway's seal (every delivery has one; a clock broadcast is signed instead)

    def with_prepared(self, **found: Any) -> Incoming:
        return replace(self, prepared={**self.prepared, **found})

    @property
    def envelope(self) -> Envelope:
        return self.parsed.envelope


AsyncHandler = Callable[[AsyncSession, Incoming], Awaitable[None]]
BeforeHandler = Callable[["Incoming"], Awaitable["Incoming"]]
SyncHandler = Callable[[Incoming], Awaitable[dict[str, Any]]]


class Composer:
    """Builds and signs envelopes on behalf of one member system."""

    def __init__(self, *, member_id: str, clock: MeshClock) -> None:
        self.member_id = member_id
        self._clock = clock
        self.signer: SignerIdentity | None = None

    def compose(self, *, service_id: str, message_type: MessageType, data: dict[str, Any],
                correlation_id: str | None = None, recipient: str | None = None, route_id: str | None = None,
                in_reply_to: uuid.UUID | None = None) -> dict[str, Any]:
        if self.signer is None:
            raise MeshError("IDENTITY_NOT_READY", f"{self.member_id} has no system certificate yet")
        now = self._clock.now()
        wire = unsigned_envelope(service_id=service_id, message_type=message_type, sender=self.member_id, data=data,
                                 message_date=now, correlation_id=correlation_id, recipient=recipient,
                                 route_id=route_id, in_reply_to=in_reply_to)
        return sign_wire(wire=wire, signer=self.signer, at=now)  # signingTime = messageDate: the mesh's time


def outgoing(wire: dict[str, Any], **extra: Any) -> OutgoingMessage:
    return OutgoingMessage(body=orjson.dumps(wire), message_id=wire["messageId"],
                           correlation_id=wire["correlationId"], **extra)


class EnvelopeVerifier:
    """The recipient-side checks of an incoming envelope, shared by every consumer of a member."""

    def __init__(self, *, member_id: str, verifier_ref: Callable[[], CertificateVerifier | None],
                 keyring_ref: Callable[[], Keyring] | None = None,
                 gateway_seen: Callable[[x509.Certificate], None] | None = None) -> None:
        self._member_id = member_id
        self._verifier_ref = verifier_ref
        self._keyring_ref = keyring_ref or Keyring
        self._gateway_seen = gateway_seen or (lambda _certificate: None)

    async def verify(self, delivery: Delivery, *, broadcast: bool = False) -> Incoming:
        try:
            wire = read_wire(delivery.body)
        except MeshError as exc:
            raise PermanentFailure(exc.code, exc.message) from None
        header = wire.header
        if delivery.message_id is not None and delivery.message_id != str(header.message_id):
            raise PermanentFailure("Client.MessageIdMismatch", "transport message id differs from the envelope's")
        if not broadcast and header.recipient is not None and header.recipient != self._member_id:
            raise PermanentFailure("Client.WrongRecipient", f"addressed to {header.recipient}, not {self._member_id}")
        verifier = self._verifier_ref()
        if verifier is None:  # retried once start-up completes
            raise OutageFailure("NOT_READY", f"{self._member_id} has not loaded НУЦ's certificates yet")
        seal = None if broadcast else await check_seal(body=delivery.body, headers=delivery.headers,
                                                       member_id=self._member_id, verifier=verifier)
        if seal is not None and seal.signer is not None:
            self._gateway_seen(seal.signer)
        try:
            parsed = open_wire(wire, self._keyring_ref())
        except MeshError as exc:  # DecryptionError, or what was encrypted is not an envelope's data
            raise PermanentFailure(exc.code, exc.message) from None
        env = parsed.envelope
        # A clock broadcast sets the time OCSP freshness is judged by, so it skips OCSP; and it is judged at the mesh
        # time it was signed at — the time it brings — not at the clock it is about to correct.
        result, _ = await verifier.verify_signed(  # the sender's own signature, or the gateway's for a SOAP sender
            content=parsed.signed_bytes(), signature_b64=cms_signature(env),
            expect=Expectation(usage=Usage.SIGN, holder=Holder.SYSTEM, common_name=signer_of(env)),
            revocation=not broadcast, at_signing_time=broadcast)
        if not result.ok:
            if is_transient(result):
                raise OutageFailure(refusal_code(result), f"cannot check {env.sender}'s certificate now: "
                                    f"{result.message}", details={"failedAt": NUC})
            raise PermanentFailure(refusal_code(result), result.message)
        try:
            payload = parse_payload(service_id=env.service_id, message_type=env.message_type, data=env.data)
        except MeshError as exc:
            raise PermanentFailure(exc.code, exc.message) from None
        return Incoming(parsed=parsed, payload=payload, seal=seal)


def journal_consumed(journal: Journal | None, incoming: Incoming, *, recipient: str, channel: str) -> None:
    """The tester's journal entry of a delivery its recipient handled, as it read it: opened, its signature (and the
    gateway's seal) checked. Never fails what it watches: a journal that cannot record logs why."""
    if journal is None:
        return
    env = incoming.envelope
    try:
        journal.record(
            "consumed", payload=env.data, sender=env.sender, recipient=recipient, outcome="consumed",
            correlationId=env.correlation_id, messageId=str(env.message_id), serviceId=env.service_id,
            messageType=env.message_type.value, channel=channel,
            inReplyTo=str(env.in_reply_to) if env.in_reply_to else None,
            checks={"signature": "ok", "seal": "ok" if incoming.seal is not None else "none",
                    "logSeq": incoming.seal.log_seq if incoming.seal is not None else None})
    except Exception:
        log.exception("journal_record_failed")


class SyncProvider:
    """A member's provider side of synchronous services: each request on ``member.{id}.sync`` checked, refused past
    its caller's deadline, answered by the handler served for its service (or with an ERROR naming this member), the
    answer sent to the gateway before that deadline."""

    def __init__(self, *, member_id: str, bus: Bus, checks: EnvelopeVerifier, composer: Composer,
                 to_gateway: Callable[[dict[str, Any]], dict[str, Any]], timeout_s: float) -> None:
        self.member_id = member_id
        self.bus = bus
        self.checks = checks
        self.composer = composer
        self.to_gateway = to_gateway
        self._timeout_s = timeout_s
        self.handlers: dict[str, SyncHandler] = {}
        self.journal: Journal | None = None  # the requests it answered, as it read them

    async def on_request(self, delivery: Delivery) -> None:
        with message_context(correlation_id=delivery.correlation_id, message_id=delivery.message_id):
            queue = member_sync_queue(self.member_id)
            deadline = read_deadline(delivery.headers, default_s=time.time() + self._timeout_s)
            if time.time() > deadline:
                await dead_letter(bus=self.bus, delivery=delivery, queue=queue, code="Server.DeadlinePassed",
                                  reason="the request reached the provider after its caller's deadline (the gateway "
                                         "told the caller Server.Timeout)")
                await delivery.ack()
                return
            try:
                incoming = await self.checks.verify(delivery)
            except PermanentFailure as exc:
                await dead_letter(bus=self.bus, delivery=delivery, queue=queue, code=exc.code, reason=exc.message)
                await delivery.ack()
                return
            except OutageFailure as exc:
                # The request could not be checked now (НУЦ down): a synchronous caller cannot wait for a retry,
                # so it is told why at once, naming the hop, rather than left to time out.
                await self._refuse_unchecked(delivery, deadline=deadline, code=exc.code, message=exc.message,
                                             details=exc.details)
                await delivery.ack()
                return
            journal_consumed(self.journal, incoming, recipient=self.member_id, channel="sync")
            await self._answer(incoming=incoming, deadline=deadline)
            metrics().message_in("answered")
            await delivery.ack()

    async def _refuse_unchecked(self, delivery: Delivery, *, deadline: float, code: str, message: str,
                                details: dict[str, Any]) -> None:
        env = read_wire(delivery.body).header  # it parsed already: only its status could not be checked
        error = ErrorPayload(code=code, message=message, where="provider", refused_message_id=str(env.message_id),
                             details=details)
        await self._reply(env, kind=MessageType.ERROR, data=error.model_dump(by_alias=True), deadline=deadline)

    async def _answer(self, *, incoming: Incoming, deadline: float) -> None:
        env = incoming.envelope
        handler = self.handlers.get(env.service_id)
        try:
            if handler is None:
                raise MeshError("Server.NoHandler", f"{self.member_id} does not serve {env.service_id}")
            with message_context(service_id=env.service_id):
                data, kind = await handler(incoming), MessageType.RESPONSE
                log.info("sync_request_answered", caller=env.sender)
        except Withheld:  # a scenario's forced time-out: the gateway tells the caller at its deadline
            log.info("sync_request_withheld", caller=env.sender)
            return
        except MeshError as exc:
            data, kind = ErrorPayload(code=exc.code, message=exc.message, where="provider",
                                      refused_message_id=str(env.message_id),
                                      details={"failedAt": self.member_id, **exc.details}).model_dump(by_alias=True), \
                MessageType.ERROR
        except Exception as exc:
            log.exception("sync_handler_failed", service_id=env.service_id)
            data, kind = ErrorPayload(code="Server.ProviderError", message=f"{type(exc).__name__}", where="provider",
                                      refused_message_id=str(env.message_id),
                                      details={"failedAt": self.member_id}).model_dump(by_alias=True), \
                MessageType.ERROR
        await self._reply(env, kind=kind, data=data, deadline=deadline)

    async def _reply(self, env: EnvelopeHeader, *, kind: MessageType, data: dict[str, Any], deadline: float) -> None:
        wire = self.composer.compose(service_id=env.service_id, message_type=kind, data=data,
                                     correlation_id=env.correlation_id, recipient=env.sender,
                                     in_reply_to=env.message_id)
        await self.bus.publish(exchange=INGRESS_EXCHANGE, routing_key=SYNC_INGRESS_KEY, message=outgoing(
            self.to_gateway(wire), headers={H_DEADLINE: deadline_header(deadline)}, persistent=False))
        metrics().message_out("published")


class MemberRuntime:
    def __init__(self, *, member_id: str, bus: Bus, sessions: Sessions, clock: MeshClock, relay: OutboxRelay,
                 sync_timeout_s: float = 10.0, policy: RetryPolicy | None = None) -> None:
        self.member_id = member_id
        self.bus = bus
        self.sessions = sessions
        self.clock = clock
        self.relay = relay
        self.composer = Composer(member_id=member_id, clock=clock)
        self.verifier: CertificateVerifier | None = None
        self.keyring = Keyring()
        self.gateway_certificate: x509.Certificate | None = None  # payloads to the gateway are encrypted to it
        self.checks = EnvelopeVerifier(member_id=member_id, verifier_ref=lambda: self.verifier,
                                       keyring_ref=lambda: self.keyring, gateway_seen=self.gateway_seen)
        self._sync_timeout = sync_timeout_s
        self._policy = policy or RetryPolicy()
        self._async_handlers: dict[tuple[str | None, MessageType], AsyncHandler] = {}
        self._before: dict[tuple[str | None, MessageType], BeforeHandler] = {}
        self._pending: dict[str, asyncio.Future[Incoming]] = {}
        self._reply_queue: str | None = None
        self._subscriptions: list[Subscription] = []
        self._consumer: MessageConsumer[Incoming] | None = None
        self._after_commit: list[Callable[[], None]] = []
        self._journal: Journal | None = None
        self._provider = SyncProvider(member_id=member_id, bus=bus, checks=self.checks, composer=self.composer,
                                      to_gateway=self.to_gateway, timeout_s=sync_timeout_s)

    # ---- wiring ------------------------------------------------------------------------------------------
    @property
    def journal(self) -> Journal | None:
        return self._journal

    @journal.setter
    def journal(self, journal: Journal | None) -> None:
        """Where what this member consumes goes (the tester's journal): the deliveries it handled, the synchronous
        requests it answered and the answers it got."""
        self._journal = journal
        self._provider.journal = journal

    def attach(self, *, signer: SignerIdentity, verifier: CertificateVerifier, keyring: Keyring | None = None,
               gateway_certificate: x509.Certificate | None = None) -> None:
        """``keyring``: the keys payloads to this member open with (by default its signing key: system keys also
        agree keys); ``gateway_certificate``: the gateway's, which payloads are encrypted to (otherwise the one
        that sealed the first delivery). The gateway's certificate usually comes over plain HTTP (``GET
        :8002/certificate``): it is taken only when it chains to НУЦ and is the gateway's system certificate — one
        swapped on the way would otherwise receive every payload (``GATEWAY_CERTIFICATE_UNTRUSTED``)."""
        if gateway_certificate is not None:
            info = describe_certificate(gateway_certificate)
            if verifier.chain_of(gateway_certificate) is None or info.holder is not Holder.SYSTEM \
                    or info.common_name != GATEWAY_ID:
                raise MeshError("GATEWAY_CERTIFICATE_UNTRUSTED", f"the certificate given as the gateway's ("
                                f"{info.common_name!r}, a {info.holder.value}'s) is not НУЦ's system certificate of "
                                f"{GATEWAY_ID!r}")
        self.composer.signer = signer
        self.verifier = verifier
        if keyring is None:
            keyring = Keyring()
            keyring.add(signer.certificate, signer.key)
        self.keyring = keyring
        if gateway_certificate is not None:
            self.gateway_seen(gateway_certificate)

    def gateway_seen(self, certificate: x509.Certificate) -> None:
        """The gateway's certificate, as a verified seal (or start-up) showed it: payloads go encrypted to it from
        now on. (The gateway keeps a renewed key's predecessor, so one sent to the old certificate still opens.)"""
        if can_agree_keys(certificate) and certificate != self.gateway_certificate:
            self.gateway_certificate = certificate

    def to_gateway(self, wire: dict[str, Any]) -> dict[str, Any]:
        """A signed envelope as it travels to the gateway: data and signature encrypted to the gateway's key."""
        if self.gateway_certificate is None:
            raise MeshError("GATEWAY_KEY_UNKNOWN", f"{self.member_id} does not know the gateway's certificate yet")
        return seal_wire(wire, recipient=self.gateway_certificate)

    def verifier_or_fail(self) -> CertificateVerifier:
        """The НУЦ trust store; before start-up has loaded it, a 503 to an API caller and a retry to a consumer."""
        if self.verifier is None:
            raise MeshError("NOT_READY", f"{self.member_id} has not loaded НУЦ's certificates yet")
        return self.verifier

    def on_message(self, *, message_type: MessageType, handler: AsyncHandler, service_id: str | None = None,
                   before: BeforeHandler | None = None) -> None:
        """Handle asynchronous messages of a type (optionally of one service) in a transaction with the inbox.

        ``before`` does what the message needs that takes I/O (checking a signature, asking a registry) ahead
        of that transaction, so no database lock is held while waiting; it may return the message enriched.
        """
        self._async_handlers[(service_id, message_type)] = handler
        if before is not None:
            self._before[(service_id, message_type)] = before

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Called after each asynchronous message's transaction commits (e.g. to wake a scheduler)."""
        self._after_commit.append(callback)

    def _run_after_commit(self) -> None:
        for callback in self._after_commit:
            callback()

    def serve(self, *, service_id: str, handler: SyncHandler) -> None:
        """Answer synchronous requests for a service: the handler returns the response ``data``."""
        self._provider.handlers[service_id] = handler

    # ---- sending -----------------------------------------------------------------------------------------
    def send(self, session: AsyncSession, **compose: Any) -> dict[str, Any]:
        """Compose, sign and stage an asynchronous message; it leaves when ``session`` commits."""
        wire = self.composer.compose(**compose)
        queue_outgoing(session, exchange=INGRESS_EXCHANGE, routing_key="",
                       message=outgoing(self.to_gateway(wire), publisher=self.member_id))
        return wire

    async def request(self, *, service_id: str, data: dict[str, Any], correlation_id: str | None = None,
                      route_id: str | None = None, timeout_s: float | None = None) -> Incoming:
        """Call a synchronous service through the gateway and wait for its answer or a typed error.

        A failure names the hop that failed in ``details.failedAt``: ``broker`` (the request could not be
        handed over), ``gateway`` (no word from it at all), ``nuc`` (a certificate's status could not be
        checked), or the provider's member id (it did not answer in time, or refused).
        """
        if self._reply_queue is None:
            raise MeshError("MEMBER_NOT_STARTED", f"{self.member_id} is not connected to the mesh yet")
        timeout = timeout_s or self._sync_timeout
        wire = self.composer.compose(service_id=service_id, message_type=MessageType.REQUEST, data=data,
                                     correlation_id=correlation_id, route_id=route_id)
        future: asyncio.Future[Incoming] = asyncio.get_running_loop().create_future()
        self._pending[wire["messageId"]] = future
        started, outcome = time.monotonic(), "failed"  # until it is known: cancelled, or an error of our own
        try:
            # No broker TTL: a request that waited past its deadline is refused by whoever finds it, with a reason.
            await self.bus.publish(exchange=INGRESS_EXCHANGE, routing_key=SYNC_INGRESS_KEY, message=outgoing(
                self.to_gateway(wire), reply_to=self._reply_queue,
                headers={H_DEADLINE: deadline_header(time.time() + timeout)}, persistent=False))
            metrics().message_out("published")
            # The gateway answers Server.Timeout at the deadline; the margin lets that answer travel (a timer, a
            # commit, a publish, a consume: half a second was not always enough on a loaded machine) and covers a
            # gateway that is down.
            answer = await asyncio.wait_for(future, timeout=timeout + REPLY_MARGIN_S)
            outcome = "answered"
            return answer
        except MeshError as exc:
            outcome = "timeout" if exc.code == "Server.Timeout" else "error"
            raise
        except TimeoutError:
            outcome = "no word"
            raise MeshError("Server.Timeout", f"{service_id} did not answer within {timeout:g} s and the gateway "
                            "said nothing either: the gateway is not taking messages",
                            details={"failedAt": GATEWAY}) from None
        except BusError as exc:
            outcome = "not sent"
            raise MeshError("Client.GatewayUnreachable", f"could not hand the request to the broker: {exc}",
                            details={"failedAt": BROKER}) from None
        finally:
            self._pending.pop(wire["messageId"], None)
            metrics().sync_call(service_id, outcome=outcome, seconds=time.monotonic() - started)

    # ---- receiving ---------------------------------------------------------------------------------------
    async def start(self) -> None:
        # Only its own queues: the gateway declared the exchanges and bound these queues to its delivery
        # routes when it made this member's broker account (a member's account may not do either).
        await declare_member_queues(self.bus, member_id=self.member_id)
        self._consumer = MessageConsumer(
            bus=self.bus, sessions=self.sessions, queue=member_queue(self.member_id), name=self.member_id,
            prepare=self._prepare, apply=self._dispatch, message_id_of=lambda i: str(i.envelope.message_id),
            log_seq_of=lambda i: i.seal.log_seq if i.seal is not None else None,
            relay=self.relay, policy=self._policy, on_duplicate=self._acknowledge,
            after_commit=self._run_after_commit)
        await self._consumer.start()
        self._subscriptions.append(await self.bus.consume(queue=member_sync_queue(self.member_id),
                                                          handler=self._provider.on_request, prefetch=32))
        # A client-chosen name: after a broker restart the robust channel re-declares it, which the broker
        # would refuse for a server-generated "amq.gen-…" name.
        self._reply_queue = await self.bus.declare_queue(name=f"{self.member_id}.replies.{uuid.uuid4().hex[:12]}",
                                                         exclusive=True, auto_delete=True, durable=False)
        self._subscriptions.append(await self.bus.consume(queue=self._reply_queue, handler=self._on_reply,
                                                          prefetch=256))

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
        for sub in self._subscriptions:
            await sub.cancel()
        self._subscriptions.clear()

    async def _dispatch(self, session: AsyncSession, incoming: Incoming) -> None:
        env = incoming.envelope
        with message_context(service_id=env.service_id):
            await self._handle(session, incoming)
            await self._acknowledge(session, incoming)
        journal_consumed(self.journal, incoming, recipient=self.member_id, channel="async")

    async def _acknowledge(self, session: AsyncSession, incoming: Incoming) -> None:
        """Tell the gateway this delivery is recorded (``shared.mesh.receipts``): queued in the transaction that
        records it — or, for a copy recorded already (the gateway delivered again: the first receipt was late
        or lost), in one of its own."""
        if incoming.seal is None:
            return
        env = incoming.envelope
        receipt = DeliveryReceipt(message_id=str(env.message_id), log_seq=incoming.seal.log_seq)
        # Its own correlation: a case's log shows the case's messages; GET /deliveries shows where each stands.
        self.send(session, service_id=RECEIPT_SERVICE, message_type=MessageType.NOTIFICATION,
                  data=receipt.model_dump(by_alias=True), recipient=GATEWAY_ID, in_reply_to=env.message_id)

    async def _handle(self, session: AsyncSession, incoming: Incoming) -> None:
        env = incoming.envelope
        handler = (self._async_handlers.get((env.service_id, env.message_type))
                   or self._async_handlers.get((None, env.message_type)))
        if handler is None:
            if env.message_type is MessageType.ERROR:
                payload = incoming.payload
                log.warning("message_refused_downstream", service_id=env.service_id,
                            code=getattr(payload, "code", None), reason=getattr(payload, "message", None))
                return
            raise PermanentFailure("Server.NoHandler",
                                   f"{self.member_id} does not handle {env.message_type.value} of {env.service_id}")
        await handler(session, incoming)

    async def _prepare(self, delivery: Delivery) -> Incoming:
        """Check the envelope, then let the handler of its kind do its I/O (``before``) outside the transaction."""
        incoming = await self.checks.verify(delivery)
        env = incoming.envelope
        before = self._before.get((env.service_id, env.message_type)) or self._before.get((None, env.message_type))
        return await before(incoming) if before is not None else incoming

    async def _on_reply(self, delivery: Delivery) -> None:
        with message_context(correlation_id=delivery.correlation_id, message_id=delivery.message_id):
            try:
                incoming = await self.checks.verify(delivery)
            except OutageFailure as exc:
                # The answer came, but its sender's certificate cannot be checked now (НУЦ down): the call fails
                # naming НУЦ, instead of timing out as if the gateway had never answered.
                self._fail_pending(delivery, MeshError(exc.code, f"the answer could not be checked: {exc.message}",
                                                       details={"failedAt": NUC}))
                await dead_letter(bus=self.bus, delivery=delivery, queue=self._reply_queue or "reply",
                                  code=exc.code, reason=exc.message)
                await delivery.ack()
                return
            except Exception as exc:
                log.warning("reply_refused", reason=str(exc))
                await dead_letter(bus=self.bus, delivery=delivery, queue=self._reply_queue or "reply",
                                  code=getattr(exc, "code", INVALID_REPLY), reason=str(exc))
                await delivery.ack()
                return
            env = incoming.envelope
            journal_consumed(self.journal, incoming, recipient=self.member_id, channel="sync")
            metrics().message_in("reply")
            future = self._pending.get(str(env.in_reply_to)) if env.in_reply_to else None
            if future is None or future.done():
                log.info("late_reply_ignored", service_id=env.service_id)
            elif env.message_type is MessageType.ERROR and isinstance(incoming.payload, ErrorPayload):
                err = incoming.payload
                future.set_exception(RelayedError(
                    err.code, err.message, status=504 if err.code == "Server.Timeout" else 503 if
                    is_transient_refusal(err.code) else 502,
                    details={"where": err.where, "failedAt": failed_hop(err, sender=env.sender)}))
            else:
                future.set_result(incoming)
            await delivery.ack()

    def _fail_pending(self, delivery: Delivery, error: MeshError) -> None:
        try:
            in_reply_to = read_wire(delivery.body).header.in_reply_to
        except MeshError:
            return
        future = self._pending.get(str(in_reply_to)) if in_reply_to else None
        if future is not None and not future.done():
            future.set_exception(error)

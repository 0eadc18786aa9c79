"""The gateway's decision on one ingress message, each check a named step, in this order: the transport's message
id is the envelope's → the sender is a registered, active member → it published under its own broker login → its
data and signature were encrypted to the gateway (and open) → the signature's mathematics, its certificate pinned to
the sender, valid on the mesh clock and not revoked (OCSP) → the payload fits its contract → a scenario it names is
one the gateway registered (``scenarios``) → the registry grants the route (``routing``). The first step that
fails refuses the message with its ``Client.*``/``Server.*`` code; a certificate НУЦ cannot vouch for now
(unreachable) is tried again later instead (``Retry``), within the retry policy. Nothing is written here: the
decision is applied with others in one transaction (``outcomes``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import orjson
from cryptography import x509

from services.shep_gateway.domain import Decision, Refusal, Refused, Retry
from services.shep_gateway.registry_book import RegistryBook
from services.shep_gateway.usecases.examined import Examined
from services.shep_gateway.usecases.routing import Routing
from services.shep_gateway.usecases.scenarios import Scenarios
from shared.clock import MeshClock
from shared.errors import MeshError
from shared.logging import message_context
from shared.mesh.bus import Bus, Delivery
from shared.mesh.contracts import parse_payload
from shared.mesh.envelope import ParsedEnvelope, cms_signature, signer_of
from shared.mesh.failures import Attempts, Failure, FailureKind, RetryPolicy
from shared.mesh.payload_crypto import NOT_ENCRYPTED, Keyring, open_wire, read_wire
from shared.mesh.topology import H_DEADLINE, H_DOOR, H_DOOR_CHECKS, first_publisher, read_deadline
from shared.pki.cert_check import Expectation, is_transient, is_transient_refusal, refusal_code, signature_refusal_code
from shared.pki.cert_profile import Holder, Usage, serial_hex
from shared.pki.signing import SignatureError, verify_detached


class IngressDecision:
    def __init__(self, *, book: RegistryBook, routing: Routing, clock: MeshClock, policy: RetryPolicy,
                 bus: Bus, accounts_enforced: bool, scenarios: Scenarios) -> None:
        self._book = book
        self._scenarios = scenarios
        self._routing = routing
        self._clock = clock
        self._policy = policy
        self._bus = bus  # its login is the gateway's own: a copy the gateway republished names the first publisher
        self._accounts_enforced = accounts_enforced  # each member publishes under its own broker login
        self.keyring = Keyring()  # the gateway's keys (current and renewed-away-from) that payloads open with
        # Fault injection (``chaos``): a message as opened, altered or refused before the checks that follow
        self.faults: Callable[[Examined], Refusal | None] | None = None

    async def examine(self, delivery: Delivery) -> Examined:
        now = self._clock.now()
        try:
            wire = read_wire(delivery.body)
        except MeshError as exc:
            message_id = delivery.message_id or f"unparsable-{uuid.uuid4()}"
            return Examined(delivery=delivery, message_id=message_id[:64], received_at=now,
                            decision=Refused(Refusal(exc.code, exc.message)), checks={"envelope": "unparsable"})
        head = wire.header
        item = Examined(delivery=delivery, message_id=str(head.message_id), received_at=now,
                        decision=Refused(Refusal("Server.NotExamined", "not examined")), wire=wire,
                        checks={"envelope": "ok"} | self._door(delivery))
        with message_context(correlation_id=head.correlation_id, message_id=item.message_id,
                             service_id=head.service_id):
            item.decision = await self._decide(item)
        return item

    def _door(self, delivery: Delivery) -> dict[str, Any]:
        """Whether the gateway's SOAP door published it (its own login, ``x-shep-door``), and the WS-Security
        checks the door made on the SOAP call it came as (the SOAP message itself goes no further than the door)."""
        if self._bus.login is None or delivery.user_id != self._bus.login or delivery.headers.get(H_DOOR) != "soap":
            return {}
        try:
            made = orjson.loads(str(delivery.headers.get(H_DOOR_CHECKS) or "{}"))
        except orjson.JSONDecodeError:
            made = {}
        return {"door": "soap", "wsSecurity": made}

    async def _decide(self, item: Examined) -> Decision:
        for step in (self._same_message_id, self._sender_registered, self._published_by_sender, self._open,
                     self._injected):
            refusal = step(item)
            if refusal is not None:
                return Refused(refusal)
        refusal = await self._signed_by_sender(item)
        if refusal is not None:
            return self._retry_or_refuse(item, refusal) if is_transient_refusal(refusal.code) else Refused(refusal)
        refusal = self._payload_fits(item) or self._scenarios.refusal(item)
        if refusal is not None:
            return Refused(refusal)
        return await self._routing.route(item)

    @staticmethod
    def _same_message_id(item: Examined) -> Refusal | None:
        assert item.wire is not None
        if item.delivery.message_id is not None and item.delivery.message_id != item.message_id:
            return Refusal("Client.MessageIdMismatch", "the transport message id differs from the envelope's")
        return None

    def _sender_registered(self, item: Examined) -> Refusal | None:
        assert item.wire is not None
        sender = item.wire.header.sender
        member = self._book.registry.members.get(sender)
        if member is None:
            item.checks["sender"] = "unknown"
            return Refusal("Client.UnknownMember", f"{sender!r} is not a registered member system")
        if not member.active:
            item.checks["sender"] = "suspended"
            return Refusal("Client.MemberSuspended", f"{sender} is suspended in the registry")
        item.checks["sender"] = "known"
        return None

    def _published_by_sender(self, item: Examined) -> Refusal | None:
        """The broker login that published it (RabbitMQ checked its user-id against the connection) is the
        sender's own; with broker accounts off there is no login to compare."""
        if not self._accounts_enforced:
            return None
        assert item.wire is not None
        sender = item.wire.header.sender
        publisher = first_publisher(item.delivery, me=self._bus.login)
        item.checks["publisher"] = publisher
        if publisher != sender:
            return Refusal("Client.PublisherMismatch", f"published under the broker login {publisher!r}, "
                           f"not {sender!r}'s own: a member sends only in its own name")
        item.proven = True  # the broker vouches: the sender's own login published it
        return None

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

    def _injected(self, item: Examined) -> Refusal | None:
        """A fault-injection rule's turn (docs/chaos.md): it may change the signature or the data, which the checks
        below then refuse, or refuse the message itself with a ``Server.*`` code."""
        return self.faults(item) if self.faults is not None else None

    async def _signed_by_sender(self, item: Examined) -> Refusal | None:
        """The signature verifies, with a certificate pinned to the sender, valid now and not revoked."""
        assert item.parsed is not None
        refusal, proven = await self.signature_refusal(item.parsed, item.checks)
        item.proven = item.proven or proven  # the broker may have vouched already (its own login published it)
        return refusal

    async def signature_refusal(self, parsed: ParsedEnvelope, checks: dict[str, Any]) -> tuple[Refusal | None, bool]:
        """The envelope's signature checked — its sender's own, or, on one that came by the gateway's SOAP door
        (``checks["door"]``), the gateway's for that sender (``shared.mesh.envelope.VOUCHED``): its refusal if any,
        and whether the key is proven the signer's (a refusal for a revocation status НУЦ cannot give now still
        proves it)."""
        env = parsed.envelope
        signer = signer_of(env)
        if signer != env.sender and checks.get("door") != "soap":
            checks["signature"] = {"ok": False, "vouched": True}
            return Refusal("Client.CertificateNotForSender", f"signed by the gateway for {env.sender}: only the "
                           "gateway's SOAP door sends such an envelope, and this one did not come from it"), False
        try:
            verified = verify_detached(content=parsed.signed_bytes(), signature_b64=cms_signature(env))
        except SignatureError as exc:
            checks["signature"] = {"ok": False, "signatureCode": exc.code}
            return Refusal(signature_refusal_code(exc.code), exc.message), False
        return await self.certificate_refusal(member_id=signer, certificate=verified.signer, checks=checks)

    async def certificate_refusal(self, *, member_id: str, certificate: x509.Certificate,
                                  checks: dict[str, Any]) -> tuple[Refusal | None, bool]:
        """A signature's certificate: pinned to ``member_id``, a signing one of that system, valid on the mesh clock,
        not revoked (OCSP) — for a CMS signature here, and for the WS-Security one at the SOAP door."""
        serial = serial_hex(certificate)
        if not await self._book.is_pinned(member_id=member_id, serial=serial):
            checks["signature"] = {"ok": False, "serial": serial, "pinned": False}
            return Refusal("Client.CertificateNotRegistered",
                           f"certificate {serial} is not registered for {member_id} at the gateway"), False
        result = await self._book.verifier_or_fail().check(certificate=certificate, expect=Expectation(
            usage=Usage.SIGN, holder=Holder.SYSTEM, common_name=member_id))
        checks["signature"] = result.summary()
        if result.ok:
            return None, True
        return Refusal(refusal_code(result), result.message), is_transient(result)

    @staticmethod
    def _payload_fits(item: Examined) -> Refusal | None:
        assert item.parsed is not None
        env = item.parsed.envelope
        try:
            parse_payload(service_id=env.service_id, message_type=env.message_type, data=env.data)
        except MeshError as exc:
            item.checks["payload"] = "invalid"
            return Refusal(exc.code, exc.message)
        item.checks["payload"] = "ok"
        return None

    def _retry_or_refuse(self, item: Examined, refusal: Refusal) -> Retry | Refused:
        """НУЦ cannot say now whether the sender's certificate is revoked (unreachable, or a clock not caught up
        with a mesh clock change): try again later, within the retry
        policy's window (and, for a synchronous call, before its deadline); refuse once that has passed."""
        headers = item.delivery.headers
        deadline = read_deadline(headers, default_s=0) if H_DEADLINE in headers else None
        failure = Failure(FailureKind.OUTAGE, refusal.code, refusal.message)
        attempts = Attempts.after_failure(headers, failure=failure)
        delay = self._policy.delay(failure, attempts, deadline_s=deadline)
        if delay is None:
            _code, reason = self._policy.gave_up(failure, attempts)
            return Refused(Refusal(refusal.code, reason))
        return Retry(refusal=refusal, delay_s=delay)

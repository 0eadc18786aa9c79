"""The gateway's SOAP door: ШЭП's own SyncChannel and AsyncChannel v10 (docs/soap.md), in front of the same
pipeline the AMQP door feeds.

A call is read safely (``shared.pki.xmldsig``: size, DTD, depth, comments dropped), its operation found, its sender
authenticated by ``sender/senderId`` and ``password`` (a SOAP member's credentials, issued at enrolment:
``password_for``), its WS-Security signature checked (the mathematics by ``verify_body``; the certificate by the
pipeline's own step, ``IngressDecision.certificate_refusal``: pinned to the sender, a signing one, valid on the mesh
clock, not revoked), the envelope it is read from the Body as signed, asked of the registry and held to its service's
contract — each refusal a SOAP fault carrying the mesh's code, journaled, nothing sent on. What passes is signed by
the gateway for that sender (``shared.mesh.envelope.VOUCHED``, as ШЭП signs what it passes on: the SOAP message, its
password inside, goes no further) and published to ``shep.ingress`` under the gateway's login with the sender named
(``x-shep-publisher``, as the gateway's own retries do) and the door's checks (``x-shep-door-checks``): the ingress
worker then decides on it exactly as on any other — registry, route, log, seal, delivery.

SyncChannel waits for the answer on the door's own reply queue, up to the caller's deadline (the gateway's
``Server.Timeout`` comes first when the provider is late) and answers ``SendMessageResponse`` (or a fault), signed by
the gateway. AsyncChannel answers at once with the ids the message was given; what is addressed to a SOAP member
later is pushed to its own endpoint (``soap_push``), whose answers to synchronous requests come back here
(``answer_for``)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from lxml import etree

from services.shep_gateway.domain import Refusal
from services.shep_gateway.registry_book import RegistryBook
from services.shep_gateway.usecases.ingress_decision import IngressDecision
from shared.clock import MeshClock
from shared.errors import MeshError
from shared.logging import get_logger
from shared.mesh.bus import Bus, BusError, Delivery, OutgoingMessage, Subscription
from shared.mesh.contracts import ErrorPayload, parse_payload
from shared.mesh.dead_letters import json_safe
from shared.mesh.envelope import (
    MAX_ENVELOPE_BYTES,
    VOUCHED,
    Envelope,
    MessageType,
    checked,
    envelope_of,
    unsigned_envelope,
)
from shared.mesh.journal import Journal
from shared.mesh.member import REPLY_MARGIN_S, Composer
from shared.mesh.payload_crypto import Keyring, open_wire, read_wire, seal_wire
from shared.mesh.soap_channels import (
    SUCCESS,
    async_response,
    fault,
    operation_of,
    read_call,
    read_sync_answer,
    session_guid,
    signature_value,
    sync_response,
    to_bytes,
)
from shared.mesh.topology import (
    H_DEADLINE,
    H_DOOR,
    H_DOOR_CHECKS,
    H_PUBLISHER,
    INGRESS_EXCHANGE,
    deadline_header,
    ingress_key,
)
from shared.pki.cert_check import signature_refusal_code
from shared.pki.signing import SignatureError, sign_wire
from shared.pki.xmldsig import SOAP11, SignedBody, parse_xml, sign_body, verify_body

log = get_logger(__name__)
SUCCESS_CODES = frozenset({SUCCESS[0], "Success", "ОК", "OK"})  # what public providers answer for one
_SIGNED_CALL = uuid.UUID("5b0a9c1e-3d2f-4e8a-9c7b-6f1d2e3a4b5c")  # the namespace of ids made from signatures


@dataclass(frozen=True)
class SoapAnswer:
    status: int
    body: bytes


class SoapDoor:
    def __init__(self, *, bus: Bus, book: RegistryBook, decision: IngressDecision, composer: Composer,
                 clock: MeshClock, keyring: Callable[[], Keyring], secret: str, sync_timeout_s: float,
                 max_sync_deadline_s: float) -> None:
        self._bus = bus
        self._book = book
        self._decision = decision
        self._composer = composer
        self._clock = clock
        self._keyring = keyring
        self._secret = secret
        self._sync_timeout_s = sync_timeout_s
        self._max_deadline_s = max_sync_deadline_s
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._reply_queue: str | None = None
        self._subscription: Subscription | None = None
        self.journal: Journal | None = None

    # ---- credentials --------------------------------------------------------------------------------------
    def password_for(self, member_id: str) -> str:
        """A SOAP member's password: derived from the mesh's secret, so it survives restarts and is never stored."""
        digest = hmac.new(self._secret.encode(), f"soap-member:{member_id}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def _authenticate(self, sender_id: str, password: str | None) -> None:
        member = self._book.loaded_or_fail().members.get(sender_id)
        expected = self.password_for(sender_id)
        if member is None or member.door != "soap" or password is None or not hmac.compare_digest(
                password.encode(), expected.encode()):
            raise MeshError("Client.SoapAuthFailed", "sender/senderId and password are not a SOAP member's "
                            "credentials (POST /admin/soap/members/{id}/credentials issues them)")
        if not member.active:
            raise MeshError("Client.MemberSuspended", f"{sender_id} is suspended in the registry")

    # ---- the reply queue ----------------------------------------------------------------------------------
    async def start(self) -> None:
        self._reply_queue = await self._bus.declare_queue(name=f"shep.soap.replies.{uuid.uuid4().hex[:12]}",
                                                          exclusive=True, auto_delete=True, durable=False)
        self._subscription = await self._bus.consume(queue=self._reply_queue, handler=self._on_reply, prefetch=256)

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.cancel()
            self._subscription = None

    async def _on_reply(self, delivery: Delivery) -> None:
        """An answer the pipeline routed to a SOAP caller: opened with the gateway's own key (a SOAP member's hop
        ends here), handed to the call waiting for it."""
        try:
            wire = read_wire(delivery.body)
            env = open_wire(wire, self._keyring()).envelope
        except MeshError as exc:
            log.warning("soap_reply_unreadable", error=exc.message[:200])
            await delivery.ack()
            return
        future = self._pending.get(str(env.in_reply_to)) if env.in_reply_to else None
        if future is not None and not future.done():
            future.set_result(env.model_dump(by_alias=True))
        await delivery.ack()

    # ---- a call ---------------------------------------------------------------------------------------------
    async def handle(self, body: bytes, *, channel: str) -> SoapAnswer:
        """A call at ``channel``'s address (sync or async): its answer, or a SOAP fault with the mesh's code."""
        session = session_guid()
        facts: dict[str, Any] = {}
        try:
            raw, checks, facts = await self._admitted(body, channel=channel, facts=facts)
            if channel == "async":
                await self._publish(raw, synchronous=False, reply_to=None, deadline=None, checks=checks)
                self._record(outcome="accepted", channel=channel, **facts)
                return self._answer(200, async_response(message_id=raw["messageId"],
                                                        correlation_id=raw["correlationId"], when=self._clock.now(),
                                                        session=session))
            return await self._call(raw, session=session, facts=facts, checks=checks)
        except MeshError as exc:  # XmlRefused and SignatureError too
            return self._fault(channel, exc.code, exc.message, session=session, facts=facts)
        except Exception as exc:  # a bug of ours, never a JSON 500 to a SOAP client
            log.exception("soap_door_failed")
            return self._fault(channel, "Server.ProcessingFailed", f"the gateway failed on this call: "
                               f"{type(exc).__name__}", session=session, facts=facts)

    async def _admitted(self, body: bytes, *, channel: str,
                        facts: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """The call read, its sender authenticated and its signature checked, the envelope it is — read from the
        Body as signed — checked as the pipeline will, and signed by the gateway for that sender; with the door's
        checks and what the journal says of it. Each refusal a ``MeshError``."""
        root = parse_xml(body)
        called, _operation = operation_of(root)
        if called != channel:
            raise MeshError("Client.SoapInvalid", f"a {called} channel operation sent to the {channel} channel's "
                            "address")
        sent = read_call(root.find(f"{{{SOAP11}}}Body"))  # who it says it is: authenticated before any mathematics
        facts |= {"sender": sent.sender_id, "serviceId": sent.fields.get("serviceId")}
        self._authenticate(sent.sender_id, sent.password)
        signed, checked_signature = await self._signed_by(root, member_id=sent.sender_id)
        call = read_call(signed.body)  # what was signed is what goes on
        if call.sender_id != sent.sender_id:
            raise MeshError("Client.SoapAuthFailed", "the signed Body names another sender than the one "
                            "authenticated")
        raw = self._vouched(self._envelope(call.fields, signature_value=signature_value(root)))
        facts |= {"messageId": raw["messageId"], "correlationId": raw["correlationId"]}
        env = envelope_of(raw).envelope
        self._routable(env, channel=channel)
        parse_payload(service_id=env.service_id, message_type=env.message_type, data=env.data)
        return raw, checked_signature, facts

    async def answer_for(self, *, member_id: str, request: Envelope, answer: etree._Element) -> None:
        """A SOAP member's ``SendMessageResponse`` to a synchronous ``request`` pushed to it (``soap_push``): its
        signature checked as a call's is (the member's pinned certificate, valid, not revoked), the answer it is —
        a RESPONSE, or an ERROR when its status is not a success — signed by the gateway for it and sent into the
        pipeline, which routes it to the caller within the caller's deadline. ``MeshError`` when it is refused."""
        signed, checked_signature = await self._signed_by(answer, member_id=member_id)
        said = read_sync_answer(signed.body)
        failed = said.code not in SUCCESS_CODES
        data = (ErrorPayload(code="Server.ProviderError", message=f"{said.code}: {said.message}"[:500],
                             where="provider", refused_message_id=str(request.message_id)).model_dump(by_alias=True)
                if failed else said.data)
        try:
            message_id = uuid.UUID(said.message_id.strip("{}"))
        except ValueError:  # a provider's own id that is not a UUID: one made from its signature
            message_id = uuid.uuid5(_SIGNED_CALL, signature_value(answer))
        wire = unsigned_envelope(
            service_id=request.service_id, message_type=MessageType.ERROR if failed else MessageType.RESPONSE,
            sender=member_id, data=data, message_date=self._clock.now(), correlation_id=request.correlation_id,
            in_reply_to=request.message_id, message_id=message_id)
        checked(wire, what="the answer's data")
        raw = self._vouched(wire)
        env = envelope_of(raw).envelope
        parse_payload(service_id=env.service_id, message_type=env.message_type, data=env.data)
        await self._publish(raw, synchronous=True, reply_to=None, deadline=None, checks=checked_signature)

    async def _signed_by(self, envelope: etree._Element, *, member_id: str) -> tuple[SignedBody, dict[str, Any]]:
        """``envelope``'s WS-Security signature, by ``member_id``'s pinned certificate — valid on the mesh clock,
        not revoked, a signing one (the pipeline's own certificate step) — and what was checked; a ``MeshError``
        with the refusal's code."""
        try:
            signed = verify_body(envelope)
        except SignatureError as exc:
            raise MeshError(signature_refusal_code(exc.code), exc.message) from None
        checks: dict[str, Any] = {}
        refusal, _proven = await self._decision.certificate_refusal(
            member_id=member_id, certificate=signed.verified.signer, checks=checks)
        if refusal is not None:
            raise MeshError(refusal.code, refusal.message)
        return signed, checks["signature"]

    def _routable(self, env: Envelope, *, channel: str) -> None:
        """The registry's word before the call is taken — the service, the grant, the district named in routeId, a
        notification's recipient, the channel the service is served by — so the caller gets its fault now, not an
        ERROR pushed later; the pipeline asks again. An answer's route needs the request it answers: the
        pipeline's alone."""
        registry = self._book.loaded_or_fail()
        service = registry.services.get(env.service_id)
        if env.message_type is MessageType.REQUEST and service is not None and service.channel != channel:
            other = "SyncChannel" if service.channel == "sync" else "AsyncChannel"
            raise MeshError("Client.SoapInvalid", f"{env.service_id} is served {service.channel}hronously: call it "
                            f"through {other}")
        route = (registry.route_request(env) if env.message_type is MessageType.REQUEST
                 else registry.route_notification(env) if env.message_type is MessageType.NOTIFICATION else None)
        if isinstance(route, Refusal):
            raise MeshError(route.code, route.message)

    def _envelope(self, fields: dict[str, Any], *, signature_value: str) -> dict[str, Any]:
        """The envelope the SOAP call is: its fields as the signed Body gives them, what it leaves out assigned
        here — a ``messageId`` from the signature itself, so the same signed call sent again is the same message
        (and refused as a duplicate), never a new one."""
        message_id = fields.get("messageId") or uuid.uuid5(_SIGNED_CALL, signature_value)
        wire = unsigned_envelope(
            service_id=fields["serviceId"], message_type=fields["messageType"], sender=fields["sender"],
            data=fields["data"], message_date=fields["messageDate"],
            correlation_id=fields.get("correlationId") or str(message_id), recipient=fields.get("recipient"),
            route_id=fields.get("routeId"), in_reply_to=fields.get("inReplyTo"), message_id=message_id)
        checked(wire, what="the call's data")
        return wire

    def _vouched(self, wire: dict[str, Any]) -> dict[str, Any]:
        """Signed by the gateway for the sender it authenticated (``shared.mesh.envelope.VOUCHED``), as ШЭП signs what
        it passes on: the SOAP message, its password inside, stays here."""
        signer = self._composer.signer
        if signer is None:
            raise MeshError("GATEWAY_NOT_READY", "the gateway has no system certificate yet")
        signed = sign_wire(wire=wire, signer=signer, at=self._clock.now())
        return signed | {"signature": VOUCHED + signed["signature"]}

    async def _publish(self, raw: dict[str, Any], *, synchronous: bool, reply_to: str | None, deadline: float | None,
                       checks: dict[str, Any]) -> None:
        own = self._book.encryption_certificate(self._book.own_id)
        body = orjson.dumps(seal_wire(raw, recipient=own) if own is not None else raw)
        if len(body) > MAX_ENVELOPE_BYTES:  # what the ingress would refuse unread: refused here, with its reason
            raise MeshError("Client.TooLarge", f"the call makes an envelope of {len(body):,} bytes; the most the "
                            f"gateway takes is {MAX_ENVELOPE_BYTES:,}")
        headers: dict[str, Any] = {H_PUBLISHER: raw["sender"], H_DOOR: "soap",
                                   H_DOOR_CHECKS: orjson.dumps(json_safe(checks)).decode()}
        if deadline is not None:
            headers[H_DEADLINE] = deadline_header(deadline)
        try:
            lane = ingress_key(synchronous=synchronous)  # a call and a SOAP provider's answer to one: the fast lane
            await self._bus.publish(exchange=INGRESS_EXCHANGE, routing_key=lane, message=OutgoingMessage(
                body=body, message_id=raw["messageId"], correlation_id=raw["correlationId"],
                reply_to=reply_to, headers=headers, persistent=reply_to is None))
        except BusError as exc:
            raise MeshError("Server.BrokerUnavailable", f"the gateway's broker did not take the message: {exc}") \
                from None

    async def _call(self, raw: dict[str, Any], *, session: str, facts: dict[str, Any],
                    checks: dict[str, Any]) -> SoapAnswer:
        if self._reply_queue is None:
            raise MeshError("GATEWAY_NOT_READY", "the SOAP door is not connected to the broker yet")
        if raw["messageId"] in self._pending:  # the same call twice at once: the second is a duplicate
            raise MeshError("Client.DuplicateMessage", f"message {raw['messageId']} is in flight already")
        timeout = min(self._sync_timeout_s, self._max_deadline_s)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[raw["messageId"]] = future
        try:
            await self._publish(raw, synchronous=True, reply_to=self._reply_queue, deadline=time.time() + timeout,
                                checks=checks)
            try:  # the gateway answers Server.Timeout at the deadline; the margin lets that answer arrive
                answer = await asyncio.wait_for(future, timeout=timeout + REPLY_MARGIN_S)
            except TimeoutError:
                raise MeshError("Server.Timeout", f"no answer within {timeout:g} s") from None
        finally:
            self._pending.pop(raw["messageId"], None)
        if answer["messageType"] is MessageType.ERROR:
            error = ErrorPayload.model_validate(answer["data"])
            return self._fault("sync", error.code, error.message, session=session, facts=facts)
        self._record(outcome="answered", channel="sync", **facts)
        return self._answer(200, sync_response(message_id=answer["messageId"], correlation_id=answer["correlationId"],
                                               data=answer["data"], when=self._clock.now(), session=session))

    # ---- answers --------------------------------------------------------------------------------------------
    def _answer(self, status: int, envelope: etree._Element) -> SoapAnswer:
        """Signed by the gateway, as ШЭП signs what it sends (its certificate whole in the KeyIdentifier)."""
        signer = self._composer.signer
        if signer is not None:
            sign_body(envelope, key=signer.key, certificate=signer.certificate)
        return SoapAnswer(status=status, body=to_bytes(envelope))

    def refused(self, channel: str, error: MeshError) -> SoapAnswer:
        """A call refused before it was read (its body too large): the fault, journaled."""
        return self._fault(channel, error.code, error.message, session=session_guid(), facts={})

    def _fault(self, channel: str, code: str, message: str, *, session: str, facts: dict[str, Any]) -> SoapAnswer:
        self._record(outcome="refused", channel=channel, code=code, reason=message[:500], **facts)
        log.info("soap_refused", code=code, channel=channel)
        return self._answer(500, fault(channel=channel, code=code, message=message, when=self._clock.now(),
                                       session=session))

    def _record(self, *, outcome: str, channel: str, **fields: Any) -> None:
        if self.journal is not None:
            shown: dict[str, Any] = {k: str(v) for k, v in fields.items() if v is not None}
            self.journal.record("envelope", outcome=outcome, channel=f"soap-{channel}", **shown)

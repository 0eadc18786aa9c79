"""What the gateway delivers to a SOAP member, pushed to the member's own AsyncChannel endpoint (docs/soap.md).

ШЭП has both ways for an asynchronous recipient: it calls the recipient's ``sendMessage`` (the channel's client
contract, «PUSH»), or the recipient polls ``getMessages``. The gateway pushes: a member registered with
``door: soap`` and a ``soapEndpoint`` gets each delivery as a ``sendMessage`` signed by the gateway, as soon as it
is routed — no polling interval between a status and the system that waits for it. The pipeline is unchanged: the
delivery is logged, sealed and tracked ON_DELIVERY on the member's queue like any other; this consumer takes it
from there (its payload was encrypted to the gateway's own key: a SOAP member's hop ends at the gateway), and the
member's ``sendMessageResponse`` is its receipt — DELIVERED. A push that fails (no answer, a fault, anything but
``sendMessageResponse``) leaves the delivery ON_DELIVERY: the receipt timeout delivers it again and, after
``SHEP_DELIVERY_ATTEMPTS``, it is NOT_DELIVERED, dead-lettered, its sender told — the AMQP policy, unchanged.

A SOAP member that provides a synchronous service gets its requests the same way, from its synchronous queue, as
SyncChannel's ``SendMessage``; its ``SendMessageResponse`` goes back through the SOAP door (``answer_for``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from lxml import etree

from services.shep_gateway.registry_book import RegistryBook
from services.shep_gateway.usecases.receipts import delivered
from services.shep_gateway.usecases.soap_door import SoapDoor
from shared.db import Sessions
from shared.errors import MeshError
from shared.logging import get_logger, message_context
from shared.mesh.bus import Bus, BusError, Delivery, Subscription
from shared.mesh.envelope import Envelope
from shared.mesh.journal import Journal
from shared.mesh.member import Composer
from shared.mesh.payload_crypto import Keyring, open_wire, read_wire
from shared.mesh.soap_channels import is_push_accepted, push_message, session_guid, sync_request, to_bytes
from shared.mesh.topology import declare_member, member_queue, member_sync_queue
from shared.pki.xmldsig import MAX_XML_BYTES, XmlRefused, parse_xml, sign_body

log = get_logger(__name__)
PUSH_TIMEOUT_S = 10.0


class SoapPush:
    def __init__(self, *, bus: Bus, book: RegistryBook, sessions: Sessions, composer: Composer,
                 keyring: Callable[[], Keyring], http: httpx.AsyncClient, door: SoapDoor) -> None:
        self._bus = bus
        self._door = door
        self._book = book
        self._sessions = sessions
        self._composer = composer
        self._keyring = keyring
        self._http = http
        # member → (endpoint, its consumers: its queue's, and its synchronous queue's)
        self._consuming: dict[str, tuple[str, list[Subscription]]] = {}
        self._started = False
        self._lock = asyncio.Lock()
        self.journal: Journal | None = None

    async def start(self) -> None:
        self._started = True
        await self.refresh()

    async def stop(self) -> None:
        self._started = False
        for _endpoint, subscriptions in self._consuming.values():
            for subscription in subscriptions:
                await subscription.cancel()
        self._consuming.clear()

    async def refresh(self) -> None:
        """One consumer per SOAP member with an endpoint, as the registry has them now (two reloads at once take
        turns: neither starts a consumer the other does not know of); a broker that fails it is the next reload's
        to try again, never the reload's failure."""
        async with self._lock:
            try:
                await self._refresh()
            except BusError as exc:
                log.warning("soap_push_refresh_failed", error=str(exc)[:200])

    async def _refresh(self) -> None:
        if not self._started:
            return
        wanted = {m.id: m.soap_endpoint for m in self._book.registry.members.values()
                  if m.door == "soap" and m.soap_endpoint and m.active}
        for member_id in [m for m in self._consuming if self._consuming[m][0] != wanted.get(m)]:
            for subscription in self._consuming.pop(member_id)[1]:
                await subscription.cancel()
        for member_id, endpoint in wanted.items():
            if member_id not in self._consuming and endpoint:
                await declare_member(self._bus, member_id=member_id)  # a member just registered: not declared yet
                self._consuming[member_id] = (endpoint, [
                    await self._bus.consume(queue=member_queue(member_id), prefetch=8,
                                            handler=self._handler(member_id, endpoint, self._push)),
                    await self._bus.consume(queue=member_sync_queue(member_id), prefetch=8,
                                            handler=self._handler(member_id, endpoint, self._call))])

    @staticmethod
    def _handler(member_id: str, endpoint: str,
                 work: Callable[[str, str, Delivery], Awaitable[None]]) -> Callable[[Delivery], Any]:
        async def on_delivery(delivery: Delivery) -> None:
            with message_context(message_id=delivery.message_id, correlation_id=delivery.correlation_id):
                try:
                    await work(member_id, endpoint, delivery)
                finally:  # a failed push is the receipt timeout's to deliver again
                    with contextlib.suppress(BusError):
                        await delivery.ack()
        return on_delivery

    async def _push(self, member_id: str, endpoint: str, delivery: Delivery) -> None:
        env = self._opened(member_id, delivery)
        if env is None:  # not the gateway's own delivery: nothing to push, its receipt timeout decides
            return
        outcome, reason = "pushed", None
        try:
            status, answer = await self._post(endpoint, self._signed(push_message(env, session=session_guid())))
            if status != 200 or not is_push_accepted(parse_xml(answer)):
                outcome, reason = "push-refused", f"HTTP {status}: {answer[:200]!r}"
        except (httpx.HTTPError, XmlRefused) as exc:
            outcome, reason = "push-failed", f"{type(exc).__name__}: {exc}"[:300]
        if outcome == "pushed":
            await self._delivered(member_id, str(env.message_id))
        self._journal(member_id, env, outcome=outcome, reason=reason, channel="soap-push")

    async def _call(self, member_id: str, endpoint: str, delivery: Delivery) -> None:
        """A synchronous request to a SOAP provider: ``SendMessage`` to its endpoint, signed by the gateway; its
        ``SendMessageResponse`` checked and sent on as its answer (``SoapDoor.answer_for``). One that fails — no
        answer, a fault, a signature refused — is logged: the caller's deadline then answers it ``Server.Timeout``,
        as for a provider on AMQP that does not answer."""
        env = self._opened(member_id, delivery)
        if env is None:
            return
        outcome, reason = "answered", None
        try:
            status, answer = await self._post(endpoint, self._signed(sync_request(env, session=session_guid())))
            if status != 200:
                raise MeshError("Server.ProviderError", f"HTTP {status}: {answer[:200]!r}")
            await self._door.answer_for(member_id=member_id, request=env, answer=parse_xml(answer))
        except (httpx.HTTPError, MeshError) as exc:
            outcome, reason = "call-failed", f"{type(exc).__name__}: {exc}"[:300]
        self._journal(member_id, env, outcome=outcome, reason=reason, channel="soap-call")

    def _opened(self, member_id: str, delivery: Delivery) -> Envelope | None:
        """The delivery's envelope, opened with the gateway's own key (a SOAP member's hop ends here)."""
        try:
            return open_wire(read_wire(delivery.body), self._keyring()).envelope
        except MeshError as exc:
            log.warning("soap_delivery_unreadable", member=member_id, error=exc.message[:200])
            return None

    def _signed(self, message: etree._Element) -> bytes:
        signer = self._composer.signer
        if signer is not None:
            sign_body(message, key=signer.key, certificate=signer.certificate)
        return to_bytes(message)

    def _journal(self, member_id: str, env: Envelope, *, outcome: str, reason: str | None, channel: str) -> None:
        """What became of it — pushed, answered, or why not — in the journal (kind ``consumed``) and, failed, the
        log."""
        if reason is not None:
            log.warning("soap_delivery_failed", member=member_id, channel=channel, outcome=outcome, reason=reason)
        if self.journal is not None:
            self.journal.record("consumed", recipient=member_id, sender=env.sender, outcome=outcome,
                                messageId=str(env.message_id), correlationId=env.correlation_id,
                                serviceId=env.service_id, messageType=env.message_type.value, channel=channel,
                                reason=reason, payload=env.data)

    async def _post(self, endpoint: str, body: bytes) -> tuple[int, bytes]:
        """The member's answer, read no further than ``MAX_XML_BYTES`` (a member's endpoint is not trusted to
        be small)."""
        async with self._http.stream("POST", endpoint, content=body, timeout=PUSH_TIMEOUT_S,
                                     headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}) as reply:
            answer = bytearray()
            async for chunk in reply.aiter_bytes():
                answer += chunk
                if len(answer) > MAX_XML_BYTES:
                    raise XmlRefused("Client.TooLarge", f"the member's answer is over {MAX_XML_BYTES:,} bytes")
            return reply.status_code, bytes(answer)

    async def _delivered(self, member_id: str, message_id: str) -> None:
        """The member's ``sendMessageResponse`` is its receipt: ON_DELIVERY → DELIVERED."""
        async with self._sessions() as session, session.begin():
            await delivered(session, message_id=message_id, recipient=member_id, settled_by="soap-push")

"""What leaves the gateway, made fit for its hop: a payload encrypted to its recipient's certificate, the gateway's
seal over what it delivers (``shared.mesh.seal``), and a dead letter that never keeps a payload in clear."""

from __future__ import annotations

from typing import Any

import orjson

from services.shep_gateway.registry_book import RegistryBook
from services.shep_gateway.usecases.examined import Examined
from shared.clock import MeshClock
from shared.mesh.bus import OutgoingMessage
from shared.mesh.dead_letters import withheld_body
from shared.mesh.member import Composer
from shared.mesh.payload_crypto import is_encrypted, seal_wire
from shared.mesh.seal import seal_headers


class Sealer:
    def __init__(self, *, book: RegistryBook, composer: Composer, clock: MeshClock) -> None:
        self._book = book
        self._composer = composer
        self._clock = clock

    def sealed_own(self, wire: dict[str, Any], *, recipient: str, log_seq: int,
                   headers: dict[str, Any] | None = None) -> OutgoingMessage:
        """An envelope the gateway wrote itself (an ERROR), encrypted and sealed for ``recipient`` — in clear only to
        a member with no certificate for key agreement yet: an ERROR holds a code and a reason, never a payload.
        ``headers``: what it carries besides the seal (the trace of the message it answers)."""
        body = orjson.dumps(self.for_hop(wire, recipient=recipient))
        return OutgoingMessage(body=body, message_id=wire["messageId"], correlation_id=wire["correlationId"],
                               headers=self.sealed(dict(headers or {}), body=body, recipient=recipient,
                                                   log_seq=log_seq))

    def for_hop(self, wire: dict[str, Any], *, recipient: str) -> dict[str, Any]:
        """A signed envelope's wire form with its data and signature encrypted to ``recipient``'s certificate."""
        certificate = self._book.encryption_certificate(recipient)
        return wire if certificate is None else seal_wire(wire, recipient=certificate)

    def dead_body(self, item: Examined) -> bytes:
        """What the dead-letter queue keeps of a refused message: the envelope encrypted to the gateway (as it came,
        or encrypted now), never its payload in clear; one that cannot be encrypted is kept as its digest."""
        body = item.delivery.body
        if is_encrypted(body):
            return body
        if item.parsed is not None:
            return orjson.dumps(seal_wire(item.parsed.raw, recipient=self._book.own_certificate()))
        return withheld_body(body)

    def sealed(self, headers: dict[str, Any], *, body: bytes, recipient: str, log_seq: int) -> dict[str, Any]:
        """``headers`` plus the gateway's seal over what it delivers (``shared.mesh.seal``)."""
        assert self._composer.signer is not None
        return {**headers, **seal_headers(body=body, log_seq=log_seq, recipient=recipient,
                                          signer=self._composer.signer, at=self._clock.now())}

"""The envelope every message travels in, parsed strictly at the edge.

Fields follow the real gateway's message info (messageId, correlationId, serviceId, messageType,
messageDate, sender, recipient, routeId) plus ``inReplyTo`` for answers and errors. ``signature`` is the
sending system's detached CMS signature over the RFC 8785 form of every other field.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.errors import MeshError
from shared.mesh.topology import GATEWAY_ID
from shared.pki.canonical import JsonRefused, check_json, signed_content

MemberId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*(\.[a-z0-9-]+)*$", max_length=64)]
ServiceId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*(\.[a-z0-9-]+)+$", max_length=128)]
MAX_ENVELOPE_BYTES = 4 * 1024 * 1024


class MessageType(StrEnum):
    REQUEST = "REQUEST"
    RESPONSE = "RESPONSE"
    NOTIFICATION = "NOTIFICATION"
    ERROR = "ERROR"


class EnvelopeHeader(BaseModel):
    """Every field of an envelope but the two the hop encrypts (``SECRET_FIELDS``): what the broker may see."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)

    message_id: uuid.UUID = Field(alias="messageId")
    correlation_id: str = Field(alias="correlationId", min_length=1, max_length=128)
    service_id: ServiceId = Field(alias="serviceId")
    message_type: MessageType = Field(alias="messageType")
    message_date: dt.datetime = Field(alias="messageDate")
    sender: MemberId
    recipient: MemberId | None = None
    route_id: str | None = Field(default=None, alias="routeId", max_length=64)
    in_reply_to: uuid.UUID | None = Field(default=None, alias="inReplyTo")


class Envelope(EnvelopeHeader):
    """An envelope as its sender signed it (and as its recipient reads it, once opened)."""

    data: dict[str, Any]
    signature: str = Field(min_length=1)

    def wire_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.wire_dict())


# On the wire between two hops, ``data`` and ``signature`` travel encrypted for the next hop as one JWE in
# ``encrypted`` (``shared.mesh.payload_crypto``): the signature too, since its digest would confirm a guessed payload.
SECRET_FIELDS = ("data", "signature")
ENCRYPTED = "encrypted"


class EncryptedEnvelope(EnvelopeHeader):
    """An envelope in transit: its header readable, its data and signature a JWE for the next hop."""

    encrypted: str = Field(min_length=1)


def parse_encrypted(raw: dict[str, Any]) -> EncryptedEnvelope:
    """The header of an encrypted envelope (``raw`` as ``load_wire`` gave it), or ``Client.InvalidEnvelope`` naming
    the field."""
    return _validated(EncryptedEnvelope, raw)


@dataclass(frozen=True)
class ParsedEnvelope:
    """An envelope together with the exact JSON it arrived as, which is what its signature covers."""

    envelope: Envelope
    raw: dict[str, Any]

    def signed_bytes(self) -> bytes:
        return signed_content(self.raw)


# An envelope the gateway signed itself for the sender it names: one that came by ШЭП's SOAP door, whose sender the
# door authenticated (password, WS-Security signature with its pinned certificate) — as ШЭП signs what it passes on.
# Only the gateway's SOAP door makes one; the gateway refuses any other that carries it (docs/soap.md).
VOUCHED = "shep:"


def signer_of(env: Envelope) -> str:
    """Whose system certificate must have signed ``env``: its sender's — or, vouched, the gateway's."""
    return GATEWAY_ID if env.signature.startswith(VOUCHED) else env.sender


def cms_signature(env: Envelope) -> str:
    """The envelope's detached CMS signature (base64) over its canonical form, whoever signed it (``signer_of``)."""
    return env.signature.removeprefix(VOUCHED)


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "envelope"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def load_wire(body: bytes) -> dict[str, Any]:
    """Wire bytes as a JSON object within the mesh's limits (size, and ``check_json`` before anything walks
    ``data``: pydantic, the canonical form for the signature), or ``Client.InvalidEnvelope``."""
    if len(body) > MAX_ENVELOPE_BYTES:
        raise MeshError("Client.InvalidEnvelope", f"envelope is {len(body)} bytes, the limit is {MAX_ENVELOPE_BYTES}")
    try:
        raw = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MeshError("Client.InvalidEnvelope", f"body is not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise MeshError("Client.InvalidEnvelope", "envelope must be a JSON object")
    checked(raw, what="envelope")
    return raw


def checked(value: Any, *, what: str) -> None:
    """The mesh's JSON limit on (part of) an envelope: ``Client.InvalidEnvelope`` naming the JSON code."""
    try:
        check_json(value)
    except JsonRefused as exc:
        raise MeshError("Client.InvalidEnvelope", f"{what}: {exc.code}: {exc.message}") from None


_Model = TypeVar("_Model", bound=EnvelopeHeader)


def _validated(model: type[_Model], raw: dict[str, Any]) -> _Model:
    try:
        parsed = model.model_validate(raw)
    except ValidationError as exc:
        raise MeshError("Client.InvalidEnvelope", _describe(exc)) from None
    if parsed.message_date.tzinfo is None:
        raise MeshError("Client.InvalidEnvelope", "messageDate: must carry a time zone offset")
    return parsed


def envelope_of(raw: dict[str, Any]) -> ParsedEnvelope:
    """An envelope from its JSON object (held to the limits already: ``load_wire``, ``checked``)."""
    return ParsedEnvelope(envelope=_validated(Envelope, raw), raw=raw)


def parse_envelope(body: bytes) -> ParsedEnvelope:
    """Parse wire bytes into an envelope or refuse with ``Client.InvalidEnvelope`` naming the field."""
    return envelope_of(load_wire(body))


def unsigned_envelope(
    *,
    service_id: str,
    message_type: MessageType,
    sender: str,
    data: dict[str, Any],
    message_date: dt.datetime,
    correlation_id: str | None = None,
    recipient: str | None = None,
    route_id: str | None = None,
    in_reply_to: uuid.UUID | None = None,
    message_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """The wire form of a new envelope, without its signature yet."""
    message_id = message_id or uuid.uuid4()
    wire: dict[str, Any] = {
        "messageId": str(message_id),
        "correlationId": correlation_id or str(message_id),
        "serviceId": service_id,
        "messageType": message_type.value,
        "messageDate": message_date.isoformat(),
        "sender": sender,
        "data": data,
    }
    if recipient is not None:
        wire["recipient"] = recipient
    if route_id is not None:
        wire["routeId"] = route_id
    if in_reply_to is not None:
        wire["inReplyTo"] = str(in_reply_to)
    return wire

"""The AsyncAPI document of the mesh's message channels, generated from the envelope and the registered
contracts, so the published description cannot drift from what the gateway enforces.

    python -m meshkit.asyncapi > docs/asyncapi.json      (make docs)
"""

from __future__ import annotations

import json
import sys
from typing import Any

from pydantic import BaseModel

from shared.mesh.contracts import registered_contracts
from shared.mesh.envelope import EncryptedEnvelope, Envelope
from shared.mesh.receipts import H_REDELIVERY, RECEIPT_SERVICE
from shared.mesh.seal import H_SEAL, H_SEAL_SEQ
from shared.mesh.topology import (
    CLOCK_EXCHANGE,
    DEAD_QUEUE,
    H_DEADLINE,
    H_ORIGIN_QUEUE,
    H_REFUSAL_CODE,
    H_REFUSAL_REASON,
    INGRESS_EXCHANGE,
)

REF = "#/components/schemas/{model}"


def _schema(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, str]:
    body = model.model_json_schema(by_alias=True, ref_template=REF, mode="serialization")
    for name, definition in body.pop("$defs", {}).items():
        schemas[name] = definition
    schemas[model.__name__] = body
    return {"$ref": REF.format(model=model.__name__)}


def build() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    envelope_ref = _schema(Envelope, schemas)
    _schema(EncryptedEnvelope, schemas)  # the same envelope as the broker carries it
    for (service_id, message_type), model in sorted(registered_contracts().items()):
        name = f"{service_id}.{message_type.value}".replace("*", "any")
        messages[name] = {
            "name": name, "title": f"{service_id} {message_type.value}",
            "summary": (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else "",
            "payload": {"allOf": [envelope_ref, {"type": "object", "properties": {
                "serviceId": {"const": service_id} if service_id != "*" else {"type": "string"},
                "messageType": {"const": message_type.value}, "data": _schema(model, schemas)}}]},
        }
    every = {"oneOf": [{"$ref": f"#/components/messages/{n}"} for n in messages]}
    return {
        "asyncapi": "2.6.0",
        "info": {"title": "egov-mesh message channels", "version": "0.1.0", "description": (
            "Every message is a signed envelope (detached CMS over its RFC 8785 form, in `signature`). Members "
            "publish only to the gateway; the gateway verifies, logs and routes. Payload contracts per service "
            "and message type; a payload that does not fit is refused with Client.InvalidPayload. On the broker "
            "`data` and `signature` travel as one JWE in `encrypted` (EncryptedEnvelope: compact, alg ECDH-ES, enc "
            "A256GCM, kid = the serial of the next hop's system certificate; its plaintext is {data, signature}): a "
            "member encrypts to the gateway's certificate, the gateway to the recipient's; one sent in clear is "
            "refused Client.NotEncrypted. A member acknowledges each delivery on member.{memberId} with a "
            f"{RECEIPT_SERVICE} NOTIFICATION to the gateway; without one it is delivered again (header "
            f"{H_REDELIVERY}), then NOT_DELIVERED (Server.NotDelivered).")},
        "defaultContentType": "application/json",
        "servers": {"local": {"url": "amqp://127.0.0.1:5672", "protocol": "amqp", "protocolVersion": "0-9-1"}},
        "channels": {
            INGRESS_EXCHANGE: {
                "description": "Members hand every message to the gateway here (direct exchange, key ''), under "
                               "their own broker login: the AMQP user-id must be the envelope's sender "
                               "(else Client.PublisherMismatch).",
                "publish": {"message": every},
                "bindings": {"amqp": {"is": "routingKey", "exchange": {"name": INGRESS_EXCHANGE, "type": "direct"}}},
            },
            "member.{memberId}": {
                "description": "Asynchronous deliveries to one member, routed by the gateway (exchange "
                               f"shep.delivery, key = member id). Every delivery carries the gateway's seal: {H_SEAL} "
                               "(detached CMS by the gateway over the RFC 8785 form of {envelopeDigest: SHA-256 hex of "
                               f"the body, logSeq, recipient}}) and {H_SEAL_SEQ} (the message-log record that routed "
                               "it); a recipient takes nothing without it (Client.NotSealed).",
                "parameters": {"memberId": {"schema": {"type": "string"}}},
                "subscribe": {"message": every},
            },
            "member.{memberId}.sync": {
                "description": f"Synchronous requests; header {H_DEADLINE} carries the caller's deadline "
                               "(Unix ms). Answers go to the caller's own reply queue (AMQP reply_to).",
                "parameters": {"memberId": {"schema": {"type": "string"}}},
                "subscribe": {"message": every},
            },
            DEAD_QUEUE: {
                "description": f"Refused or undeliverable messages, unchanged, with headers {H_REFUSAL_CODE}, "
                               f"{H_REFUSAL_REASON} and {H_ORIGIN_QUEUE}; a body over 64 KiB is kept as its "
                               "SHA-256 and size (x-body-sha256, x-body-size). Bounded by a broker policy (oldest "
                               "dropped first).",
                "subscribe": {"message": {"payload": {"description": "the original message body"}}},
            },
            CLOCK_EXCHANGE: {
                "description": "The gateway's mesh-clock broadcasts (fanout), signed like any envelope.",
                "subscribe": {"message": {"$ref": "#/components/messages/shep.clock.NOTIFICATION"}},
            },
        },
        "components": {"messages": messages, "schemas": schemas},
    }


def render() -> str:
    return json.dumps(build(), ensure_ascii=False, indent=2) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())

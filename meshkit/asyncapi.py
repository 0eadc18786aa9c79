"""The AsyncAPI 3.0 document of the mesh's message channels, generated from what the code enforces: the topology
(exchanges, routing keys, headers), the envelope in both its forms, the registered payload contracts, and the
gateway's seed registry (which services are synchronous, who provides, calls and follows them). So the published
description cannot drift from the mesh.

    python -m meshkit.asyncapi > docs/asyncapi.json      (make docs)

It describes the mesh as a member system sees it: what it publishes (to the gateway's ingress, to the dead letters)
and what it consumes (its deliveries, its synchronous requests, the answers to its own calls, the mesh clock). The
official validator (``@asyncapi/cli``, pinned in ``tools/asyncapi/``) checks it in
``tests/deploy/test_asyncapi_validates.py``.

Each message's example is a real JWE (the mesh's construction, with fixed example keys so the document is the same
at every run) of the plaintext shown beside it: a stock JOSE library opens it with ``example_recipient_key()``.
Signatures and seals in the examples are shortened; they are not verifiable.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sys
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
import yaml
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
from pydantic import BaseModel

from services.mio_workstation.domain import application_number
from services.shep_gateway.domain import RegistryFile, ServiceDef
from services.shep_gateway.settings import DEFAULT_REGISTRY
from shared.mesh.clock_follower import CLOCK_SERVICE
from shared.mesh.contracts import (
    ANY_SERVICE,
    ApplicationRequest,
    ClockPayload,
    Contract,
    ErrorPayload,
    MailRequest,
    PersonByIinRequest,
    PersonByIinResponse,
    SocialStatusRequest,
    SocialStatusResponse,
    StatusNotification,
    registered_contracts,
)
from shared.mesh.dead_letters import BODY_KEPT_MAX, H_BODY_SHA256, H_BODY_SIZE
from shared.mesh.envelope import ENCRYPTED, MAX_ENVELOPE_BYTES, SECRET_FIELDS, EncryptedEnvelope, Envelope, MessageType
from shared.mesh.payload_crypto import ALG, ENC
from shared.mesh.receipts import H_REDELIVERY, RECEIPT_SERVICE, DeliveryReceipt
from shared.mesh.scenarios import H_SCENARIO, H_SCENARIO_RULES, ID_PATTERN
from shared.mesh.seal import H_SEAL, H_SEAL_SEQ
from shared.mesh.topology import (
    CLOCK_EXCHANGE,
    DEAD_EXCHANGE,
    DEAD_QUEUE,
    DELIVERY_EXCHANGE,
    GATEWAY_ID,
    H_ATTEMPT,
    H_DEADLINE,
    H_FAULTS,
    H_FIRST_FAILED,
    H_ORIGIN_QUEUE,
    H_PUBLISHER,
    H_RECIPIENT,
    H_REFUSAL_CODE,
    H_REFUSAL_REASON,
    INGRESS_EXCHANGE,
    INGRESS_QUEUE,
    INGRESS_SYNC_QUEUE,
    RETRY_TIERS_S,
    SYNC_INGRESS_KEY,
    member_queue,
    member_sync_queue,
    sync_routing_key,
)
from shared.telemetry import TRACEPARENT, TRACESTATE

ASYNCAPI_VERSION = "3.0.0"
AMQP_BINDING = "0.3.0"
SCHEMAS = "#/components/schemas/{model}"
ERROR_MESSAGE = "ERROR"  # the one ERROR message: any service's, its payload ErrorPayload
DEAD_LETTER_MESSAGE = "deadLetter"
JWE_COMPACT_DIRECT = r"^[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+$"


# ---- schemas ---------------------------------------------------------------------------------------------------------
def _ref(name: str) -> dict[str, str]:
    return {"$ref": SCHEMAS.format(model=name)}


def _strip_property_titles(schema: Any) -> Any:
    """pydantic titles every property after its Python name ("Message Id"): noise beside the alias. Model titles
    stay."""
    if isinstance(schema, dict):
        out = {k: _strip_property_titles(v) for k, v in schema.items()}
        for prop in (out.get("properties") or {}).values():
            if isinstance(prop, dict):
                prop.pop("title", None)
        return out
    if isinstance(schema, list):
        return [_strip_property_titles(v) for v in schema]
    return schema


class Schemas:
    """``components.schemas``: every model once, under its class name, nested models hoisted from ``$defs``."""

    def __init__(self) -> None:
        self.all: dict[str, Any] = {}

    def put(self, name: str, schema: dict[str, Any]) -> dict[str, str]:
        if name in self.all and self.all[name] != schema:
            raise ValueError(f"two different schemas are named {name}: rename one of the models")
        self.all[name] = schema
        return _ref(name)

    def model(self, model: type[BaseModel]) -> dict[str, str]:
        """The JSON schema of what ``model`` accepts (as the gateway and the recipient validate it)."""
        body = _strip_property_titles(model.model_json_schema(by_alias=True, ref_template=SCHEMAS, mode="validation"))
        for name, definition in body.pop("$defs", {}).items():
            self.put(name, definition)
        return self.put(model.__name__, body)


ENVELOPE_FIELDS = {
    "messageId": "unique per message (UUID); also the AMQP message_id. A second copy of a messageId the gateway "
                 "routed already is refused (Client.DuplicateMessage); a recipient's inbox takes each once",
    "correlationId": "the case it belongs to: a request's own messageId unless the sender names one; answers, "
                     "notifications and refusals keep it (also the AMQP correlation_id)",
    "serviceId": "the service of the gateway's registry (`<system>.<service>`); with messageType it names the "
                 "payload contract",
    "messageType": "REQUEST, RESPONSE (a synchronous answer), NOTIFICATION, or ERROR (a refusal or failure)",
    "messageDate": "when the sender made it, with its time zone offset (one without is refused)",
    "sender": "the member that signed it; must be the AMQP user-id it was published under "
              "(Client.PublisherMismatch)",
    "recipient": "the member it is for: required on a NOTIFICATION; optional on a REQUEST (the gateway routes by "
                 "service and routeId, and refuses a recipient that does not serve it: Client.RecipientMismatch)",
    "routeId": "which provider: for the employment services, the district code (routeBy: district); without one "
               "the gateway asks ГБД ФЛ for the applicant's registered district and routes by it",
    "inReplyTo": "the messageId answered or refused: required on RESPONSE and ERROR",
}
SIGNATURE_NOTE = ("the sender's detached CMS SignedData (base64 DER) over the RFC 8785 canonical form of every other "
                  "field of the envelope as it signed it (data included, `encrypted` never): made with its system "
                  "certificate from НУЦ, checked by the gateway and again by the recipient")


def _describe_fields(schema: dict[str, Any]) -> dict[str, Any]:
    for name, note in ENVELOPE_FIELDS.items():
        prop = schema["properties"][name]
        if "$ref" in prop:  # beside a $ref, JSON Schema draft 7 ignores every other keyword
            schema["properties"][name] = prop = {"allOf": [prop]}
        prop["description"] = note
    return schema


def envelope_schemas(schemas: Schemas) -> None:
    """The envelope as it is signed (``Envelope``) and as it travels between two hops (``EncryptedEnvelope``)."""
    schemas.model(Envelope)
    plain = _describe_fields(schemas.all["Envelope"])
    plain["properties"]["signature"]["description"] = SIGNATURE_NOTE
    plain["properties"]["data"]["description"] = "the payload: the contract of serviceId and messageType"
    plain["description"] = (
        f"{Envelope.__doc__} In clear on the broker only on {CLOCK_EXCHANGE} (the clock holds no personal data) "
        "and, from the gateway, to a member whose system certificate does not allow key agreement yet (it is "
        f"renewed at its next start). At most {MAX_ENVELOPE_BYTES} bytes of JSON.")
    schemas.model(EncryptedEnvelope)
    wire = _describe_fields(schemas.all["EncryptedEnvelope"])
    wire["description"] = (
        f"{EncryptedEnvelope.__doc__} Every field of `Envelope` but {' and '.join(SECRET_FIELDS)}, which travel as "
        f"one JWE in `{ENCRYPTED}` (shared/payload_crypto.py; docs/decisions.md, «A broker only members use»): a "
        "member encrypts to the gateway's system certificate, the gateway, after its checks and its log, to the "
        "recipient's. The signature is encrypted too: its digest would confirm a guessed payload. A member's "
        "message in clear is refused (Client.NotEncrypted).")
    wire["properties"][ENCRYPTED] |= {
        "description": (
            f"JWE compact serialisation (RFC 7516) with direct key agreement: alg {ALG}, enc {ENC} (one ephemeral "
            "P-256 key per message, Concat KDF SHA-256, AES-GCM with the protected header as additional data), "
            "kid = the serial (hex) of the next hop's system certificate; the encrypted-key part is empty. Its "
            f"plaintext is the JSON object {{{', '.join(SECRET_FIELDS)}}} of the signed envelope (x-jwe-plaintext: "
            "its schema per message). One that does not open is refused (Client.DecryptionFailed, "
            "Client.EncryptionKeyUnknown)."),
        "contentMediaType": "application/jose",
        "pattern": JWE_COMPACT_DIRECT,
        "x-jwe-protected-header": _ref("JweProtectedHeader"),
    }
    schemas.put("Signature", {"type": "string", "minLength": 1, "contentEncoding": "base64",
                              "description": SIGNATURE_NOTE})
    b64url = {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"}
    schemas.put("JweProtectedHeader", {
        "type": "object", "title": "JweProtectedHeader", "additionalProperties": False,
        "required": ["alg", "enc", "kid", "epk"],
        "description": "The JWE's protected header (its first part, base64url of this JSON).",
        "properties": {
            "alg": {"const": ALG}, "enc": {"const": ENC},
            "kid": {"type": "string", "pattern": "^[0-9a-f]+$",
                    "description": "serial number (hex) of the recipient's system certificate: a member whose key "
                                   "was renewed still opens what was encrypted to its previous one"},
            "epk": {"type": "object", "required": ["kty", "crv", "x", "y"], "additionalProperties": False,
                    "description": "the ephemeral public key",
                    "properties": {"kty": {"const": "EC"}, "crv": {"const": "P-256"}, "x": b64url, "y": b64url}},
        },
    })


def header_schemas(schemas: Schemas) -> None:
    """The AMQP application headers (the message's ``headers`` table) the mesh reads and writes."""
    schemas.put("MeshHeaders", {
        "type": "object", "title": "MeshHeaders", "additionalProperties": True,
        "description": (
            "AMQP application headers. A member sets only x-deadline-ms (synchronous requests and answers), the "
            "W3C trace context (traceparent, tracestate) and a scenario's id (x-mesh-scenario); the gateway sets "
            "the others on what it delivers. A copy that went round the consumer's own retry tiers "
            f"({', '.join(f'{s} s' for s in RETRY_TIERS_S)}: a transient failure) also carries the broker's x-death."),
        "properties": {
            H_DEADLINE: {"type": "integer", "description": (
                "synchronous request or answer: real Unix time (ms) after which the answer is useless. The caller's "
                "own (default MESH_SYNC_TIMEOUT_S, 10 s), capped by the gateway (SHEP_MAX_SYNC_DEADLINE_S, 120 s); a "
                "provider refuses a request found past it (Server.DeadlinePassed)")},
            H_SEAL: {"type": "string", "contentEncoding": "base64", "description": (
                "every delivery: the gateway's seal, a detached CMS signature by its system key over the RFC 8785 "
                "form of {envelopeDigest: SHA-256 hex of the body, logSeq, recipient}. A recipient takes nothing "
                "without it (Client.NotSealed) or with one that does not verify (Client.SealInvalid)")},
            H_SEAL_SEQ: {"type": "integer", "description": "every delivery: the record of the gateway's signed "
                                                           "message log that routed (or refused) it"},
            H_RECIPIENT: {"type": "string", "description": "a routed delivery: the member the gateway routed it to"},
            H_REDELIVERY: {"type": "integer", "minimum": 2, "description": (
                "a delivery on member.{memberId} made again because no receipt came (SHEP_RECEIPT_TIMEOUT_S, "
                "doubling): which attempt this is. The same sealed bytes; the inbox takes a messageId once")},
            H_ATTEMPT: {"type": "integer", "description": "a copy from the consumer's own retry tiers: attempts so "
                                                          "far"},
            H_FIRST_FAILED: {"type": "integer", "description": "a copy from the retry tiers: real Unix ms of the "
                                                               "first failed attempt"},
            H_FAULTS: {"type": "integer", "description": "a copy from the retry tiers: failed attempts that were "
                                                         "not outages"},
            H_PUBLISHER: {"type": "string", "description": f"{INGRESS_QUEUE} and {INGRESS_SYNC_QUEUE} only (the "
                                                           "gateway's own retries): the broker login that first "
                                                           "published the message"},
            TRACEPARENT: {"type": "string", "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
                          "description": (
                              "W3C Trace Context: the trace the message was made in (an HTTP request, the handling of "
                              "an earlier message), continued by whoever consumes it. Outside the envelope and the "
                              "gateway's seal; the gateway passes it on in what it forwards and keeps its trace id "
                              "in its log record (traceId). Optional: a message without one starts a new trace")},
            TRACESTATE: {"type": "string", "description": "W3C Trace Context: vendor state beside traceparent"},
            H_SCENARIO: {"type": "string", "pattern": ID_PATTERN.pattern, "description": (
                "a test's scenario the message's flow runs under (docs/scenarios.md): set by a member on what it "
                "sends in that flow, checked by the gateway (an id it never registered: Client.ScenarioUnknown; one "
                "that ended is dropped) and passed on, with its rules, in what it delivers. Outside the envelope")},
            H_SCENARIO_RULES: {"type": "string", "contentMediaType": "application/json", "description": (
                "a delivery in a scenario's flow: the scenario's rules as a JSON array (gbdfl:no-data, "
                "gbdfl:timeout, mio:refuse:<ground>, mio:overdue:<step>, nuc:revoked), set by the gateway alone — a "
                "member acts on no rules but these")},
        },
    })
    schemas.put("DeadLetterHeaders", {
        "type": "object", "title": "DeadLetterHeaders", "additionalProperties": True,
        "required": [H_REFUSAL_CODE, H_REFUSAL_REASON, H_ORIGIN_QUEUE],
        "description": "The original message's headers, kept, and why it is here.",
        "properties": {
            H_REFUSAL_CODE: {"type": "string", "description": "Client.* (the sender's fault) or Server.*, as an "
                                                              "ERROR would carry it"},
            H_REFUSAL_REASON: {"type": "string", "maxLength": 1000, "description": "the reason in words (names "
                                                                                   "fields, never their values)"},
            H_ORIGIN_QUEUE: {"type": "string", "description": "the queue it was taken from"},
            H_BODY_SHA256: {"type": "string", "pattern": "^[0-9a-f]{64}$", "description": "a body over "
                            f"{BODY_KEPT_MAX} bytes: the SHA-256 of the body, which is not kept"},
            H_BODY_SIZE: {"type": "integer", "description": "a body over the limit: its size in bytes"},
        },
    })
    digest = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
    schemas.put("WithheldBody", {
        "type": "object", "title": "WithheldBody", "additionalProperties": False,
        "required": ["bodyWithheld", "sha256", "size"],
        "description": "What the gateway keeps of a refused message it may not keep readable (one that came in "
                       "clear, or not even an envelope): its digest and size.",
        "properties": {"bodyWithheld": {"const": True}, "sha256": digest, "size": {"type": "integer"}},
    })
    schemas.put("TrimmedBody", {
        "type": "object", "title": "TrimmedBody", "additionalProperties": False,
        "required": ["bodyTrimmed", "sha256", "size"],
        "description": f"A dead letter whose body was over {BODY_KEPT_MAX} bytes: its digest and size.",
        "properties": {"bodyTrimmed": {"const": True}, "sha256": digest, "size": {"type": "integer"}},
    })


# ---- what the registry says about each service -----------------------------------------------------------------------
@dataclass(frozen=True)
class Service:
    """A registered contract's service, as the gateway's seed registry defines it (None for the gateway's own)."""

    id: str
    definition: ServiceDef | None

    @property
    def sync(self) -> bool:
        return self.definition is not None and self.definition.channel == "sync"

    @property
    def camel(self) -> str:
        return "".join(part[:1].upper() + part[1:] for part in re.split(r"[.\-]", self.id))


def seed_registry() -> RegistryFile:
    return RegistryFile.model_validate(yaml.safe_load(DEFAULT_REGISTRY.read_text()))


def _who(members: tuple[str, ...], *, service_id: str) -> str:
    return ", ".join(members) if members else f"none in the seed registry; POST " \
                                              f":8002/admin/services/{service_id}/grant adds them"


# ---- examples --------------------------------------------------------------------------------------------------------
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
EXAMPLE_KID = "4d45534845584d50"  # the serial (hex) of the example recipient's certificate
EXAMPLE_DATE = "2026-03-02T10:15:00+05:00"
EXAMPLE_DEADLINE_MS = 1772428510000  # ten seconds after EXAMPLE_DATE
EXAMPLE_SIGNATURE = "MIAGCSqGSIb3DQEHAqCAMIACAQExDzANBglghkgBZQMEAgEFADCABgkqhkiG9w0BBwEAAKCAMIIC"  # shortened
EXAMPLE_SEAL = "MIAGCSqGSIb3DQEHAqCAMIACAQExDzANBglghkgBZQMEAgEFADCABgkqhkiG9w0BBwEAAKCAMIIB"  # shortened
EXAMPLE_IIN = "900315300123"


def _example_key(label: str) -> ec.EllipticCurvePrivateKey:
    value = int.from_bytes(hashlib.sha256(f"egov-mesh asyncapi example {label}".encode()).digest(), "big")
    return ec.derive_private_key(value % (_P256_ORDER - 1) + 1, ec.SECP256R1())


def example_recipient_key() -> ec.EllipticCurvePrivateKey:
    """The private key every example JWE is encrypted to (kid ``EXAMPLE_KID``): for tests and curious readers."""
    return _example_key("recipient")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def example_jwe(plaintext: bytes, *, label: str) -> str:
    """``shared.payload_crypto.encrypt``'s construction with fixed keys and IV (so the document is reproducible)."""
    ephemeral, recipient = _example_key(f"ephemeral {label}"), example_recipient_key().public_key()
    point = ephemeral.public_key().public_numbers()
    header = {"alg": ALG, "enc": ENC, "kid": EXAMPLE_KID,
              "epk": {"kty": "EC", "crv": "P-256", "x": _b64url(point.x.to_bytes(32, "big")),
                      "y": _b64url(point.y.to_bytes(32, "big"))}}
    protected = _b64url(orjson.dumps(header))
    other_info = len(ENC).to_bytes(4, "big") + ENC.encode() + bytes(8) + (256).to_bytes(4, "big")
    key = ConcatKDFHash(algorithm=hashes.SHA256(), length=32, otherinfo=other_info).derive(
        ephemeral.exchange(ec.ECDH(), recipient))
    iv = hashlib.sha256(f"iv {label}".encode()).digest()[:12]
    sealed = AESGCM(key).encrypt(iv, plaintext, protected.encode())
    return ".".join((protected, "", _b64url(iv), _b64url(sealed[:-16]), _b64url(sealed[-16:])))


def _example_id(label: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://egov-mesh.invalid/asyncapi/example/{label}"))


_PERSON = {
    "iin": EXAMPLE_IIN, "surname": "Ахметов", "name": "Нурлан", "patronymic": "Ерланович",
    "surnameLatin": "AKHMETOV", "nameLatin": "NURLAN", "birthDate": "1990-03-15", "sex": "M", "citizenship": "KZ",
    "region": "karaganda", "regionName": "Карагандинская область", "district": "zhezkazgan",
    "districtName": "город Жезказган", "address": "г. Жезказган, ул. Алашахана, д. 12, кв. 34",
    "phone": "+77011234567", "alive": True,
}


def _application(service_id: str) -> dict[str, Any]:
    form: dict[str, Any] = {
        "serviceId": service_id, "applicantIin": EXAMPLE_IIN, "surname": "Ахметов", "name": "Нурлан",
        "patronymic": "Ерланович", "phone": "+77011234567", "email": "nurlan@example.kz", "documents": [],
        "filledAt": "2026-03-02T10:14:31+05:00"}
    if service_id.endswith("active-measures-referral"):
        form["referralKind"] = "vocational-training"
    if service_id.endswith("unemployed-certificate"):
        form |= {"periodFrom": "2025-09-01", "periodTo": "2026-02-28", "presentedTo": "по месту требования"}
    return {"form": form, "formSignature": EXAMPLE_SIGNATURE, "signedBy": "applicant", "attachments": []}


def _notification(service: Service, district: str) -> dict[str, Any]:
    number = application_number(district=district, year=2026, sequence=42)
    title = service.definition.title if service.definition else service.id
    return {"applicationNumber": number, "district": district, "applicantIin": EXAMPLE_IIN,
            "status": "RECEIVED", "statusText": "Поступившие", "at": "2026-03-02T10:15:02+05:00",
            "text": f"Заявление № {number} на услугу «{title}» поступило (статус «Поступившие»)", "channel": "portal"}


def data_example(service: Service, message_type: MessageType, model: type[Contract], *,
                 district: str | None) -> dict[str, Any]:
    """A payload (``data``) of ``service``'s ``message_type`` as a member sends it; validated by its model."""
    examples: dict[type[Contract], Any] = {
        ErrorPayload: {"code": "Client.InvalidPayload", "where": "gateway", "refusedMessageId": _example_id("refused"),
                       "message": "gbdfl.person-by-iin REQUEST: data.iin: String should match pattern '^\\d{12}$'"},
        ClockPayload: {"version": 3, "anchorReal": 1772428500.0, "anchorMesh": 1775020500.0, "speed": 1.0},
        PersonByIinRequest: {"iin": EXAMPLE_IIN},
        PersonByIinResponse: {"found": True, "person": _PERSON},
        SocialStatusRequest: {"iin": EXAMPLE_IIN},
        SocialStatusResponse: {"found": True, "employment": {"employed": False}, "study": {"fullTimeStudent": False},
                               "pension": {"pensioner": False}},
        ApplicationRequest: lambda: _application(service.id),
        StatusNotification: lambda: _notification(service, district or "almaty"),
        MailRequest: {"kind": "sms", "to": "+77011234567", "applicationNumber": "ZHZ-2026-000042",
                      "text": "Заявление № ZHZ-2026-000042 поступило (статус «Поступившие»)"},
        DeliveryReceipt: {"messageId": _example_id("delivered"), "state": "DELIVERED", "logSeq": 1842},
    }
    if model not in examples:
        raise ValueError(f"{service.id} {message_type.value}: write an example for {model.__name__} in "
                         "meshkit/asyncapi.py")
    example = examples[model]
    data = example() if callable(example) else example
    return model.model_validate(data).model_dump(mode="json", by_alias=True, exclude_none=True)


# ---- messages --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Kind:
    """One message of the document: a registered contract (service and message type)."""

    key: str
    service: Service
    message_type: MessageType
    model: type[Contract]

    @property
    def plain(self) -> bool:
        return self.service.id == CLOCK_SERVICE


def _parties(kind: Kind) -> tuple[str, str | None, str | None]:
    """Example sender, recipient and inReplyTo of ``kind``, consistent with the seed registry. A request names no
    recipient and no routeId: the gateway routes it (by the applicant's registered district, where it must)."""
    definition = kind.service.definition
    provider = definition.providers[0] if definition else GATEWAY_ID
    caller = next((c for c in (definition.callers if definition else ()) if "*" not in c), "tester.one")
    if kind.service.id == CLOCK_SERVICE:
        return GATEWAY_ID, None, None
    if kind.service.id == RECEIPT_SERVICE:
        return "portal", GATEWAY_ID, _example_id("delivered")
    if kind.message_type is MessageType.ERROR:
        return GATEWAY_ID, "portal", _example_id("refused")
    if kind.message_type is MessageType.RESPONSE:
        return provider, caller, _example_id(f"{kind.service.id}.REQUEST")
    if kind.message_type is MessageType.NOTIFICATION:
        return provider, definition.notify[0] if definition and definition.notify else "portal", None
    return caller, None, None


def _delivered_headers(kind: Kind, *, recipient: str | None) -> dict[str, Any]:
    """The AMQP headers of ``kind`` as the gateway delivers it (its own ERRORs name no x-recipient)."""
    if kind.plain or kind.service.id == RECEIPT_SERVICE:
        return {}
    headers: dict[str, Any] = {H_SEAL: EXAMPLE_SEAL, H_SEAL_SEQ: 1843}
    if kind.message_type is not MessageType.ERROR:
        definition = kind.service.definition
        headers[H_RECIPIENT] = recipient or (definition.providers[0] if definition else GATEWAY_ID)
    if kind.service.sync and kind.message_type is MessageType.REQUEST:
        headers[H_DEADLINE] = EXAMPLE_DEADLINE_MS
    return headers


def _example(kind: Kind, registry: RegistryFile) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the message example, the JWE plaintext) of ``kind`` as its recipient gets it."""
    sender, recipient, in_reply_to = _parties(kind)
    definition = kind.service.definition
    district = None
    if definition and definition.route_by == "district":
        district = next(m.district for m in registry.members if m.id == definition.providers[0])
    data = data_example(kind.service, kind.message_type, kind.model, district=district)
    message_id = _example_id(kind.key)
    wire: dict[str, Any] = {
        "messageId": message_id, "correlationId": "mesh-clock" if kind.plain else in_reply_to or message_id,
        "serviceId": "gbdfl.person-by-iin" if kind.service.id == ANY_SERVICE else kind.service.id,
        "messageType": kind.message_type.value, "messageDate": EXAMPLE_DATE, "sender": sender}
    wire |= {k: v for k, v in (("recipient", recipient), ("inReplyTo", in_reply_to)) if v}
    secret = {"data": data, "signature": EXAMPLE_SIGNATURE}
    if kind.plain:
        summary, wire = "as every service gets it, in clear; signature shortened", wire | secret
    else:
        summary = (f"as the gateway takes it from {INGRESS_QUEUE}: data and signature encrypted to the gateway"
                   if kind.service.id == RECEIPT_SERVICE else "as its recipient gets it: sealed by the gateway, data "
                   "and signature encrypted to the recipient") + f" (JWE, kid {EXAMPLE_KID}); signatures shortened"
        wire[ENCRYPTED] = example_jwe(orjson.dumps(secret), label=kind.key)
    return {"name": kind.key.replace(".", "-"), "summary": summary,
            "headers": _delivered_headers(kind, recipient=recipient), "payload": wire}, secret


def _message(kind: Kind, schemas: Schemas, registry: RegistryFile) -> dict[str, Any]:
    contract = schemas.model(kind.model)
    fixed: dict[str, Any] = {"messageType": {"const": kind.message_type.value}}
    if kind.service.id != ANY_SERVICE:
        fixed["serviceId"] = {"const": kind.service.id}
    required = [] if kind.plain else {MessageType.NOTIFICATION: ["recipient"], MessageType.RESPONSE: ["inReplyTo"],
                                      MessageType.ERROR: ["inReplyTo"]}.get(kind.message_type, [])
    example, secret = _example(kind, registry)
    if kind.plain:
        fixed |= {"sender": {"const": GATEWAY_ID}, "data": contract}
        payload: dict[str, Any] = {"allOf": [_ref("Envelope"), {"type": "object", "properties": fixed}]}
    else:
        fixed[ENCRYPTED] = {"x-jwe-plaintext": {
            "type": "object", "required": list(SECRET_FIELDS), "additionalProperties": False,
            "properties": {"data": contract, "signature": _ref("Signature")}, "examples": [secret]}}
        payload = {"allOf": [_ref("EncryptedEnvelope"), {"type": "object", "properties": fixed}]}
    if required:
        payload["allOf"][1]["required"] = required
    summary = (kind.model.__doc__ or "").strip().splitlines()[0] if kind.model.__doc__ else ""
    title = kind.service.definition.title if kind.service.definition else kind.service.id
    return {
        "name": kind.key,
        "title": f"{title}: {kind.message_type.value}" if kind.service.id != ANY_SERVICE else "ERROR (any service)",
        "summary": summary or f"{kind.service.id} {kind.message_type.value} ({kind.model.__name__})",
        "correlationId": {"$ref": "#/components/correlationIds/envelope"},
        "headers": _ref("MeshHeaders"),
        "payload": payload,
        "examples": [example],
    }


def _dead_letter_message() -> dict[str, Any]:
    return {
        "name": DEAD_LETTER_MESSAGE, "title": "A dead letter",
        "summary": "A message nobody could process, unchanged, with why in its headers.",
        "description": (
            "What the gateway refused (an envelope encrypted to the gateway: as it came, or encrypted then; what "
            "cannot be, as its digest) and what a member could not take (its delivery as it came). Bounded by a "
            "broker policy the gateway sets (length and bytes, oldest dropped first). Only the broker's "
            "administrator reads it: members may publish to it, not consume it."),
        "headers": _ref("DeadLetterHeaders"),
        "payload": {"anyOf": [_ref("EncryptedEnvelope"), _ref("WithheldBody"), _ref("TrimmedBody"),
                              _ref("Envelope"), {"description": "anything else a member's consumer could not read, "
                                                                "kept as it came"}]},
        "examples": [{"name": "sent-in-clear", "summary": "a member's envelope sent in clear, refused at ingress",
                      "headers": {H_REFUSAL_CODE: "Client.NotEncrypted", H_ORIGIN_QUEUE: INGRESS_QUEUE,
                                  H_REFUSAL_REASON: "data and signature travel encrypted to the gateway "
                                                    "(encrypted), not in clear"},
                      "payload": {"bodyWithheld": True, "size": 1187,
                                  "sha256": hashlib.sha256(b"example").hexdigest()}}],
    }


# ---- channels --------------------------------------------------------------------------------------------------------
def _exchange(name: str, kind: str) -> dict[str, Any]:
    return {"amqp": {"is": "routingKey", "bindingVersion": AMQP_BINDING,
                     "exchange": {"name": name, "type": kind, "durable": True, "autoDelete": False, "vhost": "/"}}}


def _messages(keys: list[str]) -> dict[str, Any]:
    return {key: {"$ref": f"#/components/messages/{key}"} for key in keys}


def channels(kinds: list[Kind]) -> dict[str, Any]:
    to_gateway = [k.key for k in kinds if not k.plain]
    async_delivered = [k.key for k in kinds if not k.plain and not k.service.sync and k.service.id != RECEIPT_SERVICE]
    sync_requests = [k.key for k in kinds if k.service.sync and k.message_type is MessageType.REQUEST]
    sync_answers = [k.key for k in kinds if k.service.sync and k.message_type is MessageType.RESPONSE] + [ERROR_MESSAGE]
    member = {"memberId": {"$ref": "#/components/parameters/memberId"}}
    work_queue = ("a durable queue that dead-letters to {dead}, with retry tiers of its own ({tiers} s) for "
                  "transient failures").format(dead=DEAD_EXCHANGE, tiers=", ".join(map(str, RETRY_TIERS_S)))
    return {
        "ingress": {
            "address": "", "title": f"{INGRESS_EXCHANGE} (direct exchange, routing key '')",
            "description": (
                f"Members hand every asynchronous message to the gateway here (synchronous ones: ingressSync), and "
                f"only to this exchange (queue {INGRESS_QUEUE}: "
                f"{work_queue}), under their own broker login: the AMQP user-id must be the envelope's sender "
                "(Client.PublisherMismatch). The gateway checks, in order: the envelope, the sender known, its "
                "signature, the certificate pinned to the sender and valid on the mesh clock and not revoked "
                "(OCSP), the payload against its contract (Client.InvalidPayload), the route granted in the "
                "registry; it logs every message, routed or refused, in its signed chained message log."),
            "messages": _messages(to_gateway), "bindings": _exchange(INGRESS_EXCHANGE, "direct"),
        },
        "ingressSync": {
            "address": SYNC_INGRESS_KEY, "title": f"{INGRESS_EXCHANGE} (direct exchange, routing key "
                                                  f"'{SYNC_INGRESS_KEY}')",
            "description": (
                f"The ingress's fast lane (queue {INGRESS_SYNC_QUEUE}: {work_queue}): synchronous requests and their "
                "answers, which the gateway takes before the asynchronous backlog, so a burst of applications does "
                "not hold a call up past its deadline. Examined exactly as on the asynchronous lane; anything else "
                "published here is refused Client.WrongLane. A synchronous message published with routing key '' "
                "is still taken, in its turn behind the asynchronous backlog."),
            "messages": _messages(sync_requests + sync_answers), "bindings": _exchange(INGRESS_EXCHANGE, "direct"),
        },
        "delivery": {
            "address": "{memberId}", "title": f"{DELIVERY_EXCHANGE}, routing key {{memberId}} → queue "
                                               f"{member_queue('{memberId}')}",
            "description": (
                f"Asynchronous deliveries to one member, routed by the gateway alone (only its account may publish "
                f"to {DELIVERY_EXCHANGE}). Queue {member_queue('{memberId}')}: {work_queue}. Every delivery is "
                f"sealed ({H_SEAL}, {H_SEAL_SEQ}) and kept by the gateway until the member's receipt "
                f"({RECEIPT_SERVICE}); without one it is delivered again ({H_REDELIVERY}) and at last "
                "NOT_DELIVERED, its sender told Server.NotDelivered."),
            "parameters": member, "messages": _messages(async_delivered),
            "bindings": _exchange(DELIVERY_EXCHANGE, "direct"),
        },
        "syncDelivery": {
            "address": sync_routing_key("{memberId}"), "title": f"{DELIVERY_EXCHANGE}, routing key "
                                                                f"{sync_routing_key('{memberId}')} → queue "
                                                                f"{member_sync_queue('{memberId}')}",
            "description": (
                f"Synchronous requests to their provider, sealed, with the caller's deadline ({H_DEADLINE}). Queue "
                f"{member_sync_queue('{memberId}')}: {work_queue}. No receipt: the caller hears the answer or "
                "Server.Timeout."),
            "parameters": member, "messages": _messages(sync_requests),
            "bindings": _exchange(DELIVERY_EXCHANGE, "direct"),
        },
        "replies": {
            "address": None, "title": "the caller's reply queue (the default exchange, routing key = its name)",
            "description": (
                "Answers to a member's own synchronous calls: the RESPONSE, or an ERROR (the provider's, or the "
                "gateway's: a refusal, Server.Timeout at the deadline). The queue is the one the request named in "
                "its AMQP reply_to: each member declares its own, `{memberId}.replies.{12 hex}` (exclusive, "
                "auto-delete), and the gateway publishes the sealed answer to it through the default exchange."),
            "messages": _messages(sync_answers),
            "bindings": {"amqp": {"is": "queue", "bindingVersion": AMQP_BINDING,
                                  "queue": {"durable": False, "exclusive": True, "autoDelete": True, "vhost": "/"}}},
        },
        "clock": {
            "address": "", "title": f"{CLOCK_EXCHANGE} (fanout exchange)",
            "description": (
                "The gateway's mesh-clock broadcasts: at each change and as a heartbeat, signed like any envelope "
                "and in clear (it holds the mesh time, nothing personal). Every service binds a private queue "
                "(`{name}.clock.{12 hex}`, exclusive, auto-delete); one not from the gateway is ignored."),
            "messages": _messages([f"{CLOCK_SERVICE}.NOTIFICATION"]), "bindings": _exchange(CLOCK_EXCHANGE, "fanout"),
        },
        "deadLetters": {
            "address": "{originQueue}", "title": f"{DEAD_EXCHANGE} (fanout exchange) → queue {DEAD_QUEUE}",
            "description": (
                "Refused or undeliverable messages, never dropped, never without a reason (shared/dead_letters.py): "
                "published with the queue they came from as routing key (a fanout ignores it)."),
            "parameters": {"originQueue": {"description": "the queue the message was taken from",
                                           "examples": [INGRESS_QUEUE, member_queue("portal")]}},
            "messages": _messages([DEAD_LETTER_MESSAGE]), "bindings": _exchange(DEAD_EXCHANGE, "fanout"),
        },
    }


# ---- operations ------------------------------------------------------------------------------------------------------
def _amqp(**binding: Any) -> dict[str, Any]:
    return {"amqp": {**binding, "bindingVersion": AMQP_BINDING}}


def _refs(channel: str, keys: list[str]) -> list[dict[str, str]]:
    return [{"$ref": f"#/channels/{channel}/messages/{key}"} for key in keys]


PERSISTENT, TRANSIENT = 2, 1


def _service_operations(service: Service, kinds: dict[str, Kind]) -> dict[str, Any]:
    """A registry service's operations, for each side: who sends what, who receives it."""
    d = service.definition
    assert d is not None
    if service.sync:
        return _sync_operations(service, d)
    return _async_operations(service, d, kinds)


def _sync_operations(service: Service, d: ServiceDef) -> dict[str, Any]:
    """A synchronous service: the caller asks through the gateway and hears on its reply queue; the provider
    answers."""
    ops: dict[str, Any] = {}
    request, response = f"{service.id}.REQUEST", f"{service.id}.RESPONSE"
    providers, callers = (_who(m, service_id=service.id) for m in (d.providers, d.callers))
    ops[f"call{service.camel}"] = {
        "action": "send", "channel": {"$ref": "#/channels/ingressSync"}, "title": f"{d.title}: ask",
        "summary": f"Call {service.id} synchronously (callers: {callers}).",
        "description": (
            f"Publish the REQUEST to {INGRESS_EXCHANGE}, routing key '{SYNC_INGRESS_KEY}', with AMQP reply_to = "
            f"your reply queue (else Client.ReplyToRequired) and {H_DEADLINE}; the answer, or an ERROR, comes to "
            f"that queue. Served by: {providers}."),
        "messages": _refs("ingressSync", [request]),
        "reply": {"channel": {"$ref": "#/channels/replies"},
                  "messages": _refs("replies", [response, ERROR_MESSAGE])},
        "bindings": _amqp(deliveryMode=TRANSIENT, mandatory=True),
    }
    ops[f"answer{service.camel}"] = {
        "action": "receive", "channel": {"$ref": "#/channels/syncDelivery"}, "title": f"{d.title}: answer",
        "summary": f"Answer {service.id} (providers: {providers}).",
        "description": (
            f"Take the REQUEST from {member_sync_queue('{memberId}')}, check the seal and the sender's "
            f"signature, answer before {H_DEADLINE} with a RESPONSE (or an ERROR) to {INGRESS_EXCHANGE}, routing "
            f"key '{SYNC_INGRESS_KEY}', "
            "inReplyTo = the request's messageId, recipient = the caller, the same correlationId."),
        "messages": _refs("syncDelivery", [request]),
        "reply": {"channel": {"$ref": "#/channels/ingressSync"},
                  "messages": _refs("ingressSync", [response, ERROR_MESSAGE])},
        "bindings": _amqp(ack=True),
    }
    return ops


def _async_operations(service: Service, d: ServiceDef, kinds: dict[str, Kind]) -> dict[str, Any]:
    """An asynchronous service: sent through the sender's outbox, received through the provider's inbox; and where
    it has notifications, the provider's status changes to its followers."""
    ops: dict[str, Any] = {}
    request = f"{service.id}.REQUEST"
    providers, callers, followers = (_who(m, service_id=service.id) for m in (d.providers, d.callers, d.notify))
    route = (" The gateway routes it by routeId (the district), or, without one, by the applicant's registered "
             "district, which it asks ГБД ФЛ.") if d.route_by == "district" else ""
    ops[f"send{service.camel}"] = {
        "action": "send", "channel": {"$ref": "#/channels/ingress"}, "title": f"{d.title}: send",
        "summary": f"Send a request for {service.id} (callers: {callers}).",
        "description": f"Asynchronous: it leaves through the sender's outbox, with the transaction that made it, "
                       f"for {INGRESS_EXCHANGE}; the gateway delivers it to the provider ({providers}).{route}",
        "messages": _refs("ingress", [request]), "bindings": _amqp(deliveryMode=PERSISTENT, mandatory=True),
    }
    ops[f"receive{service.camel}"] = {
        "action": "receive", "channel": {"$ref": "#/channels/delivery"}, "title": f"{d.title}: receive",
        "summary": f"Take a request for {service.id} (providers: {providers}).",
        "description": f"From {member_queue('{memberId}')}: recorded once (the inbox, by messageId) and "
                       f"acknowledged to the gateway with a {RECEIPT_SERVICE} in the same transaction.",
        "messages": _refs("delivery", [request]), "bindings": _amqp(ack=True),
    }
    notification = f"{service.id}.NOTIFICATION"
    if notification in kinds:
        ops[f"notify{service.camel}"] = {
            "action": "send", "channel": {"$ref": "#/channels/ingress"}, "title": f"{d.title}: notify",
            "summary": f"A provider tells a status change (providers: {providers}).",
            "description": f"To each follower ({followers}), named as recipient.",
            "messages": _refs("ingress", [notification]), "bindings": _amqp(deliveryMode=PERSISTENT, mandatory=True),
        }
        ops[f"follow{service.camel}"] = {
            "action": "receive", "channel": {"$ref": "#/channels/delivery"}, "title": f"{d.title}: follow",
            "summary": f"Hear {service.id}'s status changes (followers: {followers}).",
            "messages": _refs("delivery", [notification]), "bindings": _amqp(ack=True),
        }
    return ops


def operations(services: list[Service], kinds: dict[str, Kind]) -> dict[str, Any]:
    ops: dict[str, Any] = {}
    for service in services:
        if service.definition is not None:
            ops |= _service_operations(service, kinds)
    ops["sendDeliveryReceipt"] = {
        "action": "send", "channel": {"$ref": "#/channels/ingress"}, "title": "Acknowledge a delivery",
        "summary": f"Every member, for every delivery it records from {member_queue('{memberId}')}.",
        "description": (
            f"A {RECEIPT_SERVICE} NOTIFICATION to {GATEWAY_ID}, queued in the transaction that records the delivery "
            "(again for a copy already recorded). As the real ШЭП's sendDeliveryNotification: the gateway keeps the "
            "delivery ON_DELIVERY until it comes."),
        "messages": _refs("ingress", [f"{RECEIPT_SERVICE}.NOTIFICATION"]),
        "bindings": _amqp(deliveryMode=PERSISTENT, mandatory=True),
    }
    ops["receiveRefusal"] = {
        "action": "receive", "channel": {"$ref": "#/channels/delivery"}, "title": "Hear a refusal",
        "summary": "An ERROR about an asynchronous message this member sent.",
        "description": (
            "The gateway refuses what it cannot route (Client.* the sender's fault, Server.* not) and tells a "
            "sender it could prove (a signature pinned to it); it also tells Server.NotDelivered when a recipient "
            "never acknowledged. The refused message's id is in inReplyTo and data.refusedMessageId."),
        "messages": _refs("delivery", [ERROR_MESSAGE]), "bindings": _amqp(ack=True),
    }
    ops["followMeshClock"] = {
        "action": "receive", "channel": {"$ref": "#/channels/clock"}, "title": "Follow the mesh clock",
        "summary": "Adopt each newer clock state the gateway broadcasts (certificates are judged on mesh time).",
        "messages": _refs("clock", [f"{CLOCK_SERVICE}.NOTIFICATION"]), "bindings": _amqp(ack=True),
    }
    ops["deadLetter"] = {
        "action": "send", "channel": {"$ref": "#/channels/deadLetters"}, "title": "Dead-letter a message",
        "summary": "Park a message that cannot be processed, with why; then acknowledge the original.",
        "messages": _refs("deadLetters", [DEAD_LETTER_MESSAGE]),
        "bindings": _amqp(deliveryMode=PERSISTENT, mandatory=True),
    }
    return ops


# ---- the document ----------------------------------------------------------------------------------------------------
def _kinds(registry: RegistryFile) -> tuple[list[Service], dict[str, Kind]]:
    defined = {s.id: s for s in registry.services}
    services: dict[str, Service] = {}
    kinds: dict[str, Kind] = {}
    gateway_own = {ANY_SERVICE, CLOCK_SERVICE, RECEIPT_SERVICE}
    for (service_id, message_type), model in sorted(registered_contracts().items()):
        if service_id not in defined and service_id not in gateway_own:
            raise ValueError(f"contract {service_id} {message_type.value} names no service of the seed registry")
        service = services.setdefault(service_id, Service(id=service_id, definition=defined.get(service_id)))
        key = ERROR_MESSAGE if service_id == ANY_SERVICE else f"{service_id}.{message_type.value}"
        kinds[key] = Kind(key=key, service=service, message_type=message_type, model=model)
    missing = [s for s in defined if f"{s}.REQUEST" not in kinds]
    if missing:
        raise ValueError(f"no REQUEST contract registered for {', '.join(missing)}")
    return list(services.values()), kinds


INFO = f"""The message channels of egov-mesh, a working simulator of Kazakhstan's e-government integration (ШЭП, the
gateway, and the member systems it connects), as a member system sees them. RabbitMQ, AMQP 0-9-1:

```
member ──publish──► {INGRESS_EXCHANGE} ─('')───► [{INGRESS_QUEUE}] ─────► gateway: checks, logs, routes
                                  ─({SYNC_INGRESS_KEY})─► [{INGRESS_SYNC_QUEUE}] ─► gateway, first: synchronous calls
gateway ─publish──► {DELIVERY_EXCHANGE} ─({{memberId}})───────► [member.{{memberId}}]        asynchronous
                                  ─({{memberId}}.sync)──► [member.{{memberId}}.sync]   synchronous requests
gateway ─────────── default exchange ────────────► caller's reply queue      synchronous answers
any consumer ─refuse─► {DEAD_EXCHANGE} ──► [{DEAD_QUEUE}]                         with the reason in headers
gateway ─clock change─► {CLOCK_EXCHANGE} (fanout) ──► every service
```

Every message is an envelope signed by its sender (detached CMS over its RFC 8785 form); its payload (`data`)
follows the contract of its service and message type (components/schemas, from the pydantic models the gateway and
the recipients validate with). On the broker `data` and `signature` travel as one JWE in `encrypted`, hop by hop:
sender → gateway, gateway → recipient (EncryptedEnvelope; each message's `x-jwe-plaintext` is the schema of what
it opens to). The gateway seals every delivery ({H_SEAL}, {H_SEAL_SEQ}). Members publish only to
{INGRESS_EXCHANGE} (and {DEAD_EXCHANGE}) and read only their own queues and the clock: the broker enforces it
(shared/broker_accounts.py). Operations are a member's: `send` it publishes, `receive` it consumes; which member
may do what is the gateway's registry (services/shep_gateway/registry.yaml as seeded; the admin API may grant more).
"""


def build() -> dict[str, Any]:
    registry = seed_registry()
    services, kinds = _kinds(registry)
    schemas = Schemas()
    envelope_schemas(schemas)
    header_schemas(schemas)
    messages = {key: _message(kind, schemas, registry) for key, kind in kinds.items()}
    messages[DEAD_LETTER_MESSAGE] = _dead_letter_message()
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:egov-mesh:message-channels",
        "info": {"title": "egov-mesh message channels", "version": "0.1.0", "description": INFO},
        "defaultContentType": "application/json",
        "servers": servers(),
        "channels": channels(list(kinds.values())),
        "operations": operations(services, kinds),
        "components": {
            "schemas": dict(sorted(schemas.all.items())),
            "messages": messages,
            "parameters": {"memberId": {
                "description": "a member id of the gateway's registry (its system certificate's CN, its broker "
                               "login)", "examples": sorted(m.id for m in registry.members if m.id != GATEWAY_ID)}},
            "correlationIds": {"envelope": {
                "location": "$message.payload#/correlationId",
                "description": "the case: a request's messageId unless its sender names one, kept by its answers, "
                               "notifications and refusals (also the AMQP correlation_id)"}},
            "securitySchemes": {"brokerAccount": {"type": "userPassword", "description": (
                "Each member's own RabbitMQ user, made by the gateway at enrolment (meshkit.members.enroll gives a "
                "member of your own its login): publish only to shep.ingress, mesh.dead and its own retry tiers; "
                "read only its own queues and the clock. Its AMQP user-id is checked against the envelope's sender. "
                "The broker's administrator (`mesh`) is the gateway's alone; `guest` does not exist.")}},
        },
    }


def servers() -> dict[str, Any]:
    security = [{"$ref": "#/components/securitySchemes/brokerAccount"}]
    return {
        "local": {
            "host": "127.0.0.1:{port}", "protocol": "amqp", "protocolVersion": "0.9.1", "title": "make run",
            "description": (
                "`make run`'s private RabbitMQ node, on loopback. Its AMQP port is a free one chosen at every start "
                "(so a mesh, the tests' own brokers and a system RabbitMQ can run side by side): read it from "
                "var/mesh.json, `rabbitmq.amqpPort` (or `amqpUrl`, the whole URL without a login)."),
            "variables": {"port": {"description": "var/mesh.json `rabbitmq.amqpPort`: chosen at each start, no "
                                                  "default", "examples": ["40213"]}},
            "security": security,
        },
        "compose": {
            "host": "localhost:5672", "protocol": "amqp", "protocolVersion": "0.9.1", "title": "docker compose",
            "description": ("deploy/docker-compose.yml's broker, published on the host's 5672 (inside the compose "
                            "network: rabbitmq:5672)."),
            "security": security,
        },
    }


def render() -> str:
    return json.dumps(build(), ensure_ascii=False, indent=2) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())

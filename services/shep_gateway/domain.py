"""The gateway's rules, free of I/O: who may call what, where a message goes, how the log is chained.

Access is denied unless the registry grants it (X-Road's default). A refusal is a code and a sentence;
codes say whose fault it is: ``Client.*`` the sender's, ``Server.*`` the provider's or the gateway's.
"""

from __future__ import annotations

import fnmatch
import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import MeshError
from shared.mesh.envelope import Envelope, MessageType
from shared.mesh.topology import DELIVERY_EXCHANGE, sync_routing_key
from shared.pki.canonical import canonical_bytes


class Outcome(StrEnum):
    ROUTED = "ROUTED"
    REFUSED = "REFUSED"
    TIMEOUT = "TIMEOUT"
    NOT_DELIVERED = "NOT_DELIVERED"  # routed, but its recipient never acknowledged it (``shared.mesh.receipts``)


class MemberDef(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True, json_schema_extra={"examples": [
        {"id": "mio.almaty", "name": "ИС МИО (Алматы)", "kind": "mio", "organisation": "Управление занятости г. Алматы",
         "bin": "940140000385", "region": "almaty", "district": "almaty", "active": True}]})

    id: str = Field(pattern=r"^[a-z][a-z0-9-]*(\.[a-z0-9-]+)*$", max_length=64)
    name: str = Field(min_length=1, max_length=256)
    kind: Literal["gateway", "portal", "con", "registry", "mio", "mail", "test"] = "test"
    organisation: str = Field(min_length=1, max_length=256)
    bin: str = Field(pattern=r"^\d{12}$")
    region: str | None = None
    district: str | None = None
    active: bool = True
    door: Literal["amqp", "soap"] = Field(default="amqp", description="how the member system reaches the gateway: "
                                          "its own broker login (amqp), or ШЭП's SOAP channels (soap: docs/soap.md)")
    soap_endpoint: str | None = Field(default=None, alias="soapEndpoint", max_length=512,
                                      pattern=r"^https?://[^\s]+$",
                                      description="a SOAP member's own AsyncChannel endpoint, where the gateway "
                                      "pushes what is addressed to it (sendMessage)")


class ServiceDef(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True, json_schema_extra={"examples": [
        {"id": "gbdfl.person-by-iin", "title": "Сведения о физическом лице по ИИН", "channel": "sync",
         "providers": ["gbdfl"], "routeBy": None, "callers": ["portal", "con", "mio.*", "shep"], "notify": []}]})

    id: str = Field(pattern=r"^[a-z][a-z0-9-]*(\.[a-z0-9-]+)+$", max_length=128)
    title: str = Field(min_length=1, max_length=256)
    channel: Literal["sync", "async"]
    providers: tuple[str, ...] = Field(min_length=1)
    route_by: Literal["district"] | None = Field(default=None, alias="routeBy")
    callers: tuple[str, ...] = ()
    notify: tuple[str, ...] = ()


class ServiceGrant(BaseModel):
    """What a grant adds to a service: providers, callers, members notified. A grant never removes or renames;
    ``channel`` and ``title`` are needed only when the service does not exist yet."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)

    title: str | None = Field(default=None, min_length=1, max_length=256)
    channel: Literal["sync", "async"] | None = None
    route_by: Literal["district"] | None = Field(default=None, alias="routeBy")
    providers: tuple[str, ...] = ()
    callers: tuple[str, ...] = ()
    notify: tuple[str, ...] = ()


def granted(*, service_id: str, current: ServiceDef | None, grant: ServiceGrant) -> ServiceDef:
    """The service with the grant's members added (kept in order, none twice); a new service from the grant.

    Replacing an entry to add one caller once dropped the gateway's own right to look up districts and renamed
    the service; adding is what testers mean."""
    if current is None:
        if grant.channel is None or not grant.providers:
            raise MeshError("SERVICE_NOT_FOUND", f"no service {service_id!r} to add to; to create it, give its "
                            "channel and at least one provider")
        return ServiceDef(id=service_id, title=grant.title or service_id, channel=grant.channel,
                          route_by=grant.route_by, providers=_merged((), grant.providers),
                          callers=_merged((), grant.callers), notify=_merged((), grant.notify))
    for name, asked, kept in (("channel", grant.channel, current.channel), ("routeBy", grant.route_by,
                                                                            current.route_by)):
        if asked is not None and asked != kept:
            raise MeshError("GRANT_CONFLICT", f"{service_id} has {name} {kept!r}; a grant only adds members (PUT "
                            f"/admin/services/{service_id} replaces the entry)")
    return current.model_copy(update={"providers": _merged(current.providers, grant.providers),
                                      "callers": _merged(current.callers, grant.callers),
                                      "notify": _merged(current.notify, grant.notify)})


def _merged(kept: tuple[str, ...], added: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*kept, *added]))


class RegistryFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    members: list[MemberDef]
    services: list[ServiceDef]


@dataclass(frozen=True)
class Refusal:
    code: str
    message: str


@dataclass(frozen=True)
class Destination:
    recipient: str
    exchange: str
    routing_key: str
    channel: Literal["sync", "async"]
    reply_to_caller: bool = False  # a synchronous answer goes to the caller's own reply queue


@dataclass(frozen=True)
class DistrictLookup:
    """The request names no district: the gateway asks ГБД ФЛ where the applicant is registered, then routes."""

    service_id: str
    applicant_iin: str


def applicant_iin_of(data: dict[str, Any]) -> str | None:
    """The applicant of an application request (``form.applicantIin``), the key of district routing."""
    form = data.get("form")
    iin = form.get("applicantIin") if isinstance(form, dict) else None
    return iin if isinstance(iin, str) else None


@dataclass(frozen=True)
class PriorRequest:
    """What the log knows about the request an answer refers to."""

    message_id: str
    sender: str
    recipient: str | None
    service_id: str
    sync_state: str | None = None  # PENDING / ANSWERED / TIMED_OUT for synchronous calls
    reply_to: str | None = None


def _granted(member_id: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(member_id, p) for p in patterns)


@dataclass
class Registry:
    members: dict[str, MemberDef] = field(default_factory=dict)
    services: dict[str, ServiceDef] = field(default_factory=dict)

    def may_call(self, *, member_id: str, service: ServiceDef) -> bool:
        return _granted(member_id, service.callers)

    def services_for(self, member_id: str) -> list[ServiceDef]:
        return [s for s in self.services.values() if self.may_call(member_id=member_id, service=s)]

    def districts_of(self, service: ServiceDef) -> list[str]:
        return [self.members[p].district or p for p in service.providers if p in self.members]

    def provider_for(self, *, service: ServiceDef, route_id: str | None,
                     looked_up: bool = False) -> str | Refusal:
        if service.route_by is None:
            return service.providers[0]
        if not route_id:
            return Refusal("Client.RouteRequired", f"{service.id} is served per district: set routeId "
                           f"(one of {', '.join(self.districts_of(service))})")
        candidate = next((p for p in service.providers if self.members.get(p) and
                          self.members[p].district == route_id), None)
        if candidate is None:
            if looked_up:
                return Refusal("Client.UnknownRoute", f"the applicant is registered in {route_id!r}, where no "
                               f"ИС МИО provides {service.id}; name a district in routeId "
                               f"(one of {', '.join(self.districts_of(service))})")
            return Refusal("Client.UnknownRoute", f"no district {route_id!r} provides {service.id}")
        return candidate

    def route_request(self, env: Envelope, *,
                      looked_up_district: str | None = None) -> Destination | DistrictLookup | Refusal:
        """Where a request goes; ``looked_up_district`` is the applicant's district found by the gateway."""
        service = self.services.get(env.service_id)
        if service is None:
            return Refusal("Client.UnknownService", f"no service {env.service_id!r} in the gateway registry")
        if not self.may_call(member_id=env.sender, service=service):
            return Refusal("Client.AccessDenied", f"{env.sender} is not granted {env.service_id}")
        route_id = env.route_id or looked_up_district
        if service.route_by == "district" and not route_id and service.channel == "async":
            iin = applicant_iin_of(env.data)
            if iin is not None:
                return DistrictLookup(service_id=service.id, applicant_iin=iin)
        provider = self.provider_for(service=service, route_id=route_id,
                                     looked_up=looked_up_district is not None and not env.route_id)
        if isinstance(provider, Refusal):
            return provider
        if env.recipient is not None and env.recipient != provider:
            return Refusal("Client.RecipientMismatch", f"{env.service_id} for this route is served by {provider}, "
                           f"not {env.recipient}")
        if not self.members[provider].active:
            return Refusal("Server.ProviderSuspended", f"{provider} is suspended in the registry")
        if service.channel == "sync":
            return Destination(recipient=provider, exchange=DELIVERY_EXCHANGE, routing_key=sync_routing_key(provider),
                               channel="sync")
        return Destination(recipient=provider, exchange=DELIVERY_EXCHANGE, routing_key=provider, channel="async")

    def route_notification(self, env: Envelope) -> Destination | Refusal:
        service = self.services.get(env.service_id)
        if service is None:
            return Refusal("Client.UnknownService", f"no service {env.service_id!r} in the gateway registry")
        if env.sender not in service.providers:
            return Refusal("Client.AccessDenied", f"{env.sender} does not provide {env.service_id} and may not "
                           "notify about it")
        if env.recipient is None:
            return Refusal("Client.RecipientRequired", "a notification names its recipient")
        if not _granted(env.recipient, service.notify):
            return Refusal("Client.AccessDenied", f"{env.recipient} does not follow {env.service_id}")
        return Destination(recipient=env.recipient, exchange=DELIVERY_EXCHANGE, routing_key=env.recipient,
                           channel="async")

    def route(self, env: Envelope, *, prior: PriorRequest | None) -> Destination | DistrictLookup | Refusal:
        if env.message_type is MessageType.REQUEST:
            return self.route_request(env)
        if env.message_type is MessageType.NOTIFICATION:
            return self.route_notification(env)
        return route_answer(env, prior=prior, registry=self)


def route_answer(env: Envelope, *, prior: PriorRequest | None, registry: Registry) -> Destination | Refusal:
    """A RESPONSE or ERROR goes back, to the one who asked, only from the one who was asked."""
    if env.in_reply_to is None:
        return Refusal("Client.InReplyToRequired", f"a {env.message_type.value} names the request in inReplyTo")
    if prior is None:
        return Refusal("Client.UnknownRequest", f"no routed request {env.in_reply_to} to answer")
    if prior.recipient != env.sender:
        return Refusal("Client.AccessDenied", f"{env.sender} was not asked request {prior.message_id}")
    if env.recipient is not None and env.recipient != prior.sender:
        return Refusal("Client.RecipientMismatch", f"the answer goes to {prior.sender}, who asked")
    if env.service_id != prior.service_id:
        return Refusal("Client.ServiceMismatch", f"the request was for {prior.service_id}")
    if prior.sync_state is not None:
        if prior.sync_state == "TIMED_OUT":
            return Refusal("Server.LateResponse", "the caller's deadline passed; it was told Server.Timeout")
        if prior.sync_state != "PENDING":
            return Refusal("Client.DuplicateResponse", f"request {prior.message_id} is already answered")
        return Destination(recipient=prior.sender, exchange="", routing_key=prior.reply_to or "", channel="sync",
                           reply_to_caller=True)
    if prior.sender not in registry.members:
        return Refusal("Server.CallerGone", f"{prior.sender} is no longer registered")
    return Destination(recipient=prior.sender, exchange=DELIVERY_EXCHANGE, routing_key=prior.sender, channel="async")


# ---- what the gateway decides about a message -------------------------------------------------------------
@dataclass(frozen=True)
class Routed:
    """Deliver it: to a member's queue, a caller's reply queue, or the gateway itself (its own lookups)."""

    destination: Destination
    deadline: float | None = None  # a synchronous request's deadline (real Unix seconds)


@dataclass(frozen=True)
class Refused:
    """Log it refused, copy it to the dead-letter queue, and tell a proven sender why."""

    refusal: Refusal


@dataclass(frozen=True)
class Parked:
    """Hold it while ГБД ФЛ says where its applicant is registered."""

    lookup: DistrictLookup


@dataclass(frozen=True)
class Retry:
    """It cannot be decided now (НУЦ unreachable): back round the retry tiers, in ``delay_s``."""

    refusal: Refusal  # what it would be refused with, should its retries run out
    delay_s: int


Decision = Routed | Refused | Parked | Retry


# ---- the message log chain ------------------------------------------------------------------------------
GENESIS_HASH = "0" * 64
# Every field the chain covers: the message_log column, and its name in the signed record. Defined here once;
# the table, the records the gateway appends and the verifier all read this.
LOG_FIELDS: dict[str, str] = {
    "seq": "seq", "message_id": "messageId", "correlation_id": "correlationId", "service_id": "serviceId",
    "message_type": "messageType", "sender": "sender", "recipient": "recipient", "route_id": "routeId",
    "in_reply_to": "inReplyTo", "message_date": "messageDate", "received_at": "receivedAt", "outcome": "outcome",
    "error_code": "errorCode", "error_reason": "errorReason", "payload_digest": "payloadDigest",
    "envelope_digest": "envelopeDigest", "checks": "checks", "prev_hash": "prevHash", "trace_id": "traceId",
}
# Chained only when set: a record written before traces were kept has no trace id, and its bytes are what they were.
OPTIONAL_LOG_FIELDS = frozenset({"traceId"})


def chained(row: dict[str, Any]) -> dict[str, Any]:
    """A log row (by column) as the record the chain covers (by its public names)."""
    return {name: row[column] for column, name in LOG_FIELDS.items()}


def record_content(record: dict[str, Any]) -> bytes:
    """The canonical bytes a log record's hash and the gateway's signature cover: the record as ``GET /log``
    shows it (public names), the fields the chain covers and nothing else."""
    missing = [name for name in LOG_FIELDS.values() if name not in record and name not in OPTIONAL_LOG_FIELDS]
    if missing:
        raise ValueError(f"log record lacks {missing}")
    return canonical_bytes({name: record[name] for name in LOG_FIELDS.values()
                            if name not in OPTIONAL_LOG_FIELDS or record.get(name) is not None})


def record_hash(record: dict[str, Any]) -> str:
    return hashlib.sha256(record_content(record)).hexdigest()


def anchor_content(*, seq: int, record_hash: str, purged: int, purged_at: str) -> bytes:
    """What the gateway signs when it purges the log up to ``seq``: the chain resumes from this hash."""
    return canonical_bytes({"seq": seq, "recordHash": record_hash, "purgedRecords": purged, "purgedAt": purged_at})


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()

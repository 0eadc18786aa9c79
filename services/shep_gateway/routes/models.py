"""The gateway's request and response models: every JSON answer closed (``additionalProperties: false``), with an
example. Wire names are as the API has always spoken them (camelCase, but the clock's ``state``, which is
``shared.clock.ClockState`` as stored)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from services.shep_gateway.domain import MemberDef, ServiceDef
from shared.web.models import CamelModel, ClosedModel

EntryKind = Literal["member", "service"]
MessageTypeName = Literal["REQUEST", "RESPONSE", "NOTIFICATION", "ERROR"]
LogOutcome = Literal["ROUTED", "REFUSED", "TIMEOUT", "NOT_DELIVERED"]
DeliveryState = Literal["ON_DELIVERY", "DELIVERED", "NOT_DELIVERED"]
SERIAL = "3f9a0c51d2e84b7a9c0e1f2a3b4c5d6e7f809112"
HASH = "9b2c4e6f8a0b1c3d5e7f9a1b3c5d7e9f0a2b4c6d8e0f1a3b5c7d9e1f3a5b7c9d"
MEMBER: dict[str, Any] = {"id": "gbdfl", "name": "ГБД ФЛ", "kind": "registry", "organisation": "АО «НИТ»",
                          "bin": "940140000385", "region": None, "district": None, "active": True}
SERVICE: dict[str, Any] = {"id": "gbdfl.person-by-iin", "title": "Сведения о физическом лице по ИИН",
                           "channel": "sync", "providers": ["gbdfl"], "routeBy": None,
                           "callers": ["portal", "con", "mio.*", "shep"], "notify": []}
STATE: dict[str, Any] = {"version": 3, "anchor_real": 1767225600.0, "anchor_mesh": 1767830400.0, "speed": 1.0}


# ---- requests --------------------------------------------------------------------------------------------------
class CertificateBody(CamelModel):
    certificate_pem: str = Field(min_length=1)


class ClockChange(CamelModel):
    advance_seconds: float | None = Field(default=None, ge=0, le=10 * 365 * 86400)
    advance_working_days: int | None = Field(default=None, ge=0, le=3650)
    speed: float | None = Field(default=None, gt=0, le=100_000)
    reset: bool = False
    force: bool = Field(default=False, description="move even outside the validity of the CA's or members' "
                        "certificates (CLOCK_OUTSIDE_VALIDITY otherwise)")

    @model_validator(mode="after")
    def _something(self) -> ClockChange:
        if not self.reset and self.advance_seconds is None and self.advance_working_days is None and self.speed is None:
            raise ValueError("give advanceSeconds, advanceWorkingDays, speed or reset")
        if self.reset and (self.advance_seconds or self.advance_working_days or self.speed):
            raise ValueError("reset cannot be combined with other changes")
        return self


class RegistryReset(ClosedModel):
    kind: EntryKind | None = None
    id: str | None = Field(default=None, min_length=1, max_length=128)

    @model_validator(mode="after")
    def _both_or_neither(self) -> RegistryReset:
        if (self.kind is None) != (self.id is None):
            raise ValueError("give both kind and id (one entry), or neither (every entry of the seed)")
        return self


# ---- metaservices ------------------------------------------------------------------------------------------------
class PinnedCertificate(CamelModel):
    serial: str = Field(description="hex serial of a system certificate pinned to the member")
    not_after: str = Field(description="its end of validity, ISO 8601")
    registered_at: str = Field(description="when it was first pinned (mesh time), ISO 8601")


class MemberPublic(MemberDef):
    """A member system as the registry has it, with the certificates pinned to it."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {**MEMBER, "certificates": [{"serial": SERIAL, "notAfter": "2027-01-01T00:00:00+00:00",
                                     "registeredAt": "2026-01-01T09:00:00+00:00"}]}]})

    certificates: list[PinnedCertificate]


class MembersOut(ClosedModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"members": [
        {**MEMBER, "certificates": [{"serial": SERIAL, "notAfter": "2027-01-01T00:00:00+00:00",
                                     "registeredAt": "2026-01-01T09:00:00+00:00"}]}]}]})

    members: list[MemberPublic]


class ServicesOut(ClosedModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"caller": "portal", "services": [SERVICE]}]})

    caller: str | None = Field(description="the member asked about (?caller=), or null: every service")
    services: list[ServiceDef]


class CertificateOut(CamelModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"memberId": "shep", "serial": SERIAL, "certificatePem": "-----BEGIN CERTIFICATE-----\nMIIB…\n"
                                                                 "-----END CERTIFICATE-----\n"}]})

    member_id: str
    serial: str
    certificate_pem: str


# ---- the clock -----------------------------------------------------------------------------------------------------
class ClockStateOut(ClosedModel):
    """``shared.clock.ClockState``: mesh time = anchor_mesh + (real time − anchor_real) × speed."""

    version: int
    anchor_real: float = Field(description="real Unix time of the anchor")
    anchor_mesh: float = Field(description="mesh Unix time at the anchor")
    speed: float


class ClockOut(CamelModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"state": STATE, "now": "2026-01-08T00:00:00+00:00", "localNow": "2026-01-08T05:00:00+05:00"}]})

    state: ClockStateOut
    now: str = Field(description="mesh now, UTC, ISO 8601")
    local_now: str = Field(description="mesh now in Kazakhstan time, ISO 8601")


class ClockChangedOut(ClockOut):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"state": STATE, "now": "2026-01-08T00:00:00+00:00", "localNow": "2026-01-08T05:00:00+05:00",
         "warnings": []}]})

    warnings: list[str] = Field(description="what the change makes not yet valid, when the clock went back")


# ---- the message log ---------------------------------------------------------------------------------------------
RECORD: dict[str, Any] = {"seq": 42, "messageId": "5b1e3c2a-8f5d-4a51-9a57-0c7f0e1a2b3c", "correlationId": "case-7",
          "serviceId": "gbdfl.person-by-iin", "messageType": "REQUEST", "sender": "portal", "recipient": "gbdfl",
          "routeId": None, "inReplyTo": None, "messageDate": "2026-01-08T05:00:00+05:00",
          "receivedAt": "2026-01-08T00:00:00.120000+00:00", "outcome": "ROUTED", "errorCode": None,
          "errorReason": None, "payloadDigest": HASH, "envelopeDigest": HASH,
          "checks": {"envelope": "ok", "sender": "known", "signature": {"ok": True}, "route": "gbdfl"},
          "prevHash": HASH, "recordHash": HASH, "signature": "MIAGCSqGSIb3DQEHAqCAMIACAQEx…"}


class LogRecordOut(CamelModel):
    """One record of the chained log: the fields the chain covers, its hash and the gateway's signature over them."""

    model_config = ConfigDict(json_schema_extra={"examples": [RECORD]})

    seq: int
    message_id: str
    correlation_id: str | None
    service_id: str | None
    message_type: MessageTypeName | None
    sender: str | None
    recipient: str | None
    route_id: str | None
    in_reply_to: str | None
    message_date: str | int | float | None = Field(description="as the sender wrote it (ISO 8601 with an offset; a "
                                                              "number is read as Unix time)")
    received_at: str
    outcome: LogOutcome
    error_code: str | None
    error_reason: str | None
    payload_digest: str | None
    envelope_digest: str
    checks: dict[str, Any] = Field(description="what each check found (envelope, sender, publisher, encryption, "
                                               "signature, payload, route…); which appear depends on how far the "
                                               "message got")
    prev_hash: str
    trace_id: str | None = Field(default=None, description="the W3C trace id the message came with (its "
                                 "traceparent header); chained when present — a record without one is as it was")
    record_hash: str
    signature: str


class LogOut(ClosedModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"records": [RECORD]}]})

    records: list[LogRecordOut]


class DeliveryOut(CamelModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"messageId": RECORD["messageId"], "correlationId": "case-7", "serviceId": "mio.application",
         "messageType": "REQUEST", "sender": "portal", "recipient": "mio.almaty", "state": "DELIVERED",
         "attempts": 1, "logSeq": 42, "firstSentAt": 1767830400.12, "settledAt": 1767830400.5,
         "settledBy": "0c9d7e1a-2b3c-4d5e-8f90-a1b2c3d4e5f6", "waits": 0, "waitingFor": None}]})

    message_id: str
    correlation_id: str | None
    service_id: str | None
    message_type: MessageTypeName
    sender: str | None
    recipient: str
    state: DeliveryState
    attempts: int
    log_seq: int
    first_sent_at: float = Field(description="real Unix time of the first delivery")
    settled_at: float | None
    settled_by: str | None = Field(description="the receipt's message id, or NOT_DELIVERED's code")
    waits: int
    waiting_for: str | None


class DeliveriesOut(ClosedModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"deliveries": []}]})

    deliveries: list[DeliveryOut]


class AnchorOut(CamelModel):
    seq: int
    record_hash: str
    purged_records: int
    purged_at: str
    signature: str


class BrokenAt(CamelModel):
    seq: int
    message_id: str | None
    problem: str


class ChainVerdictOut(CamelModel):
    """The whole chain checked: ``ok`` with the head's hash (and the retention anchor it starts from), or where it
    breaks. Fields that do not apply are absent."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"ok": True, "checked": 1200, "headHash": HASH, "anchor": None},
        {"ok": False, "checked": 41, "brokenAt": {"seq": 42, "messageId": RECORD["messageId"],
                                                  "problem": "recordHash does not match the record's content: "
                                                             "the record was altered"}}]})

    ok: bool
    checked: int
    head_hash: str | None = None
    anchor: AnchorOut | None = None
    broken_at: BrokenAt | None = None


# ---- registry administration -------------------------------------------------------------------------------------
class PinnedOut(CamelModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"memberId": "gbdfl", "serial": SERIAL}]})

    member_id: str
    serial: str


class GrantOut(ClosedModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"service": SERVICE, "created": False}]})

    service: ServiceDef
    created: bool


class ResetEntry(ClosedModel):
    kind: EntryKind
    id: str
    was: dict[str, Any] | None = Field(description="the entry's definition before the reset (null: it was missing)")


class SeedlessEntry(ClosedModel):
    kind: EntryKind
    id: str


class ResetOut(ClosedModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"reset": [{"kind": "service", "id": SERVICE["id"], "was": {**SERVICE, "callers": ["portal"]}}],
         "notInSeed": [{"kind": "member", "id": "test.tester-1"}]}]})

    reset: list[ResetEntry] = Field(description="entries that differed from the seed: kind, id, and `was`")
    not_in_seed: list[SeedlessEntry] = Field(alias="notInSeed")


# ---- broker accounts -------------------------------------------------------------------------------------------
class BrokerPermissionsOut(ClosedModel):
    configure: str
    write: str
    read: str


class BrokerLoginOut(ClosedModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"user": "gbdfl", "password": "…", "permissions": {
            "configure": r"^(member\.gbdfl(\.sync)?|member\.gbdfl(\.sync)?\.retry(\.\d+s)?"
                         r"|gbdfl\.(replies|clock)\..+)$",
            "write": r"^(shep\.ingress|mesh\.dead|member\.gbdfl(\.sync)?\.retry(\.\d+s)?|gbdfl\.(replies|clock)\..+)$",
            "read": r"^(member\.gbdfl(\.sync)?|member\.gbdfl(\.sync)?\.retry|gbdfl\.(replies|clock)\..+"
                    r"|mesh\.clock)$"}}]})

    user: str
    password: str = Field(description="derived by the gateway from the mesh secret: the same at every call")
    permissions: BrokerPermissionsOut = Field(description="RabbitMQ's configure/write/read expressions for it")


class BrokerAdministratorOut(CamelModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"user": "mesh", "password": "…", "managementUrl": "http://127.0.0.1:15672"}]})

    user: str
    password: str
    management_url: str


# ---- settle ------------------------------------------------------------------------------------------------------
EXAMPLE_CASE: dict[str, Any] = {"service": "portal", "role": "origin", "status": "COMPLETED",
                                "correlationId": "0b6f7f0e-3c8e-4c43-a3f4-5d0c2b7d9e11",
                                "applicationNumber": "KZO-2026-000001"}


class SettleIn(CamelModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"case": "KZO-2026-000001", "timeoutSeconds": 60, "maxJumps": 500}]})

    case: str | None = Field(default=None, min_length=1, max_length=128, description="an application number or a "
                             "correlation id: only its steps drive the clock, and it stops once the case is final "
                             "and heard so; none: the whole mesh, until nothing is scheduled")
    timeout_seconds: float | None = Field(default=None, description="required: real seconds at most (0 < t ≤ 600)")
    max_jumps: int = Field(default=500, description="clock jumps at most (0 to 10000)")


class SettledCaseOut(CamelModel):
    service: str
    role: str = Field(description="origin: the portal or ИС ЦОН that sent it; provider: ИС МИО, which decides it")
    status: str
    correlation_id: str | None
    application_number: str | None


class SettleOut(CamelModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"outcome": "settled", "jumps": 5, "clockFrom": "2026-03-02T09:00:00+00:00",
         "clockTo": "2026-03-02T10:05:00+00:00", "case": "KZO-2026-000001", "cases": [EXAMPLE_CASE],
         "inFlight": [], "nextDue": None}]})

    outcome: Literal["settled", "waiting_for_staff", "timed_out", "max_jumps"] = Field(
        description="settled: nothing in flight, and the case final and heard so (or, for the whole mesh, nothing "
                    "scheduled); waiting_for_staff: the case waits for staff in manual mode; timed_out: inFlight "
                    "says what was still moving; max_jumps: the next step is still ahead")
    jumps: int
    clock_from: str
    clock_to: str
    case: str | None
    cases: list[SettledCaseOut] = Field(description="the case as each service that knows it sees it")
    in_flight: list[str] = Field(description="what was still in flight (on timeout)")
    next_due: str | None = Field(description="the next scheduled step left, when one is")

"""Typed payloads (``data``) of the mesh's messages, one model per service and message type.

A payload that does not fit its model is refused at the edge (the gateway, then the recipient) with
``Client.InvalidPayload``, never deep inside a handler. Services register their contracts here so the
gateway, the recipients and the AsyncAPI document all read the same definitions.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.envelope import MessageType
from shared.errors import MeshError


class Contract(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")


class ErrorPayload(Contract):
    """What a refused or failed message comes back as; ``where`` says which side failed."""

    code: str = Field(description="X-Road-style code: Client.* (the sender's fault) or Server.* (provider/gateway)")
    message: str
    where: Literal["gateway", "provider", "recipient"]
    refused_message_id: str | None = Field(default=None, alias="refusedMessageId")
    details: dict[str, Any] = Field(default_factory=dict)


class ClockPayload(Contract):
    version: int
    anchor_real: float = Field(alias="anchorReal")
    anchor_mesh: float = Field(alias="anchorMesh")
    speed: float


_REGISTRY: dict[tuple[str, MessageType], type[Contract]] = {}
ANY_SERVICE = "*"


def register_contract(*, service_id: str, message_type: MessageType, model: type[Contract]) -> None:
    _REGISTRY[(service_id, message_type)] = model


def contract_for(*, service_id: str, message_type: MessageType) -> type[Contract] | None:
    return _REGISTRY.get((service_id, message_type)) or _REGISTRY.get((ANY_SERVICE, message_type))


def registered_contracts() -> dict[tuple[str, MessageType], type[Contract]]:
    return dict(_REGISTRY)


def parse_payload(*, service_id: str, message_type: MessageType, data: dict[str, Any]) -> Contract | None:
    """Validate ``data`` against the registered model; None when the service declared no contract."""
    model = contract_for(service_id=service_id, message_type=message_type)
    if model is None:
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "data"
        raise MeshError("Client.InvalidPayload",
                        f"{service_id} {message_type.value}: data.{where}: {first['msg']}") from None


register_contract(service_id=ANY_SERVICE, message_type=MessageType.ERROR, model=ErrorPayload)
register_contract(service_id="shep.clock", message_type=MessageType.NOTIFICATION, model=ClockPayload)


# ---- gbdfl.person-by-iin (synchronous) -------------------------------------------------------------------
class PersonByIinRequest(Contract):
    iin: str = Field(pattern=r"^\d{12}$")


class PersonData(Contract):
    iin: str
    surname: str
    name: str
    patronymic: str | None = None
    surname_latin: str | None = Field(default=None, alias="surnameLatin")
    name_latin: str | None = Field(default=None, alias="nameLatin")
    birth_date: str = Field(alias="birthDate", description="YYYY-MM-DD")
    sex: Literal["M", "F"]
    citizenship: str = "KZ"
    region: str = Field(description="region code (the simulator's slug)")
    region_name: str | None = Field(default=None, alias="regionName")
    district: str = Field(description="district code; the routeId of the district's ИС МИО")
    district_name: str | None = Field(default=None, alias="districtName")
    address: str
    phone: str | None = None
    alive: bool = True
    death_date: str | None = Field(default=None, alias="deathDate")


class PersonByIinResponse(Contract):
    """``found: false`` is the registry's «нет данных», an answer the caller must handle, not an error."""

    found: bool
    person: PersonData | None = None
    message: str | None = None


register_contract(service_id="gbdfl.person-by-iin", message_type=MessageType.REQUEST, model=PersonByIinRequest)
register_contract(service_id="gbdfl.person-by-iin", message_type=MessageType.RESPONSE, model=PersonByIinResponse)


# ---- gbdfl.social-status-by-iin (synchronous): facts from other registries, kept apart from identity ---------
class EmploymentFact(Contract):
    employed: bool
    employer_bin: str | None = Field(default=None, alias="employerBin")
    employer_name: str | None = Field(default=None, alias="employerName")
    since: str | None = None
    source: str = "ЕСУТД — единая система учета трудовых договоров (симулятор)"


class StudyFact(Contract):
    full_time_student: bool = Field(alias="fullTimeStudent")
    institution: str | None = None
    until: str | None = None
    source: str = "НОБД — национальная образовательная база данных (симулятор)"


class PensionFact(Contract):
    pensioner: bool
    kind: Literal["age", "disability"] | None = None
    since: str | None = None
    source: str = "ГЦВП — государственный центр по выплате пенсий (симулятор)"


class SocialStatusRequest(Contract):
    iin: str = Field(pattern=r"^\d{12}$")


class SocialStatusResponse(Contract):
    found: bool
    employment: EmploymentFact | None = None
    study: StudyFact | None = None
    pension: PensionFact | None = None
    message: str | None = None


register_contract(service_id="gbdfl.social-status-by-iin", message_type=MessageType.REQUEST,
                  model=SocialStatusRequest)
register_contract(service_id="gbdfl.social-status-by-iin", message_type=MessageType.RESPONSE,
                  model=SocialStatusResponse)

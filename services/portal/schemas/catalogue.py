"""What the service catalogue (``GET /services``) answers (services/portal/catalogue.py makes it)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from shared.web.models import CamelModel, ClosedModel

Channel = Literal["office", "portal", "con"]


class Bilingual(ClosedModel):
    ru: str
    kk: str


class RequiredDocument(ClosedModel):
    id: str
    ru: str
    kk: str
    required: bool


class RegulationRef(CamelModel):
    id: str
    channel: Channel
    act: str
    applicants: list[Literal["individual", "organisation"]] = Field(description="IIN, or IIN/BIN (001 п. 9)")


class RegionOffer(CamelModel):
    region: str
    districts: list[str]
    channels: list[Channel]
    regulations: list[RegulationRef]
    referral_kinds: list[str] | None = Field(description="the referral service: the kinds the region's regulation "
                                                         "refers to")
    channel_titles: list[Bilingual]


class ServicePublic(CamelModel):
    id: str
    title: Bilingual
    form: dict[str, Any] = Field(description="the form as JSON Schema, labels in Russian and Kazakh")
    required_documents: list[RequiredDocument]
    regions: list[RegionOffer]
    referral_kind_titles: dict[str, Bilingual] | None = Field(default=None, description="the referral service only")


class CatalogueOut(CamelModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"services": [{
        "id": "employment.unemployed-certificate", "title": {"ru": "Выдача справки безработным гражданам",
                                                               "kk": "Жұмыссыз азаматтарға анықтама беру"},
        "form": {"type": "object"}, "requiredDocuments": [
            {"id": "identity-document", "ru": "документ, удостоверяющий личность", "kk": "жеке басын куәландыратын "
             "құжат", "required": True}],
        "regions": [{"region": "almaty-city", "districts": ["almaty"], "channels": ["portal"], "regulations": [
            {"id": "003-almaty", "channel": "portal", "act": "…", "applicants": ["individual"]}],
            "referralKinds": None, "channelTitles": [{"ru": "портал «электронного правительства»",
                                                      "kk": "«электрондық үкімет» порталы"}]}]}]}]})

    services: list[ServicePublic]

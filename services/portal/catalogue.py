"""The service catalogue (`GET /services`): the four employment services, each with its form as JSON Schema,
labels in Russian and Kazakh, the documents the Standard asks for, and per region the channels it is offered
through (from the regulation files: a channel is offered where a file gives it) and the referral kinds the
region's regulation offers. The portal, ИС ЦОН and the МИО office check forms against the same definitions
(shared/employment/forms.py)."""

from __future__ import annotations

from typing import Any

from shared.employment.forms import REFERRAL_KIND_LABELS, REQUIRED_DOCUMENTS, SERVICE_TITLES, form_schema, kinds_of
from shared.employment.regulations import RegulationBook
from shared.mesh.contracts import EMPLOYMENT_SERVICES

CHANNEL_TITLES = {"office": {"ru": "услугодатель (МИО)", "kk": "көрсетілетін қызметті беруші (ЖАО)"},
                  "portal": {"ru": "портал «электронного правительства»", "kk": "«электрондық үкімет» порталы"},
                  "con": {"ru": "Государственная корпорация (ЦОН)", "kk": "Мемлекеттік корпорация (ХҚКО)"}}


def catalogue(book: RegulationBook) -> list[dict[str, Any]]:
    out = []
    for service_id in EMPLOYMENT_SERVICES:
        files = [r for r in book.all.values() if r.service == service_id]
        regions: dict[str, dict[str, Any]] = {}
        for regulation in files:
            entry = regions.setdefault(regulation.region, {"region": regulation.region, "districts": [],
                                                           "channels": [], "regulations": [], "referralKinds": None})
            entry["districts"] = sorted(set(entry["districts"]) | set(regulation.districts))
            entry["channels"] = sorted(set(entry["channels"]) | {regulation.channel})
            entry["regulations"].append({"id": regulation.id, "channel": regulation.channel, "act": regulation.act,
                                         "applicants": list(regulation.applicants)})  # IIN, or IIN/BIN (001 п. 9)
            kinds = kinds_of(regulation)
            if kinds:
                entry["referralKinds"] = sorted(set(entry["referralKinds"] or []) | set(kinds))
        every_kind = sorted({k for r in regions.values() for k in (r["referralKinds"] or [])}) or None
        item: dict[str, Any] = {
            "id": service_id, "title": SERVICE_TITLES[service_id],
            "form": form_schema(service_id, referral_kinds=every_kind),
            "requiredDocuments": REQUIRED_DOCUMENTS[service_id],
            "regions": [r | {"channelTitles": [CHANNEL_TITLES[c] for c in r["channels"]]}
                        for r in sorted(regions.values(), key=lambda r: r["region"])],
        }
        if service_id == "employment.active-measures-referral":
            item["referralKindTitles"] = REFERRAL_KIND_LABELS
        out.append(item)
    return out

"""Explain a case: what happened to one application, hop by hop, joined from everything the mesh keeps of it.

The backbone is the gateway's signed message log (durable: every message of the case, its checks, where it went or
why it was refused) with the delivery rows (receipted or not, after how many attempts); the tester's journal adds
what the log does not hold — the HTTP requests at each service's edge that began and moved the case, what each
recipient consumed, the payload's status, every fault injected — and ИС МИО's and ИС ЦОН's timelines add each step
with its maximum, due time and overdue flag. Everything is ordered on the mesh clock, the one clock all of them
share (the wall clock jumps with every ``settle``).

The gateway knows nothing of the employment domain (an import contract): it reads ИС МИО's and ИС ЦОН's own JSON
over HTTP with the admin token, as a tester would, and takes only the fields it shows.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from shared.errors import MeshError
from shared.web.sequence_diagram import Diagram, Style

APPLICATION_NUMBER = re.compile(r"^[A-Z]{2,5}-\d{4}-\d{3,}$")
RECEIPT_SERVICE = "shep.delivery-receipt"
MEMBER_LABELS = {"portal": "Портал (ПЭП)", "shep": "ШЭП", "con": "ИС ЦОН", "gbdfl": "ГБД ФЛ", "nuc": "НУЦ",
                 "citizen": "Гражданин", "operator": "Оператор ЦОН", "staff": "Сотрудник МИО", "client": "Клиент"}
SERVICE_MEMBERS = {"portal": "portal", "shep_gateway": "shep", "con_operator": "con", "gbd_fl": "gbdfl",
                   "nuc_pki": "nuc"}
CLIENTS = {"portal": "citizen", "con_operator": "operator", "mio_workstation": "staff"}

Journal = Callable[[dict[str, str]], Awaitable[list[dict[str, Any]]]]
PeerGet = Callable[[str, str, dict[str, str]], Awaitable[dict[str, Any] | None]]
Records = Callable[[str], Awaitable[list[dict[str, Any]]]]


def _mesh_time(value: Any) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _label(member: str) -> str:
    if member.startswith("mio."):
        return f"ИС МИО ({member[4:]})"
    return MEMBER_LABELS.get(member, member)


@dataclass
class CaseExplainer:
    """``records``: the gateway's log records of a correlation id (public form); ``deliveries``: its delivery rows;
    ``journal``: a journal query across the mesh; ``peer``: an admin GET on a service (None when it has nothing)."""

    records: Records
    deliveries: Records
    journal: Journal
    peer: PeerGet

    async def explain(self, ref: str) -> dict[str, Any]:
        correlation_id, application = await self._resolve(ref)
        records = await self.records(correlation_id)
        entries = await self.journal({"correlationId": correlation_id})
        number = (application or {}).get("number") or next(
            (e["applicationNumber"] for e in entries if e.get("applicationNumber")), None)
        if application is None and number:
            application = await self.peer("mio_workstation", f"/applications/{number}", {})
        if number:
            seen = {(e.get("service"), e.get("seq")) for e in entries}
            entries += [e for e in await self.journal({"applicationNumber": number})
                        if (e.get("service"), e.get("seq")) not in seen]
        if not records and not entries and application is None:
            raise MeshError("CASE_NOT_FOUND", f"nothing in the gateway's log, the journal or ИС МИО for {ref}")
        visit = await self._visit(correlation_id, application)
        deliveries = {d["messageId"]: d for d in await self.deliveries(correlation_id)}
        hops = self._hops(records, entries, deliveries)
        steps = self._steps(application, visit)
        faults = [self._fault(e) for e in entries if e.get("kind") == "fault"]
        final = (application or {}).get("status") or (visit or {}).get("status")
        return {"ref": ref, "correlationId": correlation_id, "applicationNumber": number,
                "serviceId": (application or visit or {}).get("serviceId") or next(
                    (r["serviceId"] for r in records if r.get("serviceId")), None),
                "channel": (application or {}).get("channel"), "status": final,
                "hops": hops, "steps": steps, "faults": faults}

    async def _resolve(self, ref: str) -> tuple[str, dict[str, Any] | None]:
        """A correlation id and, for an application number, ИС МИО's application (which names its correlation)."""
        if not APPLICATION_NUMBER.match(ref):
            return ref, None
        application = await self.peer("mio_workstation", f"/applications/{ref}", {})
        if application is not None:
            return str(application["correlationId"]), application
        found = await self.journal({"applicationNumber": ref})
        for entry in found:
            if entry.get("correlationId"):
                return str(entry["correlationId"]), None
        raise MeshError("CASE_NOT_FOUND", f"no application {ref} at ИС МИО nor in the journal")

    async def _visit(self, correlation_id: str, application: dict[str, Any] | None) -> dict[str, Any] | None:
        """ИС ЦОН's visit the case came from (a ЦОН channel application), with its ЦОН-side steps."""
        iin = (application or {}).get("applicantIin")
        if not iin or (application or {}).get("channel") != "con":
            return None
        visits = await self.peer("con_operator", "/visits", {"iin": str(iin)})
        return next((v for v in (visits or {}).get("visits", []) if v.get("correlationId") == correlation_id), None)

    @staticmethod
    def _hops(records: list[dict[str, Any]], entries: list[dict[str, Any]],
              deliveries: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        """Every message of the case from the log (the journal's envelope entry adds the payload's status), every
        HTTP exchange and consumption from the journal, in mesh-time order."""
        decided = {e.get("messageId"): e for e in entries if e.get("kind") == "envelope"}
        hops: list[dict[str, Any]] = []
        for record in records:
            entry = decided.get(record["messageId"], {})
            payload = entry.get("payload") if isinstance(entry.get("payload"), dict) else {}
            delivery = deliveries.get(record["messageId"])
            hops.append({
                "kind": "receipt" if record.get("serviceId") == RECEIPT_SERVICE else "message",
                "meshAt": record["receivedAt"], "from": record.get("sender"), "to": record.get("recipient"),
                "via": "shep", "serviceId": record.get("serviceId"), "messageType": record.get("messageType"),
                "messageId": record["messageId"], "status": (payload or {}).get("status"),
                "outcome": record["outcome"], "code": record.get("errorCode"), "reason": record.get("errorReason"),
                "checks": record.get("checks", {}), "logSeq": record["seq"], "traceId": record.get("traceId"),
                "delivery": {k: delivery[k] for k in ("state", "attempts", "settledAt", "settledBy")}
                if delivery else None})
        for entry in entries:
            if entry.get("kind") == "http" and not str(entry.get("route", "")).startswith("/admin"):
                hops.append({"kind": "http", "meshAt": entry.get("meshAt"), "service": entry.get("service"),
                             "method": entry.get("method"), "route": entry.get("route"),
                             "status": entry.get("status"), "outcome": entry.get("outcome"),
                             "code": entry.get("code"), "journalSeq": entry.get("seq")})
            elif entry.get("kind") == "consumed":
                payload = entry.get("payload") if isinstance(entry.get("payload"), dict) else {}
                hops.append({"kind": "consumed", "meshAt": entry.get("meshAt"), "service": entry.get("service"),
                             "from": entry.get("sender"), "to": entry.get("recipient"),
                             "serviceId": entry.get("serviceId"), "messageType": entry.get("messageType"),
                             "messageId": entry.get("messageId"), "status": (payload or {}).get("status"),
                             "outcome": "consumed", "journalSeq": entry.get("seq")})
        hops.sort(key=lambda h: (_mesh_time(h.get("meshAt")) or dt.datetime.max.replace(tzinfo=dt.UTC),
                                 h.get("logSeq") or 0))
        return hops

    @staticmethod
    def _steps(application: dict[str, Any] | None, visit: dict[str, Any] | None) -> list[dict[str, Any]]:
        steps = [{"system": "mio", "member": f"mio.{application['district']}", "step": s["step"],
                  "role": s.get("role"), "action": s.get("action"), "max": s.get("max"),
                  "startedAt": s.get("startedAt"), "dueAt": s.get("dueAt"), "finishedAt": s.get("finishedAt"),
                  "actor": s.get("actor"), "overdue": bool(s.get("overdue"))}
                 for s in (application or {}).get("timeline", [])] if application else []
        steps += [{"system": "con", "member": "con", "step": s["step"], "role": "operator", "action": s.get("action"),
                   "max": s.get("max"), "startedAt": s.get("startedAt"), "dueAt": s.get("dueAt"),
                   "finishedAt": s.get("finishedAt"), "actor": None, "overdue": bool(s.get("overdue"))}
                  for s in (visit or {}).get("timeline", []) if s.get("applies", True)]
        return steps

    @staticmethod
    def _fault(entry: dict[str, Any]) -> dict[str, Any]:
        keep = ("meshAt", "service", "ruleId", "fault", "where", "stage", "reason", "messageId", "sender", "recipient",
                "serviceId", "route")
        return {key: entry[key] for key in keep if key in entry}


def diagram_of(explained: dict[str, Any]) -> Diagram:
    """The case as a sequence diagram: requests into the services, messages through ШЭП, each step of ИС МИО and
    ИС ЦОН as a note over its system (red when overdue), each fault, in mesh-time order."""
    title = f"{explained.get('applicationNumber') or explained['correlationId']} · {explained.get('serviceId') or ''}" \
            f" · {explained.get('status') or '…'}"
    diagram = Diagram(title=title)
    timeline: list[tuple[dt.datetime, int, Any]] = []
    for order, hop in enumerate(explained["hops"]):
        timeline.append((_mesh_time(hop.get("meshAt")) or dt.datetime.max.replace(tzinfo=dt.UTC), order, hop))
    for order, step in enumerate(explained["steps"], start=len(timeline)):
        at = _mesh_time(step.get("finishedAt")) or _mesh_time(step.get("startedAt"))
        timeline.append((at or dt.datetime.max.replace(tzinfo=dt.UTC), order, step))
    for order, fault in enumerate(explained["faults"], start=len(timeline)):
        timeline.append((_mesh_time(fault.get("meshAt")) or dt.datetime.max.replace(tzinfo=dt.UTC), order,
                         {"kind": "fault", **fault}))
    timeline.sort(key=lambda item: (item[0], item[1]))
    members = [str(h.get(end)) for h in explained["hops"] for end in ("from", "to")] + \
        [s["member"] for s in explained["steps"]]
    mio = next((m for m in members if m.startswith("mio.")), "mio")  # staff's requests reach the case's ИС МИО
    for _at, _order, item in timeline:
        _draw(diagram, item, mio=mio)
    return diagram


def _member(member: str | None) -> str:
    return member or "client"


def _draw(diagram: Diagram, item: dict[str, Any], *, mio: str) -> None:
    kind = item.get("kind")
    if kind in ("message", "http", "consumed", "fault", "receipt") or "step" not in item:
        _draw_hop(diagram, item, mio=mio)
        return
    member = item["member"]
    diagram.participant(member, _label(member))
    done = "✓" if item.get("finishedAt") else "…"
    style: Style = "overdue" if item.get("overdue") else "step"
    text = f"{done} {item['step']}" + (f" ({item['role']})" if item.get("role") else "") + \
        (f" max {item['max']}" if item.get("max") else "") + (" OVERDUE" if item.get("overdue") else "")
    diagram.note(member, text, style)


def _draw_hop(diagram: Diagram, hop: dict[str, Any], *, mio: str) -> None:
    kind = hop.get("kind")
    if kind == "receipt" or kind == "consumed":
        return  # the delivery arrow says it was receipted; the JSON keeps both
    if kind == "fault":
        at = mio if hop.get("service") == "mio_workstation" else SERVICE_MEMBERS.get(str(hop.get("service")), "shep")
        diagram.participant(at, _label(at))
        diagram.note(at, f"⚡ fault {hop.get('fault')} (rule {hop.get('ruleId')})", "fault")
        return
    if kind == "http":
        if hop.get("method") in ("GET", "HEAD") and hop.get("outcome") == "ok":
            return  # a read changes nothing (a desk polling its visit would fill the page); the JSON keeps it
        service = str(hop.get("service"))
        client = CLIENTS.get(service, "client")
        target = mio if service == "mio_workstation" else SERVICE_MEMBERS.get(service, service)
        diagram.participant(client, _label(client))
        diagram.participant(target, _label(target))
        text = f"{hop.get('method')} {hop.get('route')} → {hop.get('status')}" + \
            (f" {hop['code']}" if hop.get("code") else "")
        diagram.arrow(client, target, text, "refused" if hop.get("outcome") != "ok" else "ok")
        return
    sender, recipient = _member(hop.get("from")), _member(hop.get("to"))
    label = f"{hop.get('serviceId')} {hop.get('messageType')}" + (f" {hop['status']}" if hop.get("status") else "")
    diagram.participant(sender, _label(sender))
    diagram.participant("shep", _label("shep"))
    if hop.get("outcome") == "REFUSED":
        diagram.arrow(sender, "shep", label, "refused")
        diagram.note("shep", f"refused {hop.get('code')}", "refused")
        return
    diagram.arrow(sender, "shep", label)
    if recipient != "shep":
        diagram.participant(recipient, _label(recipient))
        delivery = hop.get("delivery") or {}
        state = delivery.get("state")
        suffix = "" if state in (None, "DELIVERED") else f" [{state}]"
        if delivery.get("attempts", 1) and delivery.get("attempts", 1) > 1:
            suffix += f" ×{delivery['attempts']}"
        diagram.arrow("shep", recipient, label + suffix, "ok" if state != "NOT_DELIVERED" else "refused")

"""A conformance report on one member of the mesh — meant for a tester's own system that takes a member's place:
what it sent and received, each refusal with its code, its contract violations, its answers slower than the
synchronous deadline or the regulation's term, and for each case it provided the status notices missing or out of
order (docs/conformance.md).

Read from what the mesh already keeps, as the kit reads it: the gateway's decisions in the journal (every message
from or to the member, with the refusal's code and the payload as opened), the gateway's delivery rows (what the
member never receipted), its registry entry (the district it serves) and, for the employment services, the
regulation's term on the Kazakh working calendar. The gateway judged every message; this report only gathers and
names what it judged — a message the mesh accepted is never called a violation here.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from typing import TYPE_CHECKING, Any

from services.mio_workstation.domain import term_due
from shared.employment.regulations import RegulationBook
from shared.working_calendar import WorkingCalendar

if TYPE_CHECKING:
    from meshkit.sdk import Mesh

# Refusals that say the member broke the message contract (its shape, its addressing, its answers), as against its
# trust (signature, certificate) or rights (access): docs/messages.md lists them all.
CONTRACT_CODES = frozenset({
    "Client.InvalidEnvelope", "Client.InvalidPayload", "Client.InvalidReceipt", "Client.InvalidReply",
    "Client.MessageIdMismatch", "Client.RecipientRequired", "Client.RecipientMismatch", "Client.ReplyToRequired",
    "Client.InReplyToRequired", "Client.UnknownRequest", "Client.ServiceMismatch", "Client.NotEncrypted",
    "Client.UnknownService", "Client.WrongRecipient", "Client.DuplicateResponse"})
# The gateway's own verdicts that an answer came too late or not at all.
LATE_CODES = frozenset({"Server.LateResponse", "Server.Timeout", "Server.NotDelivered"})
RANK = {"RECEIVED": 1, "IN_PROGRESS": 2, "COMPLETED": 3, "REFUSED": 3, "NOT_ACCEPTED": 3}
FINAL = ("COMPLETED", "REFUSED", "NOT_ACCEPTED")
CHANNELS = {"portal": "portal", "con": "con"}
JOURNAL_LIMIT = 1000
RECEIPT_SERVICE = "shep.delivery-receipt"  # a member's acknowledgement of a delivery, not one of its messages


def _at(value: Any) -> dt.datetime | None:
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _brief(entry: dict[str, Any]) -> dict[str, Any]:
    keep = ("meshAt", "messageId", "correlationId", "serviceId", "messageType", "sender", "recipient", "code",
            "reason")
    return {key: entry.get(key) for key in keep if entry.get(key) is not None}


def member_report(mesh: Mesh, member: str) -> dict[str, Any]:
    """The report on ``member`` (its id in the registry) over what the mesh holds of it now."""
    members = {m["id"]: m for m in mesh.http.get(f"{mesh.info.gateway}/members").json().get("members", [])}
    if member not in members:
        from meshkit.sdk import KitError

        raise KitError(code="MEMBER_NOT_FOUND", status=404, message=f"no member {member} in the gateway's registry")
    everything = mesh.journal_kit.find(limit=JOURNAL_LIMIT, kind="envelope", member=member)
    entries = [e for e in everything if e.get("serviceId") != RECEIPT_SERVICE]  # receipts are counted apart
    receipts = [e for e in everything if e.get("serviceId") == RECEIPT_SERVICE and e.get("sender") == member]
    # a redelivered message is acknowledged again (delivery is at least once): counted once per message
    acknowledged = {e.get("inReplyTo") or e.get("messageId") for e in receipts}
    sent = [e for e in entries if e.get("sender") == member]
    received = [e for e in entries if e.get("recipient") == member and e.get("outcome") == "routed"]
    refusals = [_brief(e) for e in sent if e.get("outcome") == "refused"]
    deliveries = [d for d in mesh.http.get(f"{mesh.info.gateway}/deliveries", params={"limit": 1000},
                                           headers=mesh._admin).json().get("deliveries", [])
                  if d.get("recipient") == member]
    cases = _cases(mesh, member, district=members[member].get("district"), sent=sent, received=received)
    report: dict[str, Any] = {
        "member": member,
        "sent": {"total": len(sent), "byOutcome": dict(Counter(str(e.get("outcome")) for e in sent)),
                 "byType": dict(Counter(str(e.get("messageType")) for e in sent))},
        "received": {"total": len(received), "byType": dict(Counter(str(e.get("messageType")) for e in received)),
                     "deliveries": dict(Counter(str(d.get("state")) for d in deliveries)),
                     "receiptsSent": len(acknowledged), "receiptsRepeated": len(receipts) - len(acknowledged)},
        "refusals": refusals,
        "contractViolations": [r for r in refusals if r.get("code") in CONTRACT_CODES],
        "late": [r for r in refusals if r.get("code") in LATE_CODES] + [
            {"messageId": d["messageId"], "serviceId": d.get("serviceId"), "code": "Server.NotDelivered",
             "reason": f"no receipt from {member} after {d.get('attempts')} attempts"}
            for d in deliveries if d.get("state") == "NOT_DELIVERED"],
        "cases": cases,
        "journalLimit": JOURNAL_LIMIT,
    }
    report["problems"] = (len(report["refusals"]) + len(report["late"])
                          + sum(bool(c["missing"] or c["outOfOrder"] or c["overTerm"]) for c in cases))
    report["verdict"] = "conforms" if report["problems"] == 0 else "does not conform"
    return report


def _cases(mesh: Mesh, member: str, *, district: str | None, sent: list[dict[str, Any]],
           received: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each case the member provided (a REQUEST routed to it): the statuses it notified, in the order the gateway
    took them, what is missing or out of order, and — for an employment service — whether it ended within the
    regulation's term."""
    book, calendar, now = RegulationBook.load(), WorkingCalendar(), mesh.now()
    out = []
    for request in (e for e in received if e.get("messageType") == "REQUEST"):
        cid = request.get("correlationId")
        notices = [e for e in sent if e.get("correlationId") == cid and e.get("messageType") == "NOTIFICATION"
                   and e.get("outcome") == "routed" and isinstance(e.get("payload"), dict)]
        # Each member told of the case (the applicant's system, ИС ЦОН where the seed has it hear) hears the
        # statuses in order, none missing: judged per recipient
        # In the order the member stamped them (a notice's own "at"; else the order the gateway took them): two
        # notices sent together may reach the gateway either way round — that is the mesh's doing, not the member's
        notices.sort(key=lambda n: str(n["payload"].get("at") or n.get("meshAt") or ""))
        heard: dict[str, list[str]] = {}
        for notice in notices:
            heard.setdefault(str(notice.get("recipient")), []).append(str(notice["payload"].get("status")))
        missing, out_of_order = [], False
        for recipient, statuses in heard.items():
            missing += [f"{status} to {recipient}" for status in _missing(statuses)]
            ranks = [RANK.get(status, 0) for status in statuses]
            out_of_order |= any(b < a for a, b in itertools.pairwise(ranks))
        if not heard:
            missing.append("RECEIVED")
        applicant = heard.get(str(request.get("sender")), next(iter(heard.values()), []))
        final = next((status for status in applicant if status in FINAL), None)
        ended = next((_at(n.get("meshAt")) for n in notices if n["payload"].get("status") in FINAL), None)
        service = str(request.get("serviceId"))
        due = _term_due(book, calendar, district=district, service=service,
                        channel=CHANNELS.get(str(request.get("sender"))), accepted=_at(request.get("meshAt")))
        out.append({"correlationId": cid, "serviceId": service, "requestedAt": request.get("meshAt"),
                    "requestedBy": request.get("sender"), "statuses": applicant, "heard": heard, "final": final,
                    "missing": missing, "outOfOrder": out_of_order, "termDue": due.isoformat() if due else None,
                    "overTerm": due is not None and (ended or now) > due})  # ended late, or open past its term
    return out


def _missing(statuses: list[str]) -> list[str]:
    """«Поступившие» first — unless the application was not accepted at all (then that is the one notice) — and
    «В работе» before a decision."""
    missing = [] if "RECEIVED" in statuses or statuses[:1] == ["NOT_ACCEPTED"] else ["RECEIVED"]
    if any(status in ("COMPLETED", "REFUSED") for status in statuses) and "IN_PROGRESS" not in statuses:
        missing.append("IN_PROGRESS")
    return missing


def _term_due(book: RegulationBook, calendar: WorkingCalendar, *, district: str | None, service: str,
              channel: str | None, accepted: dt.datetime | None) -> dt.datetime | None:
    """The regulation's term for an employment service the member provides for a district (None: no term, or not
    one of the regulations)."""
    if not (district and channel and accepted and service.startswith("employment.")):
        return None
    regulation = book.find(district=district, service=service, channel=channel)
    return term_due(accepted=accepted, term=regulation.term, calendar=calendar) if regulation else None


def summary(report: dict[str, Any]) -> str:
    """The report as a person reads it."""
    lines = [f"{report['member']}: {report['verdict']} ({report['problems']} problem(s))",
             f"  sent {report['sent']['total']} {report['sent']['byOutcome']}, received {report['received']['total']}"
             f" {report['received']['byType']}, deliveries {report['received']['deliveries']}"]
    for refusal in report["refusals"]:
        kind = "contract" if refusal in report["contractViolations"] else "refused"
        lines.append(f"  {kind}: {refusal.get('code')} {refusal.get('serviceId')} {refusal.get('messageType')} — "
                     f"{refusal.get('reason', '')}")
    for late in report["late"]:
        if late not in report["refusals"]:
            lines.append(f"  late: {late.get('code')} {late.get('serviceId')} — {late.get('reason', '')}")
    for case in report["cases"]:
        flags = ([f"missing {', '.join(case['missing'])}"] if case["missing"] else []) + \
            (["out of order"] if case["outOfOrder"] else []) + \
            ([f"past its term ({case['termDue']})"] if case["overTerm"] else [])
        lines.append(f"  case {case['correlationId']} {case['serviceId']}: {' → '.join(case['statuses']) or '—'}"
                     f"{'  ✗ ' + '; '.join(flags) if flags else '  ✓'}")
    return "\n".join(lines) + "\n"

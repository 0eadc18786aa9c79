"""Fault injection on the gateway's pipeline (issue 20; docs/chaos.md), each kind fired where the mesh's own machinery
still keeps its promise:

- on a message entering (``ingress``, before the signature is checked): ``corrupt-signature`` (a byte of the
  signature changed), ``tamper-payload`` (the data changed after it was signed) — the gateway's own checks then refuse
  it (``Client.InvalidSignature``, ``Client.SignatureContentMismatch``), logged, dead-lettered, its sender told, nothing
  delivered; ``error`` — refused with the given ``Server.*`` code, the same way;
- on a delivery leaving for its recipient (``ChaosBus``: after it was logged and tracked ON_DELIVERY): ``drop`` (not
  published: no receipt comes, so the receipt timeout delivers it again, or it ends NOT_DELIVERED and dead-lettered
  with its reason), ``duplicate`` (published twice: the member's inbox applies it once), ``delay`` and ``slow``
  (published later), ``reorder`` (held back until the recipient's next delivery has passed it, at most ``holdMs``),
  ``down`` (held while the rule lasts, the redelivery watch told the member is down so that no attempt counts, then
  published in order when the rule ends).

What is held or delayed lives in this process only: a gateway restarted meanwhile loses it, and the delivery's row,
still ON_DELIVERY, is delivered again by the receipt timeout — a fault never takes a message out of the gateway's
accounting. ``GatewayChaos`` is the admin side: rules for the pipeline checked against the registry, rules for a
service's HTTP edge passed on to that service.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from services.shep_gateway.domain import Refusal, Registry
from services.shep_gateway.usecases.examined import Examined
from shared.error_catalogue import CATALOGUE
from shared.errors import MeshError
from shared.logging import get_logger
from shared.mesh.bus import Bus, ForwardingBus, OutgoingMessage
from shared.mesh.chaos import (
    DELIVERY_KINDS,
    EDGE_PREFIX,
    GATEWAY,
    GATEWAY_MATCH,
    INGRESS_KINDS,
    KINDS,
    ChaosBook,
    Rule,
    RuleIn,
    check_error_code,
    check_place,
    matches,
    parse_rule,
)
from shared.mesh.envelope import MessageType, ParsedEnvelope
from shared.mesh.receipts import RECEIPT_SERVICE
from shared.mesh.topology import DELIVERY_EXCHANGE, H_RECIPIENT
from shared.web.chaos_http import EdgeChaos
from shared.web.journal_http import Peer

log = get_logger(__name__)
NOTES = 20_000
"""Messages whose sender, service and type the pipeline remembers from their ingress, to match their deliveries by:
the delivery's body is encrypted for its recipient, and only its headers say where it goes."""


@dataclass
class Outgoing:
    exchange: str
    routing_key: str
    message: OutgoingMessage
    mandatory: bool


@dataclass
class _Reordered:
    rule: Rule
    outgoing: Outgoing
    timer: asyncio.TimerHandle


class PipelineFaults:
    """The pipeline's side of the rules at ``gateway`` (``book``, set once the app has its journal)."""

    def __init__(self) -> None:
        self.book: ChaosBook | None = None
        self._notes: OrderedDict[str, dict[str, str | None]] = OrderedDict()
        self._held: dict[str, list[Outgoing]] = {}  # a down rule's deliveries, in order
        self._reordered: dict[str, _Reordered] = {}  # by recipient: the delivery the next one is to pass
        self._tasks: set[asyncio.Task[None]] = set()
        self.inner: Bus | None = None  # the real connection (``ChaosBus``)

    def attach(self, book: ChaosBook) -> None:
        self.book = book
        book.on_end.append(self._ended)

    # ---- ingress --------------------------------------------------------------------------------------------
    def ingress(self, item: Examined) -> Refusal | None:
        """A message as it was opened, before its signature is checked: remembered for its deliveries, and altered
        or refused when a rule fires on it."""
        assert item.parsed is not None
        env = item.parsed.envelope
        facts: dict[str, str | None] = {"sender": env.sender, "recipient": env.recipient,
                                        "serviceId": env.service_id, "messageType": env.message_type.value,
                                        "correlationId": env.correlation_id}
        self._notes[item.message_id] = facts
        while len(self._notes) > NOTES:
            self._notes.popitem(last=False)
        rule = self._firing(INGRESS_KINDS, facts)
        if rule is None:
            return None
        ids = {"messageId": item.message_id, **facts}
        if rule.kind == "error":
            code = str(rule.spec.fault.code)
            self._book().record(rule, stage="ingress", reason=f"refused {code}", code=code, **ids)
            return Refusal(code, f"injected fault: rule {rule.id} refused this message")
        raw = dict(item.parsed.raw)
        if rule.kind == "corrupt-signature":
            raw["signature"] = _corrupted(str(raw.get("signature", "")))
            reason = "a byte of the signature changed"
        else:
            data = raw.get("data")
            raw["data"] = {**data, "tamperedBy": rule.id} if isinstance(data, dict) else {"tamperedBy": rule.id}
            reason = "the data changed after it was signed"
        envelope = env.model_copy(update={"signature": raw.get("signature"), "data": raw["data"]})
        item.parsed = ParsedEnvelope(envelope=envelope, raw=raw)
        item.checks["fault"] = {"ruleId": rule.id, "kind": rule.kind}
        self._book().record(rule, stage="ingress", reason=reason, **ids)
        return None

    # ---- deliveries -----------------------------------------------------------------------------------------
    async def publish(self, bus: Bus, out: Outgoing) -> None:
        """Publish ``out`` through ``bus``, or do to it what a rule that fires on it says."""
        message = out.message
        recipient = message.headers.get(H_RECIPIENT) or (
            out.routing_key if out.exchange == DELIVERY_EXCHANGE else None)
        if self.book is None or not self.book.rules() or recipient is None or out.exchange not in (
                DELIVERY_EXCHANGE, ""):
            await bus.publish(exchange=out.exchange, routing_key=out.routing_key, message=message,
                              mandatory=out.mandatory)
            return
        note = self._notes.get(message.message_id or "", {})
        facts = {**note, "recipient": str(recipient),
                 "correlationId": message.correlation_id or note.get("correlationId")}
        earlier = self._reordered.get(str(recipient))
        if earlier is not None and earlier.outgoing.message.message_id == message.message_id:
            earlier.outgoing = out  # the held delivery made again (its receipt timeout): it is not what passes it
            self._note(earlier, str(recipient), outcome="held", reason="made again while held back: it stays held")
            return
        rule = self._firing(DELIVERY_KINDS, facts)
        earlier = self._reordered.pop(str(recipient), None)
        try:
            if rule is None:
                await bus.publish(exchange=out.exchange, routing_key=out.routing_key, message=message,
                                  mandatory=out.mandatory)
            else:
                await self._fire(rule, bus, out, facts={**facts, "messageId": message.message_id})
        finally:
            if earlier is not None:  # the delivery held back for this one to pass it: it goes now, after it
                earlier.timer.cancel()
                self._note(earlier, str(recipient), outcome="released", passedBy=message.message_id,
                           reason=f"published after {message.message_id}, which passed it")
                await self._send(bus, earlier.outgoing)

    async def _fire(self, rule: Rule, bus: Bus, out: Outgoing, *, facts: dict[str, Any]) -> None:
        kind, book = rule.kind, self._book()
        if kind == "drop":
            book.record(rule, stage="delivery", reason="not published: its receipt timeout delivers it again",
                        **facts)
        elif kind == "duplicate":
            book.record(rule, stage="delivery", reason="published twice", **facts)
            await bus.publish(exchange=out.exchange, routing_key=out.routing_key, message=out.message,
                              mandatory=out.mandatory)
            await bus.publish(exchange=out.exchange, routing_key=out.routing_key, message=out.message,
                              mandatory=out.mandatory)
        elif kind in ("delay", "slow"):
            held = rule.delay_s()
            book.record(rule, stage="delivery", reason=f"published {held * 1000:.0f} ms late", **facts)
            self._spawn(self._later(held, bus, out))
        elif kind == "reorder":
            hold = rule.delay_s()
            book.record(rule, stage="delivery", reason=f"held back for the next delivery to {facts['recipient']} "
                        f"to pass it (at most {hold * 1000:.0f} ms)", **facts)
            recipient = str(facts["recipient"])
            timer = asyncio.get_running_loop().call_later(hold, self._release_reordered, recipient, bus)
            self._reordered[recipient] = _Reordered(rule=rule, outgoing=out, timer=timer)
        else:  # down
            queued = self._held.setdefault(rule.id, [])
            queued[:] = [h for h in queued if h.message.message_id != out.message.message_id] + [out]
            book.record(rule, stage="delivery", reason=f"{facts['recipient']} is down: held ({len(queued)} now)",
                        **facts)

    def down_reason(self, recipient: str) -> str | None:
        """Why ``recipient``'s deliveries cannot have been taken (the redelivery watch counts no attempt): a down
        rule for it is in place."""
        if self.book is None:
            return None
        for rule in self.book.rules():
            if rule.spec.where == GATEWAY and rule.kind == "down" and rule.active and matches(
                    {k: v for k, v in rule.spec.match.given().items() if k in ("recipient", "district")},
                    {"recipient": recipient}):
                return f"injected fault: rule {rule.id} has {recipient} down"
        return None

    def held(self, rule_id: str) -> int:
        return len(self._held.get(rule_id, []))

    def started(self, rule: Rule) -> None:
        """A rule just put in place: one with ``forS`` is told when it ends (a down member comes back then)."""
        if rule.spec.for_s is not None:
            asyncio.get_running_loop().call_later(rule.spec.for_s + 0.01, self._book().ended, rule)

    def _ended(self, rule: Rule) -> None:
        if rule.kind == "down" and not rule.active and rule.id in self._held and self.inner is not None:
            held = self._held.pop(rule.id)
            log.info("chaos_member_back", rule=rule.id, deliveries=len(held))
            self._spawn(self._send_all(self.inner, held))

    async def _send_all(self, bus: Bus, held: Sequence[Outgoing]) -> None:
        for out in held:
            await self._send(bus, out)

    async def _later(self, delay_s: float, bus: Bus, out: Outgoing) -> None:
        await asyncio.sleep(delay_s)
        await self._send(bus, out)

    def _release_reordered(self, recipient: str, bus: Bus) -> None:
        held = self._reordered.pop(recipient, None)
        if held is not None:
            self._note(held, recipient, outcome="released", reason="holdMs ran out before another delivery came")
            self._spawn(self._send(bus, held.outgoing))

    def _note(self, held: _Reordered, recipient: str, *, outcome: str, reason: str, **fields: Any) -> None:
        """The journal's word on a delivery a reorder holds (kind ``fault``, the rule's id): ``held`` — made again
        meanwhile, still held; ``released`` — published now, ``passedBy`` the delivery that went first (none:
        ``holdMs`` ran out) — what a tester asserts the order against."""
        rule = held.rule
        self._book().journal.record("fault", ruleId=rule.id, fault=rule.kind, where=rule.spec.where, stage="delivery",
                                    outcome=outcome, reason=reason, recipient=recipient,
                                    messageId=held.outgoing.message.message_id, **fields)

    @staticmethod
    async def _send(bus: Bus, out: Outgoing) -> None:
        """A delivery a fault held, sent at last; one the broker refuses now is left to the receipt timeout (its
        row is ON_DELIVERY) or, an answer on a reply queue, to the caller's deadline."""
        try:
            await bus.publish(exchange=out.exchange, routing_key=out.routing_key, message=out.message,
                              mandatory=out.mandatory)
        except Exception as exc:  # logged; the delivery's own accounting covers it
            log.warning("chaos_late_publish_failed", message_id=out.message.message_id, error=str(exc)[:200])

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    def _firing(self, kinds: frozenset[str], facts: dict[str, str | None]) -> Rule | None:
        """The rule firing on ``facts``; a receipt only to a rule that names the receipt service (a rule on a
        member's messages is not meant for the receipts it sends the gateway)."""
        book = self._book()
        if not book.rules():
            return None
        return book.firing(where=GATEWAY, kinds=kinds, facts=facts,
                           explicit={"serviceId": RECEIPT_SERVICE} if facts.get("serviceId") == RECEIPT_SERVICE
                           else None)

    def _book(self) -> ChaosBook:
        assert self.book is not None
        return self.book


def _corrupted(signature: str) -> str:
    """The signature with its last byte changed — inside the signature value, so the CMS structure still parses and
    the mathematics fails."""
    try:
        raw = bytearray(base64.b64decode(signature, validate=True))
    except ValueError:
        return signature[::-1]
    if not raw:
        return "AA=="
    raw[-1] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


class ChaosBus(ForwardingBus):
    """The gateway's connection with the pipeline's faults on what it publishes to members; everything else is the
    connection's own."""

    def __init__(self, inner: Bus, faults: PipelineFaults) -> None:
        super().__init__(inner)
        self._faults = faults
        faults.inner = inner

    async def publish(self, *, exchange: str, routing_key: str, message: OutgoingMessage,
                      mandatory: bool = True) -> None:
        await self._faults.publish(self._inner, Outgoing(exchange=exchange, routing_key=routing_key, message=message,
                                                         mandatory=mandatory))

    async def close(self) -> None:
        await self._faults.stop()
        await self._inner.close()


class GatewayChaos:
    """The admin side on the gateway (``ChaosAdmin``): rules for its pipeline (checked against the registry), for
    its own HTTP edge, and for every other service's edge — passed on to that service, whose edge fires them."""

    def __init__(self, *, book: ChaosBook, faults: PipelineFaults, edge: EdgeChaos, registry: Callable[[], Registry],
                 peers: list[Peer], http: httpx.AsyncClient, token: Callable[[], str]) -> None:
        self._book = book
        self._faults = faults
        self._edge = edge
        self._registry = registry
        self._peers = {peer.name: peer for peer in peers}
        self._http = http
        self._token = token

    def check(self, rule: RuleIn) -> None:
        """A pipeline rule names only what the registry knows, and a kind and fields the pipeline has."""
        check_place(rule, kinds=frozenset(KINDS), fields=GATEWAY_MATCH, where=GATEWAY)
        check_error_code(rule.fault, catalogue=CATALOGUE, edge=False)
        registry, match = self._registry(), rule.match
        unknown = [f"{what} {name!r}" for what, name, known in (
            ("member", match.sender, registry.members), ("member", match.recipient, registry.members),
            ("service", match.service_id, {**registry.services, RECEIPT_SERVICE: None}),
            ("message type", match.message_type, {t.value for t in MessageType}),
            ("district", match.district, {m.district for m in registry.members.values() if m.district}))
            if name is not None and name not in known]
        if unknown:
            raise MeshError("CHAOS_RULE_MATCHES_NOTHING", f"the registry has no {', '.join(unknown)}: the rule could "
                            "never fire", details={"unknown": unknown})
        if rule.fault.kind in ("down", "slow") and match.recipient is None and match.district is None:
            raise MeshError("CHAOS_RULE_INVALID", f"{rule.fault.kind} is a member's: match its recipient or district")

    async def add(self, raw: dict[str, Any]) -> dict[str, Any]:
        rule = parse_rule(raw)
        if rule.where == GATEWAY:
            self.check(rule)
            added = self._book.add(rule)
            self._faults.started(added)
            return self._summary(added)
        if rule.where == self._edge.where:
            return await self._edge.add(raw)
        peer = self._peers.get(rule.where.removeprefix(EDGE_PREFIX)) if rule.where.startswith(EDGE_PREFIX) else None
        if peer is None:
            raise MeshError("CHAOS_RULE_MATCHES_NOTHING", f"{rule.where!r} is no place of this mesh: gateway, or "
                            f"http:<service> for {', '.join(sorted([*self._peers, 'shep_gateway']))}")
        answer: dict[str, Any] = await self._ask(peer, "POST", "/rules", json=raw)
        return answer

    async def rules(self) -> list[dict[str, Any]]:
        found = [self._summary(rule) for rule in self._book.rules()]
        for peer in self._peers.values():
            with contextlib.suppress(MeshError):  # a service that is down has no edge to fault now
                found.extend((await self._ask(peer, "GET", "/rules"))["rules"])
        return found

    async def remove(self, rule_id: str) -> dict[str, Any]:
        if self._book.get(rule_id) is not None:
            return self._summary(self._book.remove(rule_id))
        for peer in self._peers.values():
            try:
                answer: dict[str, Any] = await self._ask(peer, "DELETE", f"/rules/{rule_id}")
            except MeshError as exc:
                if exc.code in ("CHAOS_RULE_NOT_FOUND", "CHAOS_PEER_UNREACHABLE"):
                    continue
                raise
            return answer
        raise MeshError("CHAOS_RULE_NOT_FOUND", f"no fault-injection rule {rule_id!r} here or at any service")

    async def clear(self) -> list[dict[str, Any]]:
        removed = [self._summary(rule) for rule in self._book.clear()]
        for peer in self._peers.values():
            with contextlib.suppress(MeshError):
                removed.extend((await self._ask(peer, "DELETE", "/rules"))["rules"])
        return removed

    def _summary(self, rule: Rule) -> dict[str, Any]:
        return rule.summary() | ({"held": self._faults.held(rule.id)} if rule.kind == "down" else {})

    async def _ask(self, peer: Peer, method: str, path: str, *, json: Any = None) -> dict[str, Any]:
        """A service's own chaos routes, with the admin token; its refusal passed on under its own code."""
        try:
            reply = await self._http.request(method, f"{peer.url.rstrip('/')}/admin/chaos{path}", json=json,
                                             headers={"Authorization": f"Bearer {self._token()}"}, timeout=10.0)
        except httpx.HTTPError as exc:
            raise MeshError("CHAOS_PEER_UNREACHABLE", f"{peer.name} did not answer: {type(exc).__name__}") from None
        body = reply.json() if reply.headers.get("content-type", "").startswith("application/json") else {}
        if reply.status_code >= 400:
            code = body.get("code") if isinstance(body, dict) else None
            if code in CATALOGUE and str(code).startswith("CHAOS_"):
                raise MeshError(str(code), str(body.get("message")), details=body.get("details"))
            raise MeshError("CHAOS_PEER_UNREACHABLE", f"{peer.name} answered {reply.status_code}")
        answer: dict[str, Any] = body
        return answer

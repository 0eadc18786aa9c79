"""The journal's HTTP side: every request and answer at a service's edge recorded (``JournalEdge``), HTTP refusals
logged without personal data, and the admin routes that query and wait on the journal (``journal_router``) — on each
service for its own part, on the gateway for the whole mesh (its own journal merged with each service's, reached by
the URLs the gateway knows: ``JournalSources``).

A refusal's log line says code, route (its template, never the path: a path can hold an IIN), status and
correlationId; the journal keeps the request and the answer themselves, secrets blanked
(``shared.mesh.journal.without_secrets``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import httpx
import orjson
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from shared.errors import MeshError
from shared.logging import get_logger, message_context
from shared.mesh.journal import (
    FILTERS,
    MAX_WAIT_S,
    Journal,
    nearest_misses,
    sort_key,
    unknown_filters,
    unmatched_of,
)
from shared.mesh.journal import (
    Query as JournalQuery,
)
from shared.mesh.journal_store import UNSAVED_MAX
from shared.web.models import CamelModel
from shared.web.openapi_errors import error_responses, raises

log = get_logger(__name__)

# Polled, the journal's own, and the tooling that resets or restores the mesh's state (a reset empties the journal:
# its own request would be the one entry left)
UNJOURNALLED = ("/health", "/ready", "/metrics", "/admin/journal", "/openapi.json", "/docs", "/redoc",
                "/admin/mesh/reset", "/admin/state/", "/admin/snapshots")
MAX_LIMIT = 1000
CONTROLS = {"find": ("limit",), "count": (), "unmatched": ("limit",), "wait": ("timeoutS", "atLeast", "limit")}


# ---- recording the edge ----------------------------------------------------------------------------------------
CAPTURE_BYTES = 1024 * 1024
"""The most of a body read for the journal: a larger one (an application with its copies) is journalled by its
size; below it, a JSON body is parsed and then bounded field by field (``Journal.payload_bytes``)."""


def _json_or_size(body: bytes, content_type: str, *, total: int) -> Any:
    if not total:
        return None
    if "json" in content_type and len(body) == total:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    return f"[{total} bytes {content_type or 'without a content type'}]"


class _Capture:
    """What one exchange carried: the request's body and the answer's start and body, as far as the journal reads
    them (``CAPTURE_BYTES`` each; the rest is counted, not kept)."""

    def __init__(self) -> None:
        self.request = bytearray()
        self.request_bytes = 0
        self.response = bytearray()
        self.response_bytes = 0
        self.status: int | None = None
        self.response_type = ""

    def took(self, chunk: bytes) -> None:
        self.request_bytes += len(chunk)
        if len(self.request) < CAPTURE_BYTES:
            self.request += chunk[: CAPTURE_BYTES - len(self.request)]

    def gave(self, message: Any) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
            headers = dict(message.get("headers") or [])
            self.response_type = headers.get(b"content-type", b"").decode("latin-1")
        elif message["type"] == "http.response.body":
            chunk = message.get("body", b"")
            self.response_bytes += len(chunk)
            if len(self.response) < CAPTURE_BYTES:
                self.response += chunk[: CAPTURE_BYTES - len(self.response)]


class JournalEdge:
    """Every request a service answers goes into its journal with its answer (the polled /health, /ready, /metrics
    and the journal's own routes aside); every refusal (4xx, 5xx) is also logged — code, route, status,
    correlationId — so a tester finds it in the logs without the journal and without the personal data."""

    def __init__(self, app: Any, journal: Journal) -> None:
        self.app = app
        self.journal = journal

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or path.startswith(UNJOURNALLED):
            await self.app(scope, receive, send)
            return
        capture = _Capture()

        async def receiving() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                capture.took(message.get("body", b""))
            return message

        async def sending(message: Any) -> None:
            capture.gave(message)
            await send(message)

        began, started = time.time(), time.perf_counter()
        try:
            await self.app(scope, receiving, sending)
        finally:
            try:
                self._record(scope, capture, began=began, elapsed=time.perf_counter() - started)
            except Exception:  # the journal never fails a request it watches
                log.exception("journal_record_failed")

    def _record(self, scope: Any, capture: _Capture, *, began: float, elapsed: float) -> None:
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope.get("headers") or []}
        request = _json_or_size(bytes(capture.request), headers.get("content-type", "application/json"),
                                total=capture.request_bytes)
        answer = _json_or_size(bytes(capture.response), capture.response_type, total=capture.response_bytes)
        route = getattr(scope.get("route"), "path", None) or "unmatched"
        code = answer.get("code") if isinstance(answer, dict) and (capture.status or 500) >= 400 else None
        path_params = scope.get("path_params") or {}
        entry = self.journal.record(
            "http", payload={"request": request, "response": answer, "path": dict(path_params)}, began=began,
            method=str(scope.get("method", "")), route=route, status=capture.status, channel="http",
            outcome=_outcome(capture.status), code=code, durationMs=round(elapsed * 1000, 3),
            correlationId=headers.get("x-correlation-id"))
        if capture.status is None or capture.status >= 400:
            with message_context(correlation_id=entry.get("correlationId")):
                log.warning("http_refused", code=code, route=route, method=entry["method"], status=capture.status,
                            journal_seq=entry["seq"])


def _outcome(status: int | None) -> str:
    if status is None:
        return "unanswered"
    return "ok" if status < 400 else "refused" if status < 500 else "failed"


# ---- the answers ------------------------------------------------------------------------------------------------
class JournalEntryOut(CamelModel):
    """One entry: an HTTP exchange at a service's edge (``kind: http``), an envelope the gateway decided on (``kind:
    envelope``, its checks and outcome), or a delivery a member consumed (``kind: consumed``)."""

    seq: int = Field(description="its place in its service's journal")
    service: str = Field(description="the service that recorded it")
    kind: str
    at: str = Field(description="wall time (UTC)")
    mesh_at: str = Field(description="the mesh clock's time when it was recorded")
    at_ts: float
    mesh_at_ts: float
    correlation_id: str | None = None
    application_number: str | None = None
    iin: str | None = None
    sender: str | None = Field(default=None, description="the member that sent the envelope")
    recipient: str | None = None
    service_id: str | None = None
    message_type: str | None = None
    message_id: str | None = None
    in_reply_to: str | None = None
    channel: str | None = Field(default=None, description="http, async or sync")
    outcome: str | None = Field(default=None, description="http: ok, refused, failed, unanswered; an envelope: "
                                "routed, refused, parked; consumed; a fault: fired, or a reordered delivery "
                                "held (made again while held back) and released")
    code: str | None = None
    reason: str | None = None
    status: int | None = None
    method: str | None = None
    route: str | None = None
    duration_ms: float | None = None
    checks: dict[str, Any] | None = None
    payload: Any = None
    missed: list[str] | None = Field(default=None, description="a nearest miss: the filters it failed")
    unmatched: str | None = Field(default=None, description="why it is unmatched: no answer, not consumed, dead letter")
    rule_id: str | None = Field(default=None, description="a fired fault (kind fault): the rule that fired")
    fault: str | None = Field(default=None, description="a fired fault: its kind (delay, drop, …)")
    where: str | None = Field(default=None, description="a fired fault: gateway or http:<service>")
    stage: str | None = Field(default=None, description="a fired fault: ingress, delivery or edge")
    passed_by: str | None = Field(default=None, description="a reordered delivery released: the delivery that "
                                  "went first (none: holdMs ran out)")


class JournalSourceOut(CamelModel):
    service: str
    reachable: bool = True
    entries: int | None = None
    ring: int | None = None
    head: int | None = None
    dropped: int | None = None
    payload_bytes: int | None = None
    stored: int | None = Field(default=None, description="entries in its database behind the ring")
    rows: int | None = Field(default=None, description="the most entries its database keeps (the newest)")
    unsaved: int | None = Field(default=None, description="entries not yet written to its database")
    unsaved_dropped: int | None = Field(default=None, description="entries lost while the database could not be "
                                        f"written and more than {UNSAVED_MAX:,} waited")
    store_error: str | None = Field(default=None, description="why the database cannot be written now")
    error: str | None = None


class JournalPage(CamelModel):
    count: int = Field(description="entries matching (all of them, not only those shown)")
    truncated: bool = Field(description="more matched than `limit`: the newest are shown")
    entries: list[JournalEntryOut]
    sources: list[JournalSourceOut]


class JournalCount(CamelModel):
    count: int
    sources: list[JournalSourceOut]


class JournalWaitOut(CamelModel):
    """A wait's answer, 200 either way: ``matched`` with the entries, or (the time ran out) not, with the nearest
    misses — a timeout is an answer the tester asked for, not a fault."""

    matched: bool
    waited_s: float
    entries: list[JournalEntryOut]
    nearest_misses: list[JournalEntryOut]
    sources: list[JournalSourceOut]


# ---- where entries come from -----------------------------------------------------------------------------------
@dataclass
class Peer:
    name: str
    url: str


@dataclass
class Gathered:
    entries: list[dict[str, Any]] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    beyond: int = 0  # matching entries a peer counted but did not send (over its page's limit)

    @property
    def count(self) -> int:
        return len(self.entries) + self.beyond


@dataclass
class JournalSources:
    """The journals a query reads: this service's own and, on the gateway, each service's (``peers``) over HTTP
    with the admin token. A peer that does not answer is reported (``reachable: false``), not fatal."""

    journal: Journal
    peers: list[Peer] = field(default_factory=list)
    http: httpx.AsyncClient | None = None
    token: Callable[[], str] = lambda: ""

    async def gather(self, view: str, filters: dict[str, str]) -> Gathered:
        """``view`` find: the entries matching ``filters``; unmatched: those of them nobody answered or consumed —
        judged over every entry (a receipt has a correlation of its own; a delivery is consumed in another
        service's journal), then filtered."""
        query = JournalQuery(filters)
        if view == "find":
            out = Gathered(entries=await self.journal.find(query), sources=[self.journal.stats()])
            asked = [(peer, "find", filters) for peer in self.peers]
        else:
            out = Gathered(sources=[self.journal.stats()])
            asked = [(peer, "find", {"kind": "consumed"}) for peer in self.peers] + \
                [(peer, "unmatched", filters) for peer in self.peers]
        answers = await asyncio.gather(*(self._ask(peer, kind, wanted) for peer, kind, wanted in asked))
        consumed: list[dict[str, Any]] = []
        for (peer, kind, _wanted), answer in zip(asked, answers, strict=True):
            if isinstance(answer, str):
                if kind == "find":  # each peer reported once
                    out.sources.append({"service": peer.name, "reachable": False, "error": answer})
                continue
            if kind == "unmatched":
                out.entries.extend(answer["entries"])
                continue
            (out.entries if view == "find" else consumed).extend(answer["entries"])
            out.sources.extend(answer["sources"])
            if view == "find":
                out.beyond += int(answer.get("count", 0)) - len(answer["entries"])
        if view == "unmatched":
            out.entries.extend(e for e in unmatched_of(await self.journal.everything() + consumed)
                               if e.get("service") == self.journal.service and query.matches(e))
        out.entries.sort(key=sort_key)
        return out

    async def clear(self) -> int:
        """Empty this service's journal and, on the gateway, every service's (a whole-mesh reset): how many entries
        went. A peer that does not answer keeps its entries, and says so in its log, not here."""
        cleared = await self.journal.clear()
        assert self.http is not None or not self.peers

        async def one(peer: Peer) -> int:
            assert self.http is not None
            try:
                reply = await self.http.delete(f"{peer.url.rstrip('/')}/admin/journal", timeout=10.0,
                                               headers={"Authorization": f"Bearer {self.token()}"})
            except httpx.HTTPError:
                return 0
            return int(reply.json().get("count", 0)) if reply.status_code == 200 else 0

        return cleared + sum(await asyncio.gather(*(one(peer) for peer in self.peers)))

    async def _ask(self, peer: Peer, view: str, filters: dict[str, str], *, timeout_s: float = 0.0,
                   ) -> dict[str, Any] | str:
        """A peer's answer, or why there is none."""
        assert self.http is not None
        path = {"find": "", "unmatched": "/unmatched", "wait": "/wait"}[view]
        params = {**filters, "limit": str(MAX_LIMIT)} | ({"timeoutS": str(timeout_s)} if view == "wait" else {})
        try:
            reply = await self.http.get(f"{peer.url.rstrip('/')}/admin/journal{path}", params=params,
                                        headers={"Authorization": f"Bearer {self.token()}"},
                                        timeout=timeout_s + 10.0)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if reply.status_code != 200:
            return f"answered {reply.status_code}: {reply.text[:200]}"
        answer: dict[str, Any] = reply.json()
        return answer

    async def wait(self, filters: dict[str, str], *, at_least: int, timeout_s: float) -> tuple[bool, Gathered]:
        """Until ``at_least`` entries match across the sources, or ``timeout_s``. Woken, not polling: by this
        service's next entry, or by a peer's long poll answering that one of its own that matches has landed."""
        deadline = time.monotonic() + timeout_s
        query = JournalQuery({key: value for key, value in filters.items() if key != "afterSeq"})
        while True:
            own_head = self.journal.head  # before gathering: what lands meanwhile wakes the next round at once
            found = await self.gather("find", filters)
            remaining = deadline - time.monotonic()
            if found.count >= at_least or remaining <= 0:
                return found.count >= at_least, found
            heads = {s["service"]: s.get("head") for s in found.sources}
            watches = [asyncio.ensure_future(self.journal.landed(query, after=own_head, timeout_s=remaining))] + [
                asyncio.ensure_future(self._watch(peer, filters, after=heads.get(peer.name), timeout_s=remaining))
                for peer in self.peers]
            try:
                await asyncio.wait(watches, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for watch in watches:
                    watch.cancel()

    async def _watch(self, peer: Peer, filters: dict[str, str], *, after: int | None, timeout_s: float) -> None:
        """Returns when ``peer`` has a new matching entry; a peer that cannot say (down) never wakes the wait."""
        answer = await self._ask(peer, "wait", {**filters, "afterSeq": str(after or 0)}, timeout_s=timeout_s)
        if isinstance(answer, str) or not answer.get("matched"):
            await asyncio.sleep(timeout_s)  # nothing to wake on: the wait's own deadline ends it

    async def misses(self, filters: dict[str, str]) -> list[dict[str, Any]]:
        query = JournalQuery(filters)
        candidates = nearest_misses(query, self.journal.entries())
        answers = await asyncio.gather(*(self._ask(peer, "wait", filters) for peer in self.peers))
        for answer in answers:
            if not isinstance(answer, str):
                candidates.extend(answer.get("nearestMisses", []))
        candidates.sort(key=lambda e: (len(e.get("missed", [])), -float(e.get("atTs", 0))))
        return candidates[:5]


# ---- the routes ------------------------------------------------------------------------------------------------
def _filters_of(view: str) -> Callable[[Request], dict[str, str]]:
    allowed = set(CONTROLS[view])

    @raises("JOURNAL_FILTER_UNKNOWN", "JOURNAL_FILTER_INVALID")
    def filters(request: Request) -> dict[str, str]:
        """The query's filters; an unknown one refused before anything is read (``JOURNAL_FILTER_UNKNOWN``)."""
        given = dict(request.query_params)
        unknown = [name for name in unknown_filters(given) if name not in allowed]
        if unknown:
            raise MeshError("JOURNAL_FILTER_UNKNOWN", f"unknown journal filter(s): {', '.join(unknown)}; the filters "
                            f"are {', '.join(FILTERS)}", details={"unknown": unknown, "known": list(FILTERS)})
        chosen = {key: value for key, value in given.items() if key not in CONTROLS[view]}
        JournalQuery(chosen)  # a time or a cursor that does not parse: JOURNAL_FILTER_INVALID
        return chosen
    return filters


class FiltersIn(BaseModel):
    """The journal's filters, all optional, all combined (AND); any other query parameter is refused (by
    ``_filters_of``, with its own code: this model only documents them in the OpenAPI)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    correlation_id: str | None = None
    application_number: str | None = None
    iin: str | None = None
    service: str | None = Field(default=None, description="the service that recorded the entry (portal, …)")
    service_id: str | None = Field(default=None, description="the mesh service of an envelope")
    message_type: str | None = Field(default=None, description="REQUEST, RESPONSE, NOTIFICATION, ERROR")
    message_id: str | None = None
    in_reply_to: str | None = Field(default=None, description="an envelope answering (or receipting) this message id")
    sender: str | None = None
    recipient: str | None = None
    channel: str | None = Field(default=None, description="http, async, sync")
    kind: str | None = Field(default=None, description="http, envelope, consumed, fault")
    outcome: str | None = None
    code: str | None = None
    route: str | None = Field(default=None, description="an HTTP route's template (/citizens/{iin})")
    method: str | None = None
    member: str | None = Field(default=None, description="the sender or the recipient")
    status: str | None = Field(default=None, description="an HTTP answer's status")
    contains: str | None = Field(default=None, description="a substring of the payload's JSON")
    since: str | None = Field(default=None, description="wall time, ISO 8601")
    until: str | None = None
    mesh_since: str | None = Field(default=None, description="mesh time, ISO 8601")
    mesh_until: str | None = None
    after_seq: str | None = Field(default=None, description="entries after this seq of one service's journal")
    rule_id: str | None = Field(default=None, description="a fired fault's rule")
    fault: str | None = Field(default=None, description="a fired fault's kind")
    # and payload.<dotted path>=<value>: a field of the payload (payload.status=COMPLETED)


def _page(found: Gathered, limit: int) -> JournalPage:
    shown = found.entries[-limit:]
    return JournalPage(count=found.count, truncated=found.count > limit,
                       entries=[JournalEntryOut.model_validate(e) for e in shown],
                       sources=[JournalSourceOut.model_validate(s) for s in found.sources])


WAIT_REFUSALS = ("JOURNAL_WAIT_TIMEOUT_MISSING", "JOURNAL_WAIT_TIMEOUT_TOO_LONG")


def sources_of(request: Request) -> JournalSources:
    """The journals this app's queries read (``app.state.journal_sources``: its own; on the gateway, every one)."""
    sources: JournalSources = request.app.state.journal_sources
    return sources


Sources = Annotated[JournalSources, Depends(sources_of)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="at most this many entries, the newest")]
filter_doc = Annotated[FiltersIn, Query()]


def journal_router(*, admin: Any) -> APIRouter:
    """``/admin/journal`` (find), ``/count``, ``/unmatched`` and ``/wait`` (long poll), behind the admin token
    (``admin``: the service's admin dependency)."""
    router = APIRouter(prefix="/admin/journal", tags=["journal"], dependencies=[Depends(admin)])

    @router.get("", response_model=JournalPage, response_model_exclude_none=True,
                summary="Journal entries matching the filters (every HTTP exchange, envelope and consumed delivery)")
    async def find(sources: Sources, filters: Annotated[dict[str, str], Depends(_filters_of("find"))],
                   _doc: filter_doc, limit: Limit = 200) -> JournalPage:
        return _page(await sources.gather("find", filters), limit)

    @router.delete("", response_model=JournalCount,
                   summary="Empty the journal (on the gateway: every service's); a whole-mesh reset does it too")
    async def clear(sources: Sources) -> JournalCount:
        cleared = await sources.clear()
        return JournalCount(count=cleared, sources=[JournalSourceOut.model_validate(sources.journal.stats())])

    @router.get("/count", response_model=JournalCount, summary="How many entries match the filters")
    async def count(sources: Sources, filters: Annotated[dict[str, str], Depends(_filters_of("count"))],
                    _doc: filter_doc) -> JournalCount:
        found = await sources.gather("find", filters)
        return JournalCount(count=found.count,
                            sources=[JournalSourceOut.model_validate(s) for s in found.sources])

    @router.get("/unmatched", response_model=JournalPage, response_model_exclude_none=True,
                summary="Requests nobody answered, deliveries nobody consumed, dead letters")
    async def unmatched(sources: Sources, filters: Annotated[dict[str, str], Depends(_filters_of("unmatched"))],
                        _doc: filter_doc, limit: Limit = 200) -> JournalPage:
        return _page(await sources.gather("unmatched", filters), limit)

    @router.get("/wait", response_model=JournalWaitOut, response_model_exclude_none=True,
                responses=error_responses(*WAIT_REFUSALS),
                summary="Wait until entries match (long poll): the entries, or on timeout the nearest misses")
    async def wait(sources: Sources, filters: Annotated[dict[str, str], Depends(_filters_of("wait"))],
                   _doc: filter_doc, limit: Limit = 200,
                   timeout_s: Annotated[float | None, Query(alias="timeoutS", ge=0, description=(
                       f"required: how long to wait, at most {MAX_WAIT_S:g} s (0: look once)"))] = None,
                   at_least: Annotated[int, Query(alias="atLeast", ge=1, le=MAX_LIMIT)] = 1) -> JournalWaitOut:
        if timeout_s is None:
            raise MeshError("JOURNAL_WAIT_TIMEOUT_MISSING", "a wait needs timeoutS (seconds, at most "
                            f"{MAX_WAIT_S:g}): a wait without one could block for ever")
        if timeout_s > MAX_WAIT_S:
            raise MeshError("JOURNAL_WAIT_TIMEOUT_TOO_LONG", f"timeoutS is at most {MAX_WAIT_S:g} s, not {timeout_s:g}")
        started = time.monotonic()
        matched, found = await sources.wait(filters, at_least=at_least, timeout_s=timeout_s)
        misses = [] if matched else await sources.misses(filters)
        return JournalWaitOut(matched=matched, waited_s=round(time.monotonic() - started, 3),
                              entries=[JournalEntryOut.model_validate(e) for e in found.entries[-limit:]],
                              nearest_misses=[JournalEntryOut.model_validate(e) for e in misses],
                              sources=[JournalSourceOut.model_validate(s) for s in found.sources])

    return router

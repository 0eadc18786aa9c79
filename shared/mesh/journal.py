"""The tester's journal of one process: every HTTP request and answer at its edge, every envelope the gateway decides
on, every delivery a member consumed — each with its payload as that process saw it and the checks it made — kept in a
bounded ring, queryable by the mesh's identifiers, and waited on.

It lives in ``mesh`` (not ``web``) because a member's runtime (``shared.mesh.member``) records what it consumed and
the gateway what it decided; the HTTP edge (``shared.web.journal_http``) records into the same journal. An entry is a
plain dict with camelCase keys, the wire's own spelling, so a query, a merge of several processes' answers and a
match are the same code everywhere.

Bounds, stated: at most ``ring`` entries a process in memory (the oldest go first; ``dropped`` counts them), the
newest ``rows`` of the service in its database behind the ring (``shared.mesh.journal_store``: what the ring no
longer holds, and what it held before a restart), and at most ``payload_bytes`` of each payload as JSON (a larger
one keeps its small fields and says how large the rest were).
Secrets (passwords, tokens, private keys) are never kept; personal data is — the journal is the mesh's inside view,
behind the admin token — and never reaches a log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from shared.clock import MeshClock
from shared.errors import MeshError
from shared.logging import get_logger
from shared.mesh.journal_store import UNSAVED_MAX, JournalStore, journal_url
from shared.mesh.receipts import RECEIPT_SERVICE
from shared.mesh.settings import ServiceSettings
from shared.mesh.topology import GATEWAY_ID

log = get_logger(__name__)

DEFAULT_RING = 5000
FLUSH_S = 0.5
"""How long the journal gathers entries before it writes them to its database in one transaction."""
DEFAULT_PAYLOAD_BYTES = 8192
MAX_WAIT_S = 300.0
"""The longest a wait-until may block (``timeoutS``): longer than any case the mesh settles in a test, shorter than
the HTTP clients' and proxies' idle limits a long poll crosses."""
NEAREST_MISSES = 5

# Fields a query filters on by equality, and where an entry keeps them (the same camelCase name).
EXACT_FILTERS = ("correlationId", "applicationNumber", "iin", "service", "serviceId", "messageType", "channel",
                 "kind", "outcome", "code", "route", "method", "messageId", "inReplyTo", "sender", "recipient",
                 "ruleId", "fault")  # the last two: a fired fault's rule and kind (shared.mesh.chaos)
# The others: member (sender or recipient), status (as text), contains (a substring of the payload), the time range
# on wall time and on the mesh clock, and afterSeq (a cursor into one process's journal).
OTHER_FILTERS = ("member", "status", "contains", "since", "until", "meshSince", "meshUntil", "afterSeq")
FILTERS = EXACT_FILTERS + OTHER_FILTERS
PAYLOAD_PREFIX = "payload."
"""``payload.status=COMPLETED``: a field of the payload by its dotted path (``payload.response.code`` in an HTTP
entry, whose payload is ``{request, response, path}``), compared as text."""


def unknown_filters(names: Iterable[str]) -> list[str]:
    return sorted(name for name in names if name not in FILTERS
                  and not (name.startswith(PAYLOAD_PREFIX) and len(name) > len(PAYLOAD_PREFIX)))


def _at_path(value: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value

_SECRET_PARTS = ("password", "token", "pkcs12", "privatekey", "private_key", "passphrase", "secret")
_SECRET_BYTES = tuple(part.encode() for part in _SECRET_PARTS)
_ID_KEYS = {"correlationId": "correlationId", "correlation_id": "correlationId",
            "applicationNumber": "applicationNumber", "application_number": "applicationNumber", "iin": "iin"}
_ID_COUNT = len(set(_ID_KEYS.values()))


def without_secrets(value: Any, *, depth: int = 0) -> Any:
    """``value`` with every key that names a secret blanked: the journal keeps what a tester needs to see (who,
    what, which IIN), never what would let them act as someone."""
    if depth > 64:
        return "[too deep]"
    if isinstance(value, dict):
        return {key: "[secret]" if any(part in str(key).lower() for part in _SECRET_PARTS)
                else without_secrets(item, depth=depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [without_secrets(item, depth=depth + 1) for item in value]
    return value


def kept_payload(value: Any, *, limit: int) -> Any:
    """What the journal keeps of a payload: without secrets (walked only when its JSON names one at all: most
    payloads do not, and the walk is the costly part), then ``bounded``."""
    raw = orjson.dumps(value, default=str)
    lowered = raw.lower()
    if any(part in lowered for part in _SECRET_BYTES):
        value = without_secrets(value)
        raw = orjson.dumps(value, default=str)
    return bounded(value, limit=limit, size=len(raw))


def bounded(value: Any, *, limit: int, size: int | None = None) -> Any:
    """``value`` if its JSON (``size`` bytes, when known) is at most ``limit`` bytes; otherwise an object's small
    fields kept and each large one replaced by ``"[N bytes]"`` (an attachment's bytes, a PDF), so the identifiers and
    statuses stay queryable."""
    size = len(orjson.dumps(value, default=str)) if size is None else size
    if size <= limit:
        return value
    if isinstance(value, dict):
        kept: dict[str, Any] = {}
        budget = limit
        for key, item in value.items():
            item_size = len(orjson.dumps(item, default=str))
            if item_size <= min(1024, budget):
                kept[key] = item
                budget -= item_size
            else:
                kept[key] = f"[{item_size} bytes]"
        return kept
    return f"[{size} bytes]"


def identifiers(*values: Any) -> dict[str, str]:
    """The correlation id, application number and IIN named anywhere in ``values`` (bodies, path parameters), the
    first found of each, nearest the top first: what the journal is queried by. At most 2000 objects are looked
    into."""
    found: dict[str, str] = {}
    queue = deque(values)
    seen = 0
    while queue and seen < 2000 and len(found) < _ID_COUNT:
        item = queue.popleft()
        seen += 1
        if isinstance(item, dict):
            for key, inner in item.items():
                name = _ID_KEYS.get(key) or ("iin" if isinstance(key, str) and key.endswith("Iin") else None)
                if name is not None and isinstance(inner, str | int) and name not in found and str(inner):
                    found[name] = str(inner)
                elif isinstance(inner, dict | list):
                    queue.append(inner)
        elif isinstance(item, list):
            queue.extend(item[:50])
    return found


def _json_spells_as_is(piece: str) -> bool:
    if piece.lstrip("-").isdigit():
        return True
    numeric = set("0123456789.-+eE")
    return not set(piece) <= numeric and not any(ch in piece for ch in '"\\{}[]\'') and all(
        ord(ch) >= 0x20 for ch in piece)


def _reason(exc: Exception) -> str:
    """Why the database refused, without the statement and its parameters (SQLAlchemy's message carries both, and
    the parameters are the entries: personal data)."""
    cause = getattr(exc, "orig", None) or exc
    return f"{type(cause).__name__}: {cause}"[:300]


def _parse_time(text: str, field: str) -> float:
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise MeshError("JOURNAL_FILTER_INVALID", f"{field}: {text!r} is not an ISO 8601 time") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


class Query:
    """The filters of one query, checked: a filter the journal does not know is refused (``JOURNAL_FILTER_UNKNOWN``),
    never ignored — a typo would otherwise widen the query to everything and a wait would match the first entry."""

    def __init__(self, filters: dict[str, str]) -> None:
        unknown = unknown_filters(filters)
        if unknown:
            raise MeshError("JOURNAL_FILTER_UNKNOWN", f"unknown journal filter(s): {', '.join(unknown)}; the "
                            f"filters are {', '.join(FILTERS)}", details={"unknown": unknown, "known": list(FILTERS)})
        self.filters = {key: value for key, value in filters.items() if value not in ("", None)}
        self._times: dict[str, float] = {key: _parse_time(self.filters[key], key)
                       for key in ("since", "until", "meshSince", "meshUntil") if key in self.filters}
        after = self.filters.get("afterSeq")
        if after is not None and not str(after).isdigit():
            raise MeshError("JOURNAL_FILTER_INVALID", f"afterSeq: {after!r} is not a sequence number")
        self._after = int(after) if after is not None else None

    @property
    def equal(self) -> dict[str, str]:
        """The equality filters (what a database narrows by)."""
        return {key: value for key, value in self.filters.items() if key in EXACT_FILTERS}

    @property
    def wall_range(self) -> tuple[float | None, float | None]:
        return self._times.get("since"), self._times.get("until")

    @property
    def mesh_range(self) -> tuple[float | None, float | None]:
        return self._times.get("meshSince"), self._times.get("meshUntil")

    @property
    def after_seq(self) -> int | None:
        return self._after

    @property
    def texts(self) -> list[str]:
        """Pieces of text any matching entry's JSON holds as they are: ``contains`` (a piece of the payload's JSON,
        which the entry's JSON holds verbatim), and each ``payload.`` value that JSON spells as Python's ``str``
        does (a plain string or an integer — not one JSON escapes, a container, a float or true/false/null)."""
        pieces = [value for key, value in self.filters.items() if key.startswith(PAYLOAD_PREFIX)]
        return [value for key, value in self.filters.items() if key == "contains"] + [
            piece for piece in pieces if piece not in ("True", "False", "None") and _json_spells_as_is(piece)]

    def misses(self, entry: dict[str, Any]) -> list[str]:
        """The filters ``entry`` fails (none: it matches)."""
        return [key for key in self.filters if not self._holds(key, entry)]

    def matches(self, entry: dict[str, Any]) -> bool:
        return all(self._holds(key, entry) for key in self.filters)

    def _holds(self, key: str, entry: dict[str, Any]) -> bool:
        wanted = self.filters[key]
        if key.startswith(PAYLOAD_PREFIX):
            found = _at_path(entry.get("payload"), key.removeprefix(PAYLOAD_PREFIX))
            return found is not None and str(found) == wanted
        if key in EXACT_FILTERS:
            return str(entry.get(key)) == wanted if entry.get(key) is not None else False
        if key == "member":
            return wanted in (entry.get("sender"), entry.get("recipient"))
        if key == "status":
            return str(entry.get("status")) == wanted
        if key == "contains":
            return wanted in orjson.dumps(entry.get("payload"), default=str).decode()
        if key == "afterSeq":
            return self._after is not None and int(entry.get("seq", 0)) > self._after
        moment = float(entry["atTs"] if key in ("since", "until") else entry["meshAtTs"])
        return moment >= self._times[key] if key in ("since", "meshSince") else moment <= self._times[key]


def nearest_misses(query: Query, entries: Iterable[dict[str, Any]], *, limit: int = NEAREST_MISSES) -> list[
        dict[str, Any]]:
    """The entries that came closest to ``query`` — fewest filters failed, newest first — each saying which
    filters it missed: what a wait saw instead of what it waited for."""
    scored = []
    for entry in entries:
        missed = query.misses(entry)
        if missed and len(missed) < len(query.filters):
            scored.append((len(missed), -float(entry.get("atTs", 0)), {**entry, "missed": missed}))
    scored.sort(key=lambda item: (item[0], item[1]))
    return [entry for _, _, entry in scored[:limit]]


def sort_key(entry: dict[str, Any]) -> tuple[float, str, int]:
    return float(entry.get("atTs", 0)), str(entry.get("service", "")), int(entry.get("seq", 0))


class Journal:
    """One process's journal: a ring of entries, an event that wakes the waits when an entry lands (a wait never
    polls its own process's journal) and, given a ``store``, the database behind the ring (``open`` starts the task
    that writes to it; ``close`` writes what is left)."""

    def __init__(self, *, service: str, ring: int = DEFAULT_RING, payload_bytes: int = DEFAULT_PAYLOAD_BYTES,
                 mesh_time: Callable[[], float] | None = None, mesh_speed: Callable[[], float] | None = None,
                 store: JournalStore | None = None, flush_s: float = FLUSH_S) -> None:
        self.service = service
        self.ring = ring
        self.payload_bytes = payload_bytes
        self.mesh_time = mesh_time or time.time  # the mesh clock's, once the service has one
        self.mesh_speed = mesh_speed or (lambda: 1.0)
        self.store = store
        self.flush_s = flush_s
        self.process = uuid.uuid4().hex  # this run's entries in a database other runs and replicas share
        self._entries: deque[dict[str, Any]] = deque(maxlen=ring)
        self._seq = itertools.count(1)
        self.head = 0
        self.dropped = 0
        self._landed: asyncio.Event | None = None
        self._unsaved: deque[dict[str, Any]] = deque()
        self._writing: list[dict[str, Any]] = []
        self.unsaved_dropped = 0
        self.store_error: str | None = None
        self._history = False  # the database may hold entries the ring does not (a restart, a ring overflowed)
        self._opened = False
        self._wake = asyncio.Event()
        self._write_lock = asyncio.Lock()
        self._writer: asyncio.Task[None] | None = None

    # ---- the database behind the ring ------------------------------------------------------------------------
    async def open(self) -> None:
        """Open the database (numbering on from what it holds) and start writing to it. A database that cannot be
        opened is said in ``stats`` and tried again by the writer; the ring works meanwhile."""
        if self.store is None or self._writer is not None:
            return
        await self._open_store()
        self._writer = asyncio.create_task(self._write_on(), name=f"journal-writer-{self.service}")

    async def _open_store(self) -> bool:
        assert self.store is not None
        try:
            highest = await self.store.open()
        except Exception as exc:
            self.store_error = _reason(exc)
            return False
        if highest > self.head:  # number on from the last run's entries: a cursor into them stays one
            self._seq, self.head = itertools.count(highest + 1), highest
        self._history = self._history or self.store.stored > 0
        self._opened, self.store_error = True, None
        return True

    async def close(self) -> None:
        """Stop the writer and write what is left (a process stopping keeps its last entries)."""
        if self._writer is None:
            return
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer
        self._writer = None
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.flush(), timeout=10.0)
        assert self.store is not None
        await self.store.close()

    async def _write_on(self) -> None:
        """Write in batches: woken by the first entry after a write, then gathering for ``flush_s``."""
        while True:
            await self._wake.wait()
            await asyncio.sleep(self.flush_s)
            if not self._opened and not await self._open_store():
                continue
            await self.flush()

    async def flush(self) -> None:
        """Write every entry not yet written; on failure they wait for the next try (``store_error`` says why)."""
        if self.store is None or not self._opened:
            return
        async with self._write_lock:
            self._wake.clear()
            self._writing = list(self._unsaved)
            self._unsaved.clear()
            if not self._writing:
                return
            try:
                await self.store.write(self._writing, process=self.process)
            except Exception as exc:
                self.store_error = _reason(exc)
                self._unsaved.extendleft(reversed(self._writing))
                self._bound_unsaved()
                self._wake.set()
                log.warning("journal_store_failed", service=self.service, error=type(exc).__name__)
            else:
                self.store_error = None
            finally:
                self._writing = []

    def _bound_unsaved(self) -> None:
        while len(self._unsaved) > UNSAVED_MAX:
            self._unsaved.popleft()
            self.unsaved_dropped += 1

    # ---- recording -------------------------------------------------------------------------------------------
    def record(self, kind: str, *, payload: Any = None, began: float | None = None, **fields: Any) -> dict[str, Any]:
        """Append an entry (``kind``: http, envelope, consumed); ``fields`` by their camelCase names. Identifiers the
        caller did not give are read from the payload. ``began``: when it happened, if before now (wall time; an
        HTTP exchange is recorded once answered, and dated when it was asked — before what it set off)."""
        now, mesh_now = time.time(), self.mesh_time()
        if began is not None:
            mesh_now -= (now - began) * self.mesh_speed()
            now = began
        now, mesh_now = round(now, 6), round(mesh_now, 6)  # as `at` and `meshAt` say them: a range filter given
        # an entry's own time finds it
        try:
            kept = kept_payload(payload, limit=self.payload_bytes) if payload is not None else None
            entry: dict[str, Any] = dict(identifiers(payload, fields))
        except (TypeError, ValueError, RecursionError) as exc:  # what JSON cannot hold (nested too deep, a lone
            # surrogate): the edge refuses it anyway; the journal says so instead of failing the request
            kept, entry = f"[not kept: {type(exc).__name__}: {exc}]", {}
        entry.update({key: value for key, value in fields.items() if value is not None})
        self.head = next(self._seq)
        entry.update({"seq": self.head, "service": self.service, "kind": kind, "atTs": now, "meshAtTs": mesh_now,
                      "at": dt.datetime.fromtimestamp(now, tz=dt.UTC).isoformat(),
                      "meshAt": dt.datetime.fromtimestamp(mesh_now, tz=dt.UTC).isoformat(), "payload": kept})
        if len(self._entries) == self.ring:
            self.dropped += 1
            self._history = True
        self._entries.append(entry)
        if self.store is not None:
            self._unsaved.append(entry)
            self._bound_unsaved()
            self._wake.set()
        if self._landed is not None:
            self._landed.set()
            self._landed = None
        return entry

    async def clear(self) -> int:
        """Empty, ring and database, as a whole-mesh reset leaves it: how many entries went. Entry numbers go on
        (a wait's ``afterSeq`` stays a cursor)."""
        async with self._write_lock:  # not while a batch is being written: it would land after the reset
            gone = len(self._entries)
            self._entries.clear()
            self._unsaved.clear()
            self.dropped = 0
            if self.store is not None and self._opened:
                gone = max(gone, await self.store.clear())
            self._history = False
            return gone

    # ---- reading ---------------------------------------------------------------------------------------------
    def entries(self) -> list[dict[str, Any]]:
        """The ring's entries, oldest first."""
        return list(self._entries)

    async def find(self, query: Query) -> list[dict[str, Any]]:
        """Every entry matching ``query``, oldest first: the ring's and, when it may hold others, the database's."""
        return [entry for entry in await self.everything(query) if query.matches(entry)]

    async def everything(self, query: Query | None = None) -> list[dict[str, Any]]:
        """The ring's entries and what the database holds beyond them, oldest first (``query``, if given, narrows
        what is read from the database by its identifiers and time range; it is not applied to the ring)."""
        ring = list(self._entries)
        if self.store is None or not self._history or not self._opened:
            return ring
        ring_from = ring[0]["seq"] if ring else None
        # in memory first, then the database: a batch written between the two is read twice, not missed
        waiting = [e for e in (*self._writing, *self._unsaved) if ring_from is None or e["seq"] < ring_from]
        query = query or Query({})
        stored = await self.store.history(query.equal, member=query.filters.get("member"), texts=query.texts,
                                          wall=query.wall_range, mesh=query.mesh_range, after_seq=query.after_seq,
                                          process=self.process, ring_from=ring_from)
        waiting_seqs = {e["seq"] for e in waiting}
        older = [e for process, e in stored if process != self.process or e["seq"] not in waiting_seqs]
        return sorted(older + waiting, key=sort_key) + ring

    def changed(self) -> asyncio.Event:
        """An event set by the next entry recorded."""
        if self._landed is None:
            self._landed = asyncio.Event()
        return self._landed

    def since(self, seq: int) -> list[dict[str, Any]]:
        """The entries after ``seq``, oldest first: read from the newest end, so only what is new is looked at."""
        newer: list[dict[str, Any]] = []
        for entry in reversed(self._entries):
            if entry["seq"] <= seq:
                break
            newer.append(entry)
        newer.reverse()
        return newer

    async def landed(self, query: Query, *, after: int, timeout_s: float) -> bool:
        """True as soon as an entry after ``after`` matching ``query`` is here, False after ``timeout_s``. Each entry
        is looked at once, when it lands: a long wait costs nothing while nothing matching comes."""
        deadline = time.monotonic() + timeout_s
        checked = after
        while True:
            landed = self.changed()
            if any(query.matches(entry) for entry in self.since(checked)):
                return True
            checked = self.head
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(landed.wait(), remaining)

    async def unmatched(self) -> list[dict[str, Any]]:
        """What nobody answered, as this process knows it: HTTP requests that got no answer (the route failed before
        it answered, the client went away), and — at the gateway — synchronous requests routed that no answer
        followed, asynchronous deliveries no receipt acknowledged, and messages refused to the dead-letter queue."""
        return unmatched_of(await self.everything())

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {"service": self.service, "entries": len(self._entries), "ring": self.ring,
                               "head": self.head, "dropped": self.dropped, "payloadBytes": self.payload_bytes}
        if self.store is not None:
            out.update(stored=self.store.stored, rows=self.store.rows, unsaved=len(self._unsaved),
                       unsavedDropped=self.unsaved_dropped, storeError=self.store_error)
        return out


def unmatched_of(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    replied = {e.get("inReplyTo") for e in entries if e.get("kind") == "envelope" and e.get("inReplyTo")}
    consumed = {e.get("messageId") for e in entries if e.get("kind") == "consumed"}
    out = []
    for entry in entries:
        reason = _unmatched_reason(entry, replied=replied, consumed=consumed)
        if reason is not None:
            out.append({**entry, "unmatched": reason})
    return out


def _unmatched_reason(entry: dict[str, Any], *, replied: set[Any], consumed: set[Any]) -> str | None:
    kind, outcome = entry.get("kind"), entry.get("outcome")
    if kind == "http" and entry.get("status") is None:
        return "no answer"
    if kind != "envelope":
        return None
    if outcome == "refused":
        return "dead letter"
    if outcome != "routed" or entry.get("serviceId") == RECEIPT_SERVICE or entry.get("recipient") == GATEWAY_ID:
        return None
    if entry.get("channel") == "sync" and entry.get("messageType") == "REQUEST":
        return None if entry.get("messageId") in replied else "no answer"
    if entry.get("channel") == "async" and entry.get("messageId") not in replied | consumed:
        return "not consumed"
    return None


def service_journal(*, service: str, settings: ServiceSettings, clock: MeshClock) -> Journal:
    """A service's journal as its settings say: on the mesh clock, its ring, and its database behind the ring
    (``MESH_JOURNAL_ROWS``; 0: none) beside the service's own (``shared.mesh.journal_store.journal_url``)."""
    mesh = settings.mesh
    store = JournalStore(url=journal_url(settings.database_url), service=service,
                         rows=mesh.journal_rows) if mesh.journal_rows else None
    return Journal(service=service, mesh_time=clock.timestamp, mesh_speed=lambda: clock.state.speed,
                   ring=mesh.journal_ring, payload_bytes=mesh.journal_payload_bytes, store=store)

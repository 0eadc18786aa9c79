"""What a service has in flight, for the gateway's settle (``POST /admin/settle``): messages it is handling now, and a
counter of everything it has moved (published, taken, finished), per service of this process.

Why a counter beside the "now" numbers: the gateway reads the broker and the services one after another, never
at one instant, so a message can slip from an outbox into a queue, or from a queue into a handler, between two
reads and be seen nowhere. Each such step is a publish or a handler starting or ending, and each one bumps its
service's counter; two rounds of reads that find nothing in flight *and* the same counters prove that nothing
moved in between — the mesh is quiet, not just caught between two reads (docs/decisions.md, «Settle»).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from shared.telemetry import current_service


@dataclass
class Counters:
    handling: int = 0  # messages a handler of this service is working on now
    activity: int = 0  # publishes, handlers started and handlers finished, ever (only ever grows)


_by_service: dict[str, Counters] = {}


def counters(service: str | None = None) -> Counters:
    """``service``'s counters (default: the service the current task serves)."""
    name = service or current_service()
    found = _by_service.get(name)
    if found is None:
        found = _by_service[name] = Counters()
    return found


def totals() -> Counters:
    """Every service of this process together: one service in production; the whole mesh in the in-process
    tests, where adding them all up is what the gateway needs anyway (a zero stays a zero, an unchanged sum an
    unchanged sum)."""
    return Counters(handling=sum(c.handling for c in _by_service.values()),
                    activity=sum(c.activity for c in _by_service.values()))


def moved(count: int = 1) -> None:
    """A message left this service for the broker (a publish): the counter moves."""
    counters().activity += count


@contextmanager
def handling() -> Iterator[None]:
    """A handler works on one message inside: it counts as in flight, and its start and end move the counter."""
    mine = counters()
    mine.handling += 1
    mine.activity += 1
    try:
        yield
    finally:
        mine.handling -= 1
        mine.activity += 1


@dataclass(frozen=True)
class CaseSeen:
    """One case as a service knows it: the portal or ИС ЦОН that sent it (``origin``), ИС МИО that decides it
    (``provider``)."""

    role: str
    status: str
    correlation_id: str | None = None
    application_number: str | None = None


@dataclass(frozen=True)
class WorkSeen:
    """What a service knows besides its messages: steps due now (work under way) and the next one's mesh time, for
    one case or all, and the case itself when one was asked about."""

    due_now: int = 0
    next_due: dt.datetime | None = None
    cases: list[CaseSeen] = field(default_factory=list)


WorkProbe = Callable[[str | None], Awaitable[WorkSeen]]  # (case ref or None) -> WorkSeen

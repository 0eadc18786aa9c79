"""Settle: run the mesh until nothing is in flight and nothing is scheduled — for one case, or for the whole mesh —
skipping the mesh clock from one scheduled step to the next, as a time-skipping test server would.

It runs here, in the mesh, not in the tester's script: a script polling ИС МИО's schedule straight after `apply`
raced the very message it should move (nothing had reached ИС МИО yet, so nothing was scheduled), and a case
final at ИС МИО was not yet heard at the portal. The gateway sees every queue and asks every member what it has
in flight (``GET /admin/in-flight``, ``shared.mesh.in_flight``), so `apply` then `settle` is always safe.

"Nothing in flight" is two rounds of reads, a short pause apart, that find every queue empty (the broker read
first), no handler at work, no step due, no outbox row unsent, every member on the current clock — and the same
activity counters: nothing moved between them, so nothing slipped between two reads (docs/decisions.md).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from services.shep_gateway.usecases.clock_authority import ClockAuthority
from shared.errors import MeshError
from shared.logging import get_logger
from shared.mesh import in_flight
from shared.mesh.bus import Bus, BusError
from shared.mesh.in_flight import CaseSeen
from shared.mesh.outbox import OutboxRelay
from shared.mesh.topology import GATEWAY_ID, INGRESS_QUEUES, RETRY_TIERS_S, member_queue, member_sync_queue, retry_queue

log = get_logger(__name__)

MAX_TIMEOUT_S = 600.0
MAX_JUMPS = 10_000
QUIET_PAUSE_S = 0.05  # between the two rounds of reads that must agree
FINAL = frozenset({"COMPLETED", "REFUSED", "NOT_ACCEPTED", "FAILED"})


@dataclass(frozen=True)
class MemberProbe:
    """A service of the mesh the settle asks (``GET /admin/in-flight``), by its name and base URL."""

    name: str
    url: str


@dataclass
class Round:
    """One round of reads: what is in flight (in words), the counters' sum, the case's views, its next step."""

    activity: int = 0
    busy: list[str] = field(default_factory=list)
    cases: list[tuple[str, CaseSeen]] = field(default_factory=list)  # (service, view)
    next_due: dt.datetime | None = None
    version: int = 0  # the mesh clock's version the round was read at


@dataclass(frozen=True)
class SettleReport:
    outcome: str  # settled | waiting_for_staff | timed_out | max_jumps
    jumps: int
    clock_from: dt.datetime
    clock_to: dt.datetime
    case: str | None
    cases: list[tuple[str, CaseSeen]]
    in_flight: list[str]
    next_due: dt.datetime | None


def settled_case(views: Sequence[CaseSeen]) -> bool:
    """Final where it is decided (ИС МИО) and heard so by every system that follows it (the portal or ИС ЦОН the
    applicant used); a case refused before it reached ИС МИО is final where it was sent."""
    providers = [v for v in views if v.role == "provider"]
    origins = [v for v in views if v.role == "origin"]
    if providers:
        status = providers[0].status
        return status in FINAL and all(o.status == status for o in origins)
    return bool(origins) and all(o.status in FINAL for o in origins)


def check_request(*, timeout_s: float | None, max_jumps: int) -> float:
    if timeout_s is None:
        raise MeshError("SETTLE_TIMEOUT_REQUIRED", "give timeoutSeconds: how long (real seconds, at most "
                        f"{MAX_TIMEOUT_S:g}) the settle may wait for the mesh")
    if not 0 < timeout_s <= MAX_TIMEOUT_S:
        raise MeshError("SETTLE_TIMEOUT_OUT_OF_RANGE", f"timeoutSeconds {timeout_s:g}: above 0 and at most "
                        f"{MAX_TIMEOUT_S:g}")
    if not 0 <= max_jumps <= MAX_JUMPS:
        raise MeshError("SETTLE_JUMPS_OUT_OF_RANGE", f"maxJumps {max_jumps}: 0 to {MAX_JUMPS}")
    return timeout_s


class Settler:
    def __init__(self, *, bus: Bus, members: Callable[[], list[str]], holding: Callable[[], int], relay: OutboxRelay,
                 parked: Callable[[], Awaitable[int]], authority: ClockAuthority, http: httpx.AsyncClient,
                 probes: list[MemberProbe], admin_token: Callable[[], str]) -> None:
        """``members``: the registry's member ids (their delivery queues); ``holding``: messages the ingress worker
        has taken and not yet put through; ``parked``: requests held for a district lookup; ``probes``: the
        services to ask what they have in flight."""
        self._bus = bus
        self._parked = parked
        self._members = members
        self._holding = holding
        self._relay = relay
        self._authority = authority
        self._http = http
        self._probes = probes
        self._token = admin_token
        self._jumping = asyncio.Lock()
        self._not_members: set[str] = set()  # services without /admin/in-flight (НУЦ): nothing of theirs flies

    async def settle(self, *, case: str | None, timeout_s: float | None, max_jumps: int) -> SettleReport:
        """Loop: wait until nothing is in flight; stop when the case is settled (or, for the whole mesh, nothing is
        scheduled); else jump the clock exactly to the next scheduled step (the case's own, when one is named) and
        go round again. Bad input changes nothing; on timeout the report says what was still in flight."""
        limit = check_request(timeout_s=timeout_s, max_jumps=max_jumps)
        if case is not None and not (await self.read(case)).cases:
            raise MeshError("SETTLE_CASE_UNKNOWN", f"no service of the mesh knows the case {case!r} (an application "
                            "number or a correlation id)")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        clock_from, jumps = self._authority.clock.now(), 0
        while True:
            seen, quiet = await self.quiet(case, deadline=deadline)
            outcome = self._outcome(case, seen, quiet=quiet, jumps=jumps, max_jumps=max_jumps)
            if outcome is not None:
                break
            if loop.time() >= deadline:  # quiet, yet a step due now is not taken up: say which, and stop
                assert seen.next_due is not None
                outcome = "timed_out"
                seen.busy.append(f"mio_workstation: a step due at {seen.next_due.isoformat()} not taken up")
                break
            assert seen.next_due is not None
            if await self._jump_to(seen.next_due):
                jumps += 1
            else:  # due this instant (or another settle jumped past it): simulated staff are taking it up
                await asyncio.sleep(QUIET_PAUSE_S)
        log.info("mesh_settled", outcome=outcome, jumps=jumps, scoped=case is not None)
        return SettleReport(outcome=outcome, jumps=jumps, clock_from=clock_from, clock_to=self._authority.clock.now(),
                            case=case, cases=seen.cases, in_flight=seen.busy, next_due=seen.next_due)

    async def _jump_to(self, moment: dt.datetime) -> bool:
        """Move the clock exactly to ``moment`` unless it is there already. One jump at a time: two settles at once
        (four tests in parallel) each measure the gap after the other's jump, never adding theirs to it."""
        async with self._jumping:
            gap = (moment - self._authority.clock.now()).total_seconds()
            if gap <= 0:
                return False
            await self._authority.change(advance_s=gap, advance_working_days=None, speed=None, reset=False)
            return True

    def _outcome(self, case: str | None, seen: Round, *, quiet: bool, jumps: int, max_jumps: int) -> str | None:
        if not quiet:
            return "timed_out"
        if case is not None and settled_case([view for _, view in seen.cases]):
            return "settled"
        if seen.next_due is None:
            return "settled" if case is None else "waiting_for_staff"
        if jumps >= max_jumps and seen.next_due > self._authority.clock.now():
            return "max_jumps"
        return None

    async def quiet(self, case: str | None, *, deadline: float) -> tuple[Round, bool]:
        """Rounds of reads until two in a row find nothing in flight and the same counters (True), or the deadline
        passes (False, with the last round: what was in flight). A bounded poll: the pause is short, the mesh's
        own work — a decision asking ГБД ФЛ, a delivery and its receipt — takes real milliseconds."""
        loop = asyncio.get_running_loop()
        previous: Round | None = None
        while True:
            seen = await self.read(case)
            if (not seen.busy and previous is not None
                    and (previous.activity, previous.version) == (seen.activity, seen.version)):
                return seen, True
            previous = None if seen.busy else seen
            if loop.time() >= deadline:
                return seen, False
            await asyncio.sleep(QUIET_PAUSE_S)

    async def read(self, case: str | None) -> Round:
        """One round, in the order a message moves: the broker's queues first, then the gateway's own work, then
        every member (each reads its counter first) — so a message that moves meanwhile moves a counter.

        The queues are a passive declare each — three tiers and two queues a member, thousands in a mesh that has
        enrolled a few hundred test members — so they are read only in a round that may be quiet: the gateway's
        work and the members are asked first, and a round they already call busy ends there (a busy round is
        thrown away whatever the queues hold)."""
        version = self._authority.clock.state.version
        ahead = await self._work(case, version=version)
        if ahead.busy:
            return ahead
        seen = Round()
        try:
            seen.busy += [f"queue {queue}: {waiting} waiting" for queue, waiting in await self._queues()]
        except BusError as exc:  # not a quiet round: what the queues hold is not known
            seen.busy.append(f"the broker's queues cannot be read: {exc}")
        after = await self._work(case, version=version)
        seen.activity, seen.cases, seen.next_due, seen.version = after.activity, after.cases, after.next_due, version
        seen.busy += after.busy
        return seen

    async def _work(self, case: str | None, *, version: int) -> Round:
        """The gateway's own work and every member's answer: what is in hand, unsent, parked or due."""
        seen = Round()
        mine = in_flight.totals()
        seen.activity += mine.activity
        working = mine.handling + self._holding()
        if working:
            seen.busy.append(f"shep_gateway: {working} in work")
        unsent, parked = await self._relay.pending_count(), await self._parked()
        if unsent:
            seen.busy.append(f"shep_gateway: {unsent} outbox rows unsent")
        if parked:
            seen.busy.append(f"shep_gateway: {parked} requests parked for a district lookup")
        answers = await asyncio.gather(*(self._ask(probe, case) for probe in self._probes
                                         if probe.name not in self._not_members))
        for probe, answer in answers:
            self._take(seen, probe.name, answer, version=version)
        seen.version = version
        if self._authority.clock.state.version != version:  # another settle (or a tester) jumped meanwhile
            seen.busy.append("the mesh clock moved while the mesh was read")
        return seen

    async def _queues(self) -> list[tuple[str, int]]:
        """The queues with messages something will take: the ingress's two lanes and each member's two queues, then
        the retry tiers of those that are consumed (a tier's messages come back to its queue: to nobody, when nothing
        consumes it — a test's own member, closed with deliveries left, is waited for by the gateway however long
        (``shared.mesh.receipts``), not by a settle; a member service that is down is seen by its probe not
        answering). Read in two bulk reads (``Bus.queue_statuses``): a few hundred enrolled test members are a
        thousand queues, and their tiers three times as many."""
        queues = list(INGRESS_QUEUES)
        for member in self._members():
            if member != GATEWAY_ID:
                queues += [member_queue(member), member_sync_queue(member)]
        first = await self._bus.queue_statuses(queues)
        consumed = [queue for queue, status in first.items() if status is not None and status.consumers]
        tiers = await self._bus.queue_statuses([retry_queue(queue, tier) for queue in consumed
                                                for tier in RETRY_TIERS_S])
        waiting = [(queue, status.ready) for queue, status in first.items()
                   if status is not None and status.consumers and status.ready]
        return waiting + [(queue, status.ready) for queue, status in tiers.items()
                          if status is not None and status.ready]

    async def _ask(self, probe: MemberProbe, case: str | None) -> tuple[MemberProbe, dict[str, Any] | str]:
        try:
            reply = await self._http.get(f"{probe.url.rstrip('/')}/admin/in-flight",
                                         params={"case": case} if case else None,
                                         headers={"Authorization": f"Bearer {self._token()}"}, timeout=10.0)
        except httpx.HTTPError as exc:
            return probe, f"not answering ({type(exc).__name__})"
        if reply.status_code == 404:  # not a member service (НУЦ): it has no messages in flight
            self._not_members.add(probe.name)
            return probe, {}
        if reply.status_code != 200:
            return probe, f"answers {reply.status_code}"
        return probe, reply.json()

    @staticmethod
    def _take(seen: Round, name: str, answer: dict[str, Any] | str, *, version: int) -> None:
        if isinstance(answer, str):
            seen.busy.append(f"{name}: {answer}")
            return
        if not answer:
            return
        seen.activity += answer["activity"]
        for key, what in (("handling", "messages in work"), ("dueNow", "steps due now"),
                          ("outboxUnsent", "outbox rows unsent")):
            if answer[key]:
                seen.busy.append(f"{name}: {answer[key]} {what}")
        if answer["clockVersion"] < version:
            seen.busy.append(f"{name}: has not followed the clock yet (version {answer['clockVersion']} < {version})")
        if answer["nextDue"]:
            due = dt.datetime.fromisoformat(answer["nextDue"])
            seen.next_due = due if seen.next_due is None else min(seen.next_due, due)
        seen.cases += [(name, CaseSeen(role=c["role"], status=c["status"], correlation_id=c.get("correlationId"),
                                       application_number=c.get("applicationNumber"))) for c in answer["cases"]]

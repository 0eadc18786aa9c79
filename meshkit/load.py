"""A batch of applications submitted at once — through the portal, the ИС ЦОН intake and the МИО offices,
across every regulation those channels serve — and followed to their final status: the load test of the mesh and the
end-to-end figure of ``make bench``.

It speaks only HTTP to the services (a ``clients(name)`` factory gives an ``httpx.AsyncClient`` per service,
with the admin token), so the same batch runs against real processes and against the in-process mesh. It
reports what a tester must be able to rely on: every application got exactly one number, no two the same,
each reached its final status, nothing was lost, duplicated or dead-lettered.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from meshkit.sdk import application_form, attachments_for
from shared.employment.regulations import REGULATIONS_DIR, RegulationBook
from shared.pki.signing import SignerIdentity, load_pem_certificates, sign_json

Clients = Callable[[str], AbstractAsyncContextManager[httpx.AsyncClient]]


class HttpClients:
    """``clients(name)`` for a mesh of real processes: one pooled client per service, admin token attached."""

    def __init__(self, urls: dict[str, str], *, admin_token: str, timeout_s: float = 60.0) -> None:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        self._clients = {name: httpx.AsyncClient(base_url=url, timeout=timeout_s, limits=limits,
                                                 headers={"Authorization": f"Bearer {admin_token}"})
                         for name, url in urls.items()}

    @asynccontextmanager
    async def __call__(self, name: str) -> AsyncIterator[httpx.AsyncClient]:
        yield self._clients[name]

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
FINAL = ("COMPLETED", "REFUSED", "NOT_ACCEPTED", "FAILED")
FORM_FIELDS: dict[str, dict[str, str]] = {
    "employment.job-seeker-registration": {},
    "employment.unemployed-registration": {},
    "employment.active-measures-referral": {"referralKind": "public-works"},
    "employment.unemployed-certificate": {"periodFrom": "2026-01-01", "periodTo": "2026-06-30"},
}
CARD_FOR = {"job_seeker_card": "job_seeker", "any_card": "job_seeker", "unemployed_card": "unemployed"}


@dataclass(frozen=True)
class Lane:
    """One regulation's electronic channel in one district: who applies there and with what."""

    regulation: str
    district: str
    service: str
    channel: str  # portal | con | office
    card: str | None  # the «Еңбек нарығы» card the applicant must already have
    first_role: str = "clerk"  # office: the staff role that enters the paper application


def lanes(*, channels: tuple[str, ...] = ("portal", "con")) -> list[Lane]:
    """Every (regulation, district) these channels serve (``office`` too when asked), from the shipped
    regulation files."""
    book = RegulationBook.load(REGULATIONS_DIR)
    return [Lane(regulation=r.id, district=d, service=r.service, channel=r.channel,
                 card=CARD_FOR.get(r.requires) if r.requires else None, first_role=r.steps[0].role)
            for r in book.all.values() if r.channel in channels for d in r.districts]


@dataclass
class Person:
    """A citizen for a batch: a ГБД ФЛ person with EC keys certified by НУЦ (keys made here, from CSRs)."""

    iin: str
    surname: str
    name: str
    patronymic: str | None
    district: str
    signing: SignerIdentity
    auth: SignerIdentity

    def request(self, service_id: str, **fields: Any) -> dict[str, Any]:
        form = application_form(service_id=service_id, iin=self.iin, surname=self.surname, name=self.name,
                                patronymic=self.patronymic, **fields)
        return {"form": form, "formSignature": sign_json(value=form, signer=self.signing),
                "attachments": attachments_for(form)}


def _csr(key: ec.EllipticCurvePrivateKey, iin: str) -> str:
    subject = x509.Name([x509.NameAttribute(NameOID.SERIAL_NUMBER, f"IIN{iin}")])
    return x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256()).public_bytes(
        serialization.Encoding.PEM).decode()


def _checked(reply: httpx.Response, what: str) -> Any:
    if reply.status_code >= 400:
        raise RuntimeError(f"{what}: {reply.status_code} {reply.text[:300]}")
    return reply.json()


async def new_person(clients: Clients, *, district: str, jobless: bool = True, min_age: int = 25,
                     max_age: int = 50) -> Person:
    """A ГБД ФЛ person no one else uses, with signing and authentication certificates from НУЦ."""
    async with clients("gbd_fl") as gbd:
        who = _checked(await gbd.post("/admin/people/claim", json={
            "district": district, "jobless": jobless, "minAge": min_age, "maxAge": max_age}), "claim a person")
    keys = {usage: ec.generate_private_key(ec.SECP256R1()) for usage in ("signing", "authentication")}
    async with clients("nuc_pki") as nuc:
        issued = _checked(await nuc.post("/certificates/individual", json={
            "iin": who["iin"], "surname": who["surname"], "name": who["name"], "patronymic": who.get("patronymic"),
            "signingCsrPem": _csr(keys["signing"], who["iin"]),
            "authenticationCsrPem": _csr(keys["authentication"], who["iin"])}), "certificates")
    identity = {usage: SignerIdentity(key=keys[usage],
                                      certificate=load_pem_certificates(issued[usage]["certificatePem"])[0],
                                      chain=tuple(load_pem_certificates(issued[usage]["chainPem"])))
                for usage in keys}
    return Person(iin=who["iin"], surname=who["surname"], name=who["name"], patronymic=who.get("patronymic"),
                  district=who["district"], signing=identity["signing"], auth=identity["authentication"])


async def portal_session(clients: Clients, person: Person) -> str:
    """Register ``person`` at the portal with EDS (Almaty's way) and log in with EDS; the bearer token.

    A challenge lives a few mesh minutes: when the mesh clock jumps between taking one and signing it, it has
    expired (CHALLENGE_EXPIRED) — a person would simply sign a fresh one, and so does this."""
    async with clients("portal") as portal:
        for purpose, path in (("register", "/auth/register/eds"), ("login", "/auth/login/eds")):
            for _attempt in range(5):
                challenge = _checked(await portal.post("/auth/challenges", json={"purpose": purpose}), "challenge")
                reply = await portal.post(path, json={"challengeId": challenge["challengeId"],
                                                      "signature": sign_json(value=challenge, signer=person.auth)})
                if reply.status_code != 401 or reply.json().get("code") != "CHALLENGE_EXPIRED":
                    break
            registered_before = purpose == "register" and reply.json().get("code") == "ACCOUNT_EXISTS"
            if reply.status_code >= 400 and not registered_before:
                raise RuntimeError(f"{path}: {reply.status_code} {reply.text[:300]}")
        return str(reply.json()["token"])


@dataclass
class Applicant:
    lane: Lane
    person: Person
    token: str | None = None  # portal lanes
    correlation_id: str | None = None
    submitted_at: float | None = None
    final: dict[str, Any] | None = None
    finished_at: float | None = None  # when the batch first saw it final (to the polling interval)


@dataclass
class Report:
    submitted: int
    statuses: dict[str, int]
    numbers: int
    unique_numbers: int
    lost: list[str]
    duplicated: dict[str, int]
    dead_letters: list[dict[str, Any]]
    submit_s: float
    total_s: float
    by_lane: dict[str, int] = field(default_factory=dict)

    latencies_s: list[float] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.submitted / self.total_s if self.total_s else 0.0

    def summary(self) -> dict[str, Any]:
        return {"submitted": self.submitted, "statuses": self.statuses, "uniqueNumbers": self.unique_numbers,
                "lost": len(self.lost), "duplicated": len(self.duplicated), "deadLetters": len(self.dead_letters),
                "submitSeconds": round(self.submit_s, 1), "totalSeconds": round(self.total_s, 1),
                "applicationsPerSecond": round(self.per_second, 2)}


async def _gather(limit: int, jobs: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def run(job: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await job()

    return await asyncio.gather(*(run(job) for job in jobs))


async def prepare(clients: Clients, *, portal: int = 0, con: int = 0, office: int = 0, share: float = 0.00001,
                  concurrency: int = 16, extra: list[Lane] | None = None) -> list[Applicant]:
    """``portal`` applicants spread over the portal lanes, ``con`` over the ИС ЦОН lanes and ``office`` over the
    МИО offices (and one for each lane in ``extra``), each with the card their regulation requires; every
    district's simulated staff set to act after ``share`` of each step."""
    every = lanes(channels=("portal", "con", "office"))
    plan = [lane for count, channel in ((portal, "portal"), (con, "con"), (office, "office"))
            for lane in _spread(count, [x for x in every if x.channel == channel])] + (extra or [])

    async def one(lane: Lane) -> Applicant:
        person = await new_person(clients, district=lane.district)
        applicant = Applicant(lane=lane, person=person)
        if lane.channel == "portal":
            applicant.token = await portal_session(clients, person)
        if lane.card:
            async with clients("mio_workstation") as mio:
                _checked(await mio.post(f"/admin/districts/{lane.district}/register/cards",
                                        json={"iin": person.iin, "kind": lane.card}), "open a card")
        return applicant

    async with clients("mio_workstation") as mio:
        for district in sorted({lane.district for lane in plan}):
            _checked(await mio.put(f"/admin/districts/{district}/mode", json={"mode": "auto", "autoShare": share}),
                     "staff mode")
    return list(await _gather(concurrency, [functools.partial(one, lane) for lane in plan]))


def _spread(count: int, lanes_: list[Lane]) -> list[Lane]:
    return [lanes_[i % len(lanes_)] for i in range(count)] if lanes_ else []


async def staff_tokens(clients: Clients, applicants: list[Applicant]) -> dict[tuple[str, str], str]:
    """A login for each (district, role) that enters the office applications among ``applicants``."""
    wanted = {(a.lane.district, a.lane.first_role) for a in applicants if a.lane.channel == "office"}
    if not wanted:
        return {}
    async with clients("mio_workstation") as mio:
        staff = _checked(await mio.get("/admin/staff"), "staff identities")["staff"]
        tokens = {}
        for district, role in sorted(wanted):
            who = next(s for s in staff if (s["district"], s["role"]) == (district, role))
            login = _checked(await mio.post("/staff/login", json={"iin": who["iin"], "password": who["password"]}),
                             "staff login")
            tokens[(district, role)] = str(login["token"])
    return tokens


async def submit(clients: Clients, applicants: list[Applicant], *, concurrency: int = 64,
                 idempotency: bool = True, every_s: float | None = None) -> float:
    """Everyone at once (``concurrency`` calls in flight), or paced: the i-th applicant ``i * every_s`` seconds after
    the first, whatever the others' calls are doing (a steady arrival rate); returns the seconds it took."""
    clerks = await staff_tokens(clients, applicants)
    started = time.monotonic()
    order = {id(applicant): index for index, applicant in enumerate(applicants)}

    async def one(applicant: Applicant) -> None:
        if every_s is not None:
            await asyncio.sleep(max(0.0, started + order[id(applicant)] * every_s - time.monotonic()))
        lane, person = applicant.lane, applicant.person
        body = person.request(lane.service, **FORM_FIELDS[lane.service])
        key = {"Idempotency-Key": f"batch-{person.iin}-{lane.regulation}"} if idempotency else {}
        for attempt in range(5):  # a call cut off (a service restarting) is sent again with the same key
            try:
                if lane.channel == "portal":
                    async with clients("portal") as portal:
                        case = _checked(await portal.post(
                            f"/citizens/{person.iin}/applications", json=body,
                            headers={"Authorization": f"Bearer {applicant.token}", **key}), "portal application")
                elif lane.channel == "office":
                    async with clients("mio_workstation") as mio:
                        case = _checked(await mio.post(
                            f"/districts/{lane.district}/applications", json=body | {"signedBy": "applicant"}, headers={
                                "Authorization": f"Bearer {clerks[(lane.district, lane.first_role)]}", **key}),
                            "office intake")
                else:
                    async with clients("con_operator") as con:
                        # a seeded operator of the district's branch signs, as every ЦОН regulation allows
                        case = _checked(await con.post("/admin/applications", json={
                            "form": body["form"], "signedBy": "operator", "district": lane.district,
                            "attachments": body["attachments"]}, headers=key),
                            "ИС ЦОН intake")
                break
            except (httpx.TransportError, RuntimeError):
                if attempt == 4 or not idempotency:
                    raise
                await asyncio.sleep(1 + attempt)
        applicant.correlation_id, applicant.submitted_at = case["correlationId"], time.monotonic()

    await _gather(concurrency if every_s is None else len(applicants) or 1,
                  [functools.partial(one, applicant) for applicant in applicants])
    return time.monotonic() - started


async def follow(clients: Clients, applicants: list[Applicant], *, timeout_s: float = 300.0,
                 dead_letters: Callable[[], Awaitable[list[dict[str, Any]]]] | None = None,
                 started: float | None = None, submit_s: float = 0.0, every_s: float = 0.5,
                 submitting: asyncio.Future[Any] | None = None, cursor: CaseCursor | None = None) -> Report:
    """Wait until every application is final where it was sent from (the portal's and ИС ЦОН's case lists, one
    request each per round, so following a batch does not load the mesh), then check ИС МИО's side.
    ``submitting``: the applications are still being submitted — each is followed from its submit on, until that
    is done and every one of them is final. ``cursor``: ask each round only for the cases that changed (see
    ``CaseCursor`` for when that is safe)."""
    started = started if started is not None else time.monotonic()
    deadline = time.monotonic() + timeout_s
    pending = {a.correlation_id: a for a in applicants if a.correlation_id}
    while (pending or (submitting is not None and not submitting.done())) and time.monotonic() < deadline:
        if submitting is not None:
            pending |= {a.correlation_id: a for a in applicants if a.correlation_id and a.final is None}
        for case in await _cases_of(clients, list(pending.values()), cursor):
            applicant = pending.get(case["correlationId"])
            if applicant is not None and case["status"] in FINAL:
                applicant.final, applicant.finished_at = case, time.monotonic()
                del pending[case["correlationId"]]
        if pending or (submitting is not None and not submitting.done()):
            await asyncio.sleep(every_s)
    total = time.monotonic() - started
    return await _report(clients, applicants, lost=list(pending), dead_letters=dead_letters, submit_s=submit_s,
                         total_s=total)


@dataclass
class CaseCursor:
    """How far a follower has read each service's case list: the latest ``updatedAt`` it was shown, so the next
    round asks only for what changed since (``updatedSince``) — following thousands of cases costs each round
    what moved, not every case again. It asks from ``OVERLAP_S`` before that: a status stamped just before the
    latest one seen may have been committed just after it was read.

    ``updatedAt`` is mesh time: only for a run in which nobody moves the mesh clock back, on a mesh whose earlier
    cases were not stamped ahead of it by a jump (a bench's private mesh, not a test session's)."""

    OVERLAP_S: ClassVar[float] = 5.0
    latest: dict[str, dt.datetime] = field(default_factory=dict)

    def params(self, service: str) -> dict[str, str]:
        seen = self.latest.get(service)
        return {"updatedSince": (seen - dt.timedelta(seconds=self.OVERLAP_S)).isoformat()} if seen else {}

    def saw(self, service: str, cases: list[dict[str, Any]]) -> None:
        for case in cases:
            at = dt.datetime.fromisoformat(case["updatedAt"])
            if service not in self.latest or at > self.latest[service]:
                self.latest[service] = at


async def _cases_of(clients: Clients, applicants: list[Applicant],
                    cursor: CaseCursor | None = None) -> list[dict[str, Any]]:
    """Where these applications stand where they were sent from: the portal's and ИС ЦОН's case lists (one
    request each; with a ``cursor``, only what changed since the last round), and for office applications their
    district's finished ones at ИС МИО."""
    found: list[dict[str, Any]] = []
    for service, channel in (("portal", "portal"), ("con_operator", "con")):
        if any(a.lane.channel == channel for a in applicants):
            async with clients(service) as http:
                listed = _checked(await http.get("/admin/cases", params=cursor.params(service) if cursor else None),
                                  f"{service} cases")["applications"]
            if cursor is not None:
                cursor.saw(service, listed)
            found += listed
    async with clients("mio_workstation") as mio:
        for district in sorted({a.lane.district for a in applicants if a.lane.channel == "office"}):
            done = _checked(await mio.get(f"/districts/{district}/applications", params={"status": "DONE"}),
                            "ИС МИО inbox")["applications"]
            found += [a | {"applicationNumber": a["number"]} for a in done]
    return found


async def _report(clients: Clients, applicants: list[Applicant], *, lost: list[str],
                  dead_letters: Callable[[], Awaitable[list[dict[str, Any]]]] | None, submit_s: float,
                  total_s: float) -> Report:
    """ИС МИО's side: one application per case, every number different."""
    by_case: Counter[str] = Counter()
    numbers: list[str] = []
    async with clients("mio_workstation") as mio:
        for district in sorted({a.lane.district for a in applicants}):
            inbox = _checked(await mio.get(f"/districts/{district}/applications"), "ИС МИО inbox")["applications"]
            for application in inbox:
                by_case[application["correlationId"]] += 1
                numbers.append(application["number"])
    ours = {a.correlation_id for a in applicants}
    statuses = Counter((a.final or {}).get("status", "NOT FINAL") for a in applicants)
    missing_at_mio = [c for c in ours if c and by_case[c] == 0]
    return Report(submitted=len(applicants), statuses=dict(statuses), numbers=len(numbers),
                  unique_numbers=len(set(numbers)), lost=sorted({*lost, *missing_at_mio}),
                  duplicated={c: n for c, n in by_case.items() if n > 1 and c in ours},
                  dead_letters=await dead_letters() if dead_letters else [], submit_s=submit_s, total_s=total_s,
                  by_lane=dict(Counter(f"{a.lane.regulation}@{a.lane.district}" for a in applicants)),
                  latencies_s=sorted(a.finished_at - a.submitted_at for a in applicants
                                     if a.finished_at is not None and a.submitted_at is not None))


async def run_batch(clients: Clients, *, portal: int, con: int, office: int = 0, timeout_s: float = 300.0,
                    dead_letters: Callable[[], Awaitable[list[dict[str, Any]]]] | None = None,
                    during: Callable[[], Awaitable[None]] | None = None, share: float = 0.00001,
                    extra: list[Lane] | None = None, every_s: float = 0.5, cursor: CaseCursor | None = None) -> Report:
    """Prepare, submit everyone at once, follow to the end; ``during`` runs beside the batch (kill a service…).
    ``share``: simulated staff finish each step after this share of its maximum (a 3-working-day decision in
    about 3 s at the default). ``cursor``: follow only what changed each round (see ``CaseCursor`` for when)."""
    applicants = await prepare(clients, portal=portal, con=con, office=office, share=share, extra=extra)
    started = time.monotonic()
    side: asyncio.Future[None] | None = asyncio.ensure_future(during()) if during else None
    submit_s = await submit(clients, applicants)
    report = await follow(clients, applicants, timeout_s=timeout_s, dead_letters=dead_letters, started=started,
                          submit_s=submit_s, every_s=every_s, cursor=cursor)
    if side is not None:
        await side
    return report

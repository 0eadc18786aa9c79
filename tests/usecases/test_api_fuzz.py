"""Every service's whole HTTP API fuzzed from its own OpenAPI document with schemathesis — as the admin (test
tooling), as an anonymous stranger, and with the session of the one who uses it (a citizen at the portal, МИО staff,
a ЦОН operator, with their own IIN, district or branch in the path, so the calls get past «not yours» into the
routes) — with data that fits the schema (positive) and data that does not (negative): whatever is sent, no answer
is a 5xx; bad input gets a 4xx with a code, one the operation's OpenAPI lists under that status.

Before: ГБД ФЛ's `POST /admin/people` and `/admin/people/claim` answered 500 for `minAge` ≥ 65 without `maxAge`;
issue 17: a lone surrogate in a body, JSON nested ~900 deep, an id beyond 64 bits (those payloads are pinned in
test_untrusted_input.py; the fuzz draws its own).
A mesh of its own (in process: the same apps, a fraction of the time): the fuzz changes registries, modes and
people that no other test should see changed.

Schemathesis 4's stateful mode follows OpenAPI links, which these documents do not declare: it would add nothing
here without them. Negative mode does add, for operations with a body: wrong types and shapes of JSON (the edge issue
17 was about), fewer examples than the positive mode. Without a body there is mostly nothing to get wrong (a path of
strings) and Hypothesis spends seconds an operation proving it. Examples are drawn once per operation and sent by
every caller (drawing, not sending, is what the fuzz spends its time on).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance
from schemathesis.core.failures import FailureGroup

from shared.web.openapi_errors import declared_codes
from tests.support.inprocess import SERVICES, InProcessMesh, start_inprocess_mesh, url

EXAMPLES = {GenerationMode.POSITIVE: 12, GenerationMode.NEGATIVE: 6}  # per operation and caller
# Not fuzzed: moving the mesh clock years ahead would expire every certificate of the mesh mid-fuzz (its bad input
# is tested in tests/e2e/test_mesh_services.py), and regenerating ГБД ФЛ's population at up to 200 000 people
# takes seconds a call. The journal's wait-until is a long poll that answers when its timeout (up to 300 s) runs out
# unless what it waits for comes: its bad input is tested in tests/usecases/test_journal.py. A fault-injection rule the
# fuzz drew would inject faults — 5xx answers by design — into every call after it: its bad input is tested in
# tests/usecases/test_chaos.py and tests/unit/test_chaos_rules.py. Every other operation is.
SKIPPED = {("shep_gateway", "POST", "/admin/clock"), ("gbd_fl", "POST", "/admin/population/reset")} | {
    (service, "GET", "/admin/journal/wait") for service in SERVICES} | {
    (service, "POST", "/admin/chaos/rules") for service in SERVICES}
LOGOUTS = {"/auth/logout", "/staff/logout", "/operators/logout"}  # with a session: kept alive for the other calls
SESSION_SERVICES = ("portal", "mio_workstation", "con_operator")
CALLERS = [(s, who) for s in SERVICES for who in ("admin", "anonymous")] + [(s, "session") for s in SESSION_SERVICES]


@dataclass
class Caller:
    """Who calls: the headers they add, and the path parameters that name what is theirs."""

    headers: dict[str, str] = field(default_factory=dict)
    own: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
async def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[InProcessMesh]:
    mesh = await start_inprocess_mesh(tmp_path_factory.mktemp("fuzzed"))
    yield mesh
    await mesh.close()


@pytest.fixture(scope="module")
async def sessions(fuzzed: InProcessMesh) -> dict[str, Caller]:
    """A citizen logged in at the portal, an almaty clerk at ИС МИО, an operator of the first branch at ИС ЦОН."""
    person = await fuzzed.person(district="almaty")
    citizen = await fuzzed.citizen_session(person)
    async with fuzzed.client("mio_workstation") as mio:
        staff = next(s for s in (await mio.get("/admin/staff")).json()["staff"] if s["district"] == "almaty")
        clerk = (await mio.post("/staff/login", json={"iin": staff["iin"], "password": staff["password"]})).json()
    async with fuzzed.client("con_operator") as con:
        account = (await con.get("/admin/operators")).json()["operators"][0]
        operator = (await con.post("/operators/login", json={"iin": account["iin"],
                                                             "password": account["password"]})).json()
    return {"portal": Caller({"Authorization": f"Bearer {citizen}"}, {"iin": person.iin}),
            "mio_workstation": Caller({"Authorization": f"Bearer {clerk['token']}"},
                                      {"iin": staff["iin"], "district": "almaty"}),
            "con_operator": Caller({"Authorization": f"Bearer {operator['token']}"},
                                   {"iin": account["iin"], "branch": account["branch"]})}


_drawn: dict[tuple, list[schemathesis.Case]] = {}


def _cases(service: str, operation: schemathesis.APIOperation, mode: GenerationMode,
           own: dict[str, str]) -> list[schemathesis.Case]:
    """Examples drawn by Hypothesis from the operation's schema (sent afterwards, on this test's event loop), with
    the caller's own values for the path parameters naming them; drawn once for every caller they fit."""
    fixed = {k: v for k, v in own.items() if f"{{{k}}}" in operation.path} or None
    if mode is GenerationMode.NEGATIVE and not len(operation.body):
        return []
    key = (service, operation.method, operation.path, mode, tuple(sorted((fixed or {}).items())))
    if key not in _drawn:
        _drawn[key] = _draw(operation, mode, fixed)
    return _drawn[key]


def _draw(operation: schemathesis.APIOperation, mode: GenerationMode,
          fixed: dict[str, str] | None) -> list[schemathesis.Case]:
    drawn: list[schemathesis.Case] = []

    @settings(max_examples=EXAMPLES[mode], deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=fixed))
    def draw(case: schemathesis.Case) -> None:
        drawn.append(case)

    try:
        draw()
    except Unsatisfiable:  # a body with nothing to get wrong (an empty object): no negative example exists
        assert mode is GenerationMode.NEGATIVE
    return drawn


_addresses = (f"198.51.100.{n % 250 + 1}" for n in itertools.count())


@pytest.mark.parametrize(("service", "who"), CALLERS)
async def test_no_call_to_a_service_answers_5xx(fuzzed: InProcessMesh, sessions: dict[str, Caller], service: str,
                                                who: str):
    caller = {"admin": Caller(fuzzed.admin), "anonymous": Caller()}.get(who) or sessions[service]
    document = fuzzed.app(service).openapi()
    schema = schemathesis.openapi.from_dict(document)
    failures: list[str] = []
    undeclared: set[str] = set()
    nonconforming: list[str] = []
    sent = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        method = operation.method.upper()
        if (service, method, operation.path) in SKIPPED or (who == "session" and operation.path in LOGOUTS):
            continue
        # each operation from an address of its own: per-address limits (anonymous verification, registration)
        # would otherwise answer 429 before the route is reached
        transport = httpx.ASGITransport(app=fuzzed.app(service), client=(next(_addresses), 40_000))
        async with httpx.AsyncClient(transport=transport, base_url=url(service), timeout=30) as http:
            for mode in EXAMPLES:
                for case in _cases(service, operation, mode, caller.own):
                    request = case.as_transport_kwargs(base_url=url(service))
                    try:
                        reply = await http.request(request["method"], request["url"], params=request.get("params"),
                                                   headers={**(request.get("headers") or {}), **caller.headers},
                                                   json=request.get("json"), content=request.get("data"))
                    except (httpx.InvalidURL, httpx.LocalProtocolError, UnicodeEncodeError, TypeError):
                        continue  # a request no HTTP client can send (a header that is not Latin-1, …)
                    sent += 1
                    try:  # the answer is the one its OpenAPI declares: the status's schema, closed where it is closed
                        case.validate_response(reply, checks=[not_a_server_error, response_schema_conformance])
                    except FailureGroup as group:
                        nonconforming += [f"{method} {operation.path} → {reply.status_code}: {failure.title}: "
                                          f"{failure.message[:300]}" for failure in group.exceptions]
                    if reply.status_code >= 500:
                        failures.append(f"{mode.value} {case.method} {case.formatted_path} "
                                        f"{request.get('json')!r:.200}: {reply.status_code} {reply.text[:300]}")
                    elif reply.status_code >= 400 and reply.headers.get("content-type") == "application/json":
                        declared = declared_codes(document["paths"][operation.path][operation.method.lower()])
                        code = reply.json().get("code")
                        if code not in declared.get(reply.status_code, []):
                            undeclared.add(f"{method} {operation.path}: {reply.status_code} {code}")
    assert sent > 20
    assert failures == [], failures[:5]
    assert sorted(undeclared) == [], "every error answer is listed in the operation's OpenAPI (error_responses)"
    assert nonconforming == [], nonconforming[:5]

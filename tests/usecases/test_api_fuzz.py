"""Every service's whole HTTP API — admin endpoints included, called with the admin token — fuzzed from its own
OpenAPI document with schemathesis: whatever is sent, no answer is a 5xx; bad input gets a 4xx with a code.

Before: ГБД ФЛ's `POST /admin/people` and `/admin/people/claim` answered 500 for `minAge` ≥ 65 without `maxAge`.
A mesh of its own (in process: the same apps, a fraction of the time): the fuzz changes registries, modes and
people that no other test should see changed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.support.inprocess import SERVICES, InProcessMesh, start_inprocess_mesh

EXAMPLES = 12  # per operation
# Not fuzzed: moving the mesh clock years ahead would expire every certificate of the mesh mid-fuzz (its bad input
# is tested in tests/e2e/test_mesh_services.py), and regenerating ГБД ФЛ's population at up to 200 000 people
# takes seconds a call. Every other operation is.
SKIPPED = {("shep_gateway", "POST", "/admin/clock"), ("gbd_fl", "POST", "/admin/population/reset")}


@pytest.fixture(scope="module")
async def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[InProcessMesh]:
    mesh = await start_inprocess_mesh(tmp_path_factory.mktemp("fuzzed"))
    yield mesh
    await mesh.close()


def _cases(operation: schemathesis.APIOperation) -> list[schemathesis.Case]:
    """Examples drawn by Hypothesis from the operation's schema (sent afterwards, on this test's event loop)."""
    drawn: list[schemathesis.Case] = []

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def draw(case: schemathesis.Case) -> None:
        drawn.append(case)

    draw()
    return drawn


@pytest.mark.parametrize("service", SERVICES)
async def test_no_call_to_a_service_answers_5xx(fuzzed: InProcessMesh, service: str):
    schema = schemathesis.openapi.from_dict(fuzzed.app(service).openapi())
    failures: list[str] = []
    sent = 0
    async with fuzzed.client(service) as http:
        for result in schema.get_all_operations():
            operation = result.ok()
            if (service, operation.method.upper(), operation.path) in SKIPPED:
                continue
            for case in _cases(operation):
                request = case.as_transport_kwargs(base_url=str(http.base_url).rstrip("/"))
                reply = await http.request(request["method"], request["url"], params=request.get("params"),
                                           headers={**(request.get("headers") or {}), **fuzzed.admin},
                                           json=request.get("json"), content=request.get("data"))
                sent += 1
                if reply.status_code >= 500:
                    failures.append(f"{case.method} {case.formatted_path} {request.get('json')!r:.200}: "
                                    f"{reply.status_code} {reply.text[:300]}")
    assert sent > 20
    assert failures == [], failures[:5]

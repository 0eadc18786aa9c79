"""Scenarios per flow on real processes and a real RabbitMQ (issue 20, docs/scenarios.md): flows of one district,
run side by side from threads as parallel tests would, each under its own scenario (or none), each ending as its
scenario forces — and none as another's does. And docs/scenarios.md's blocks, run as written."""

from __future__ import annotations

import json
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from meshkit.mesh_runner import SPECS
from meshkit.scenarios import Scenario
from meshkit.sdk import KitError
from services.mio_workstation.domain import FORCED_GROUNDS, IDENTITY_NOT_CONFIRMED
from tests.support.checkout import Checkout
from tests.support.docs_pages import page_block
from tests.support.mesh import MeshHandle

pytestmark = pytest.mark.e2e

DISTRICT = "kyzylorda"
JOB_SEEKER = "employment.job-seeker-registration"


def _flow(mesh: MeshHandle, scenario: Scenario | None) -> dict[str, Any]:
    """One test's flow, with its own kit (as a test in another worker would have): a new citizen applies, naming
    ``scenario``; the mesh clock is skipped through its steps; the case as ИС МИО ended it and as the portal
    shows it."""
    with mesh.kit() as kit:
        citizen = kit.new_citizen(district=DISTRICT, jobless=True)
        session = kit.login_eds(citizen)
        try:
            case = session.apply(citizen.signed_request(JOB_SEEKER), district=DISTRICT, scenario=scenario)
        except KitError as exc:  # refused at the portal: nothing sent
            return {"refused": (exc.status, exc.code), "cases": session.applications()}
        number = kit.wait_for_status(case["correlationId"], "RECEIVED", timeout_s=60)["applicationNumber"]
        kit.settle(number)
        mio = kit.mio_application(number)
        final = "COMPLETED" if mio["status"] == "COMPLETED" else "REFUSED"
        return {"mio": mio, "portal": kit.wait_for_status(case["correlationId"], final, timeout_s=60)}


def test_parallel_flows_on_one_district_each_end_as_their_own_scenario_says(mesh: MeshHandle) -> None:
    with mesh.kit() as kit, kit.scenario("gbdfl:no-data") as no_data, \
            kit.scenario("mio:refuse:pensioner") as pensioner, kit.scenario("mio:overdue:register") as late, \
            kit.scenario("nuc:revoked") as revoked, ThreadPoolExecutor(max_workers=5) as pool:
        flows = list(pool.map(lambda s: _flow(mesh, s), [no_data, pensioner, None, late, revoked]))
    (gbdfl, refused, plain, overdue, eds) = flows
    assert eds == {"refused": (401, "EDS_CERTIFICATE_REVOKED"), "cases": []}, "НУЦ said revoked: nothing sent"
    assert (gbdfl["portal"]["status"], gbdfl["portal"]["refusalReason"]) == ("REFUSED", IDENTITY_NOT_CONFIRMED)
    assert (refused["portal"]["status"], refused["portal"]["refusalReason"]) == ("REFUSED",
                                                                              FORCED_GROUNDS["pensioner"])
    assert (plain["portal"]["status"], plain["portal"]["refusalReason"]) == ("COMPLETED", None)
    assert overdue["portal"]["status"] == "COMPLETED"
    assert [s["step"] for s in overdue["mio"]["timeline"] if s["overdue"]] == ["register"]
    for flow in (gbdfl, refused, plain):
        assert not any(s["overdue"] for s in flow["mio"]["timeline"]), "no other flow's step made late"


def test_a_submission_naming_a_removed_scenario_is_refused_and_sends_nothing(mesh: MeshHandle) -> None:
    with mesh.kit() as kit:
        with kit.scenario("gbdfl:no-data") as ended:
            pass
        citizen = kit.new_citizen(district=DISTRICT, jobless=True)
        session = kit.login_eds(citizen)
        with pytest.raises(KitError) as refused:
            session.apply(citizen.signed_request(JOB_SEEKER), district=DISTRICT, scenario=ended)
        assert (refused.value.status, refused.value.code) == (410, "SCENARIO_EXPIRED")
        assert session.applications() == []
        assert ended.id not in [s.id for s in kit.scenarios.list()]


# ---- docs/scenarios.md, run as written -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, mesh: MeshHandle) -> Path:
    """A checkout as a user has it after `make run`: .venv and var/mesh.json, in a directory of its own."""
    return Checkout.of(tmp_path_factory.mktemp("scenarios-checkout"), mesh).directory


def _run(command: list[str], *, workdir: Path) -> str:
    return Checkout(workdir).run(*command)


def _bash(script: str, *, workdir: Path) -> str:
    return _run(["bash", "-euo", "pipefail", "-c", script], workdir=workdir)


def _json_outputs(stdout: str) -> list[Any]:
    """The JSON values printed one after another (meshctl's, curl's)."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while (start := min((i for i in (stdout.find("{", at), stdout.find("[", at)) if i >= 0), default=-1)) >= 0:
        value, at = decoder.raw_decode(stdout, start)
        found.append(value)
    return found


def _on_this_mesh(block: str, mesh: MeshHandle) -> str:
    """The block with `make run`'s default ports (8001-8006) replaced by this mesh's."""
    defaults = {str(SPECS[name].default_port): port for name, port in mesh.config.ports.items()}
    return re.sub(r"\b(?:localhost|127\.0\.0\.1):(800[1-6])\b", lambda m: f"127.0.0.1:{defaults[m.group(1)]}",
                  block)


def test_the_kit_block_runs_as_written(workdir: Path) -> None:
    snippet = workdir / "scenario_kit.py"
    snippet.write_text(page_block("docs/scenarios.md", "mesh.scenario(\"gbdfl:no-data\")"))
    assert _run([sys.executable, str(snippet)], workdir=workdir).strip().splitlines()[-1] == IDENTITY_NOT_CONFIRMED


def test_the_meshctl_block_runs_as_written(workdir: Path) -> None:
    lines = page_block("docs/scenarios.md", "meshctl scenario add").splitlines()
    split = next(i for i, line in enumerate(lines) if "scenario add" in line) + 1
    added = _json_outputs(_bash("\n".join(lines[:split]), workdir=workdir))[-1]
    assert added["rules"] == ["mio:refuse:employed"]
    rest = _json_outputs(_bash("\n".join(lines[split:]).replace("<scenario id>", added["scenarioId"]), workdir=workdir))
    refused, listed, removed = rest[-3:]
    assert (refused["status"], refused["refusalReason"]) == ("REFUSED", FORCED_GROUNDS["employed"])
    assert added["scenarioId"] in [s["scenarioId"] for s in listed]
    assert removed["scenarioId"] == added["scenarioId"]


def test_the_http_block_runs_as_written(mesh: MeshHandle, workdir: Path) -> None:
    block = _on_this_mesh(page_block("docs/scenarios.md", "curl -s -X POST localhost:8002/admin/scenarios"), mesh)
    registered, listed = _json_outputs(_bash(block, workdir=workdir))
    assert registered["rules"] == ["gbdfl:timeout"]
    assert registered["scenarioId"] in [s["scenarioId"] for s in listed["scenarios"]]
    with mesh.kit() as kit:
        kit.scenarios.remove(registered["scenarioId"])

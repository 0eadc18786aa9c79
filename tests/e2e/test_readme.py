"""The README, run as written against a fresh mesh of real processes — and a case followed through the six log
files by its correlationId.

Before: the README's own-member snippet replaced ``gbdfl.person-by-iin``, after which every application without a
district failed ``Server.RouteLookupDenied``; a case's correlation id appeared on one line of one log file; key
spellings differed; uvicorn's and aio-pika's lines were plain text among the JSON.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from meshkit.sdk import REPO_ROOT, Mesh
from tests.support.mesh import MeshHandle, private_mesh

pytestmark = pytest.mark.e2e
README = REPO_ROOT / "README.md"
SNAKE_IDS = ("correlation_id", "message_id", "service_id", "application_number")


def readme_block(containing: str) -> str:
    """The fenced code block of the README that contains ``containing``, as written."""
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", README.read_text(), flags=re.DOTALL | re.MULTILINE)
    found = [b for b in blocks if containing in b]
    assert len(found) == 1, f"one README block with {containing!r}, found {len(found)}"
    return found[0]


@pytest.fixture(scope="module")
def fresh_mesh(tmp_path_factory: pytest.TempPathFactory):
    with private_mesh(tmp_path_factory, name="readme") as handle:
        yield handle


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, fresh_mesh: MeshHandle) -> Path:
    """A checkout as a user has it after `make run`: .venv and var/mesh.json, in a directory of its own."""
    directory = tmp_path_factory.mktemp("readme-checkout")
    (directory / ".venv").symlink_to(Path(sys.executable).resolve().parent.parent
                                     if not (REPO_ROOT / ".venv").exists() else REPO_ROOT / ".venv")
    fresh_mesh.write_mesh_file(directory / "var" / "mesh.json")
    return directory


def _run(command: list[str], *, workdir: Path, timeout_s: float = 240) -> subprocess.CompletedProcess:
    env = os.environ | {"MESH_FILE": str(workdir / "var" / "mesh.json"), "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout_s,
                          check=False)


def test_the_own_member_snippet_leaves_citizens_routed_by_their_address(fresh_mesh: MeshHandle, workdir: Path):
    snippet = workdir / "own_member.py"
    snippet.write_text(readme_block("from meshkit.members import MeshEndpoints, enroll, grant"))
    ran = _run([sys.executable, str(snippet)], workdir=workdir)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert "'found': False" in ran.stdout

    with fresh_mesh.kit() as kit:
        citizen = kit.new_citizen(district="almaty", min_age=25, max_age=50, jobless=True)
        assert citizen.password is not None
        case = kit.login(citizen.iin, citizen.password).apply(
            citizen.signed_request("employment.job-seeker-registration"))  # no district: routed by address
        received = kit.wait_for_status(case["correlationId"], "RECEIVED", timeout_s=60)
        kit.settle(received["applicationNumber"])
        assert kit.wait_for_status(case["correlationId"], "COMPLETED", timeout_s=60)["status"] == "COMPLETED"
        lookup = next(s for s in kit.http.get(f"{kit.info.gateway}/services").json()["services"]
                      if s["id"] == "gbdfl.person-by-iin")
    assert {"shep", "tester.one"} <= set(lookup["callers"])


def test_the_time_skipping_flow_runs_as_written(workdir: Path):
    block = readme_block("meshctl clock --settle         # jump")
    ran = _run(["bash", "-euo", "pipefail", "-c", block], workdir=workdir)
    assert ran.returncode == 0, (ran.stdout[-2000:], ran.stderr[-3000:])
    outputs = [json.loads(chunk) for chunk in re.findall(r"^\{.*?^\}", ran.stdout, flags=re.DOTALL | re.MULTILINE)]
    waited, referral = outputs[-2], outputs[-1]
    assert (waited["serviceId"], waited["status"]) == ("employment.job-seeker-registration", "COMPLETED")
    assert (referral["serviceId"], referral["status"]) == ("employment.active-measures-referral", "COMPLETED")
    settled = next(o for o in outputs if "jumps" in o)
    assert [a["status"] for a in settled["applications"]] == ["COMPLETED"]
    assert all(not step["overdue"] for step in settled["applications"][0]["steps"])


def test_the_centre_visit_snippet_runs_as_written(workdir: Path):
    """The README's ЦОН visit, in Python, then the same from a shell with `meshctl centre visit`."""
    snippet = workdir / "centre_visit.py"
    snippet.write_text(readme_block("desk = mesh.operator_desk(\"mamlyut\")"))
    ran = _run([sys.executable, str(snippet)], workdir=workdir)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert "Поступившие из ЦОН" in ran.stdout
    assert "citizen@example.kz" in ran.stdout

    block = readme_block("meshctl centre visit --branch almaty-almaly")
    citizen = _run(["bash", "-euo", "pipefail", "-c", block.splitlines()[0]], workdir=workdir)
    assert citizen.returncode == 0, citizen.stderr[-3000:]
    directory = json.loads(citizen.stdout)["directory"]
    visit_lines = block.splitlines()[1:3]
    command = "\n".join(visit_lines).replace("var/citizens/<iin>", directory)
    visited = _run(["bash", "-euo", "pipefail", "-c", command], workdir=workdir)
    assert visited.returncode == 0, (visited.stdout[-2000:], visited.stderr[-3000:])
    visit = json.loads(visited.stdout)
    assert (visit["status"], visit["state"], visit["delivery"]) == ("COMPLETED", "HANDED_OUT", "in_person"), visit
    assert all(step["overdue"] is False for step in visit["timeline"]), visit["timeline"]
    for line in block.splitlines()[3:]:
        assert _run(["bash", "-euo", "pipefail", "-c", line.split("#")[0]], workdir=workdir).returncode == 0, line


def test_the_organisation_snippet_runs_as_written(workdir: Path):
    """The README's organisation (BIN login, seed 001) and document-check snippet, as written."""
    snippet = workdir / "organisation.py"
    snippet.write_text(readme_block("boss = mesh.new_representative("))
    ran = _run([sys.executable, str(snippet)], workdir=workdir)
    assert ran.returncode == 0, ran.stderr[-3000:]
    completed, refused = ran.stdout.strip().splitlines()
    assert completed == "COMPLETED"
    assert refused.startswith("Срок действия документа, удостоверяющего личность"), refused


def test_a_case_can_be_followed_through_the_log_files_by_its_correlation_id(fresh_mesh: MeshHandle, workdir: Path):
    """Every service that handled the case has lines carrying its correlationId; every line of every file is JSON
    with one spelling of the ids and the mesh time beside the wall time."""
    with Mesh.from_file(workdir / "var" / "mesh.json") as kit:
        citizen = kit.new_citizen(district="mamlyut", min_age=25, max_age=50, jobless=True)
        assert citizen.password is not None
        kit.open_card("mamlyut", citizen.iin, kind="unemployed")
        case = kit.login(citizen.iin, citizen.password).apply(citizen.signed_request(  # seed 003: ИС ЦОН hears it
            "employment.unemployed-certificate", periodFrom="2026-01-01", periodTo="2026-06-30"))
        correlation_id = case["correlationId"]
        number = kit.wait_for_status(correlation_id, "RECEIVED", timeout_s=60)["applicationNumber"]
        kit.settle(number)
        kit.wait_for_status(correlation_id, "COMPLETED", timeout_s=60)
        until_notified = kit.con_notices(number)
        assert [n["status"] for n in until_notified][-1] == "COMPLETED"

    carrying: dict[str, list[dict]] = {}
    for path in sorted((fresh_mesh.config.var_dir / "logs").glob("*.log")):
        for number_of_line, line in enumerate(path.read_text().splitlines(), start=1):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                pytest.fail(f"{path.name}:{number_of_line} is not JSON: {line[:200]}")
            assert {"service", "timestamp", "meshTime", "event"} <= set(record), f"{path.name}:{number_of_line}"
            assert not set(SNAKE_IDS) & set(record), f"{path.name}:{number_of_line}: one spelling: {line[:200]}"
            assert citizen.iin not in line, f"{path.name}:{number_of_line}: no IIN in a log line"
            if record.get("correlationId") == correlation_id:
                carrying.setdefault(path.stem, []).append(record)
    assert set(carrying) == {"portal", "shep_gateway", "gbd_fl", "mio_workstation", "con_operator"}, \
        "НУЦ answers OCSP about certificates, not cases; every other service handled this one"
    assert {r["event"] for r in carrying["shep_gateway"]} >= {"message_routed"}
    assert any(r.get("applicationNumber") == number for r in carrying["mio_workstation"])
    routed = [r for r in carrying["shep_gateway"] if r["event"] == "message_routed"]
    assert all(r.get("messageId") and r.get("serviceId") for r in routed)

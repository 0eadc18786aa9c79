"""The README and the docs/ pages, run as written against a fresh mesh of real processes — and a case followed
through the six log files by its correlationId.

Which blocks run (page → the block, found by a string it contains):

- README.md → the citizen's case with meshctl, and the same with the kit
- docs/own-member.md → a member system of your own; docs/documents.md → openssl on the envelope it saved
- docs/flows.md → people and logins (meshctl and the kit), the МИО office in manual mode (meshctl act), an office
  application in Python, skipping time (meshctl clock --settle), the ЦОН visit (the kit, then meshctl centre
  visit), the outbox (meshctl mail, curl), the organisation, and — last, as it moves the clock back — every
  `meshctl clock` form
- docs/documents.md → download with curl, then `meshctl verify`
- docs/operations.md → following a case through the log files with grep; last, the admin API's curl calls (they
  reset the clock as well)

Every other shell or Python block of the pages is marked ```` ```sh norun ```` with the reason beside it
(tests/unit/test_docs_pages.py holds each page to that). Placeholders (``<iin>``, ``<case id>``, an application
number) are replaced with what the mesh made, and
``make run``'s default ports with the private mesh's.

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

from meshkit.mesh_runner import SPECS
from meshkit.sdk import REPO_ROOT, Mesh
from tests.support.checkout import Checkout
from tests.support.docs_pages import page_block
from tests.support.mesh import MeshHandle, private_mesh

pytestmark = pytest.mark.e2e
SNAKE_IDS = ("correlation_id", "message_id", "service_id", "application_number")
NUMBER = re.compile(r"\b[A-Z]{3}-20\d\d-\d{6}\b")


@pytest.fixture(scope="module")
def fresh_mesh(tmp_path_factory: pytest.TempPathFactory):
    with private_mesh(tmp_path_factory, name="readme") as handle:
        yield handle


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, fresh_mesh: MeshHandle) -> Path:
    """A checkout as a user has it after `make run`: .venv, var/mesh.json and var/logs, in a directory of its own."""
    return Checkout.of(tmp_path_factory.mktemp("readme-checkout"), fresh_mesh, logs=True).directory


def _run(command: list[str], *, workdir: Path, timeout_s: float = 240,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = os.environ | {"MESH_FILE": str(workdir / "var" / "mesh.json"), "PYTHONPATH": str(REPO_ROOT)} | (env or {})
    return subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout_s,
                          check=False)


def _bash(script: str, *, workdir: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    ran = _run(["bash", "-euo", "pipefail", "-c", script], workdir=workdir, env=env)
    assert ran.returncode == 0, (script, ran.stdout[-2000:], ran.stderr[-3000:])
    return ran


def _python(source: str, *, workdir: Path, name: str) -> subprocess.CompletedProcess:
    snippet = workdir / f"{name}.py"
    snippet.write_text(source)
    ran = _run([sys.executable, str(snippet)], workdir=workdir)
    assert ran.returncode == 0, ran.stderr[-3000:]
    return ran


def _json_outputs(stdout: str) -> list[dict]:
    """The JSON objects meshctl printed, one after another (each indented, closing at the line's start)."""
    return [json.loads(chunk) for chunk in re.findall(r"^\{.*?^\}", stdout, flags=re.DOTALL | re.MULTILINE)]


def _on_this_mesh(block: str, mesh: MeshHandle) -> str:
    """The block with `make run`'s default ports (8001-8006) replaced by the private mesh's."""
    defaults = {str(SPECS[name].default_port): port for name, port in mesh.config.ports.items()}
    return re.sub(r"\b(?:localhost|127\.0\.0\.1):(800[1-6])\b", lambda m: f"127.0.0.1:{defaults[m.group(1)]}", block)


def test_the_own_member_snippet_leaves_citizens_routed_by_their_address(fresh_mesh: MeshHandle, workdir: Path):
    """docs/own-member.md, then docs/documents.md's openssl check of the envelope it saved."""
    ran = _python(page_block("docs/own-member.md", "from meshkit.members import MeshEndpoints, enroll, grant"),
                  workdir=workdir, name="own_member")
    assert "'found': False" in ran.stdout
    assert json.loads((workdir / "envelope.json").read_text())["signature"]

    verified = _bash(_on_this_mesh(page_block("docs/documents.md", "openssl cms -verify"), fresh_mesh),
                     workdir=workdir)
    assert "Verification successful" in verified.stderr, verified.stderr

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


def test_the_readme_citizen_case_runs_as_written(workdir: Path):
    """The front door's one case: with meshctl, then with the kit down to the verified PDF."""
    ran = _bash(page_block("README.md", "meshctl new citizen --district kyzylorda"), workdir=workdir)
    created, login, profile, applied, waited = _json_outputs(ran.stdout)
    assert created["directory"].endswith("var/citizens/aigerim")
    assert (login["iin"], login["method"]) == (created["iin"], "eds"), login
    assert profile["iin"] == created["iin"]
    assert (applied["serviceId"], applied["status"]) == ("employment.job-seeker-registration", "COMPLETED")
    assert waited["status"] == "COMPLETED"

    ran = _python(page_block("README.md", "mesh.verify_document(pdf)"), workdir=workdir, name="readme_citizen")
    address, status, valid = ran.stdout.strip().splitlines()
    assert address
    assert (status, valid) == ("COMPLETED", "True")


def test_the_people_and_logins_blocks_run_as_written(workdir: Path):
    block = page_block("docs/flows.md", "meshctl login --citizen var/citizens/<iin> --eds")
    first, rest = block.split("\n", 1)
    directory = json.loads(_bash(first, workdir=workdir).stdout)["directory"]
    (workdir / "form.json").write_text(json.dumps({"serviceId": "employment.job-seeker-registration"}))
    ran = _bash(rest.replace("var/citizens/<iin>", directory), workdir=workdir)
    password_login, eds_login, profile, signed = _json_outputs(ran.stdout)
    assert (password_login["method"], eds_login["method"]) == ("password", "eds")
    assert profile["iin"] == password_login["iin"]
    assert signed["signature"]

    ran = _python(page_block("docs/flows.md", "session.me()[\"session\"][\"method\"]"), workdir=workdir,
                  name="people")
    assert ran.stdout.strip().endswith("eds"), ran.stdout


def test_the_mio_office_in_manual_mode_runs_as_written(fresh_mesh: MeshHandle, workdir: Path):
    """docs/flows.md's staff steps with `meshctl act`, on the number the application got."""
    lines = page_block("docs/flows.md", "meshctl mode zhezkazgan manual").splitlines()
    sent = _json_outputs(_bash("\n".join(lines[:3]), workdir=workdir).stdout)[-1]
    with fresh_mesh.kit() as kit:
        number = kit.wait_for_status(sent["correlationId"], "RECEIVED", timeout_s=60)["applicationNumber"]
    acted = _json_outputs(_bash("\n".join(lines[3:]).replace("ZHZ-2026-000001", number), workdir=workdir).stdout)
    assert [a["number"] for a in acted] == [number] * 5
    assert acted[-1]["status"] == "COMPLETED", acted[-1]


def test_the_office_application_snippet_runs_as_written(workdir: Path):
    ran = _python(page_block("docs/flows.md", "clerk.enter(citizen.signed_request("), workdir=workdir,
                  name="office")
    assert ran.stdout.strip().splitlines()[-1] == "COMPLETED", ran.stdout


def test_the_time_skipping_flow_runs_as_written(workdir: Path):
    ran = _bash(page_block("docs/flows.md", "meshctl clock --settle         # jump"), workdir=workdir)
    outputs = _json_outputs(ran.stdout)
    waited, referral = outputs[-2], outputs[-1]
    assert (waited["serviceId"], waited["status"]) == ("employment.job-seeker-registration", "COMPLETED")
    assert (referral["serviceId"], referral["status"]) == ("employment.active-measures-referral", "COMPLETED")
    settled = next(o for o in outputs if "jumps" in o)
    assert [a["status"] for a in settled["applications"]] == ["COMPLETED"]
    assert all(not step["overdue"] for step in settled["applications"][0]["steps"])


def test_the_centre_visit_snippet_runs_as_written(workdir: Path):
    """The ЦОН visit, in Python, then the same from a shell with `meshctl centre visit`."""
    ran = _python(page_block("docs/flows.md", "desk = mesh.operator_desk(\"mamlyut\")"), workdir=workdir,
                  name="centre_visit")
    assert "Поступившие из ЦОН" in ran.stdout
    assert "citizen@example.kz" in ran.stdout

    block = page_block("docs/flows.md", "meshctl centre visit --branch almaty-almaly")
    citizen = _bash(block.splitlines()[0], workdir=workdir)
    directory = json.loads(citizen.stdout)["directory"]
    command = "\n".join(block.splitlines()[1:3]).replace("var/citizens/<iin>", directory)
    visit = json.loads(_bash(command, workdir=workdir).stdout)
    assert (visit["status"], visit["state"], visit["delivery"]) == ("COMPLETED", "HANDED_OUT", "in_person"), visit
    assert all(step["overdue"] is False for step in visit["timeline"]), visit["timeline"]
    for line in block.splitlines()[3:]:
        _bash(line.split("#")[0], workdir=workdir)


def test_the_mail_block_runs_as_written(fresh_mesh: MeshHandle, workdir: Path):
    """docs/flows.md's outbox commands, after the ЦОН visit e-mailed its result (`--id` one that exists)."""
    with fresh_mesh.kit() as kit:
        sent = kit.wait_for_mail(to="citizen@example.kz")[0]
    block = _on_this_mesh(page_block("docs/flows.md", "meshctl mail --to aset@example.kz"), fresh_mesh)
    block = block.replace("--id 7", f"--id {sent['id']}").replace("aset@example.kz", "citizen@example.kz")
    lines = block.splitlines()
    listed = [json.loads(_bash(line.split("  #")[0], workdir=workdir).stdout) for line in lines[:2]]
    assert sent["id"] in [m["id"] for m in listed[0]], listed[0]
    one = json.loads(_bash(lines[2].split("  #")[0], workdir=workdir).stdout)
    assert one["id"] == sent["id"]
    assert all(a["contentBase64"] for a in one["attachments"]), one
    sms = json.loads(_bash(lines[3].split("  #")[0], workdir=workdir, env={"TOKEN": fresh_mesh.admin_token}).stdout)
    assert all(m["kind"] == "sms" for m in sms["mail"]), sms


def test_the_organisation_snippet_runs_as_written(workdir: Path):
    """The organisation (BIN login, seed 001) and document-check snippet, as written."""
    ran = _python(page_block("docs/flows.md", "boss = mesh.new_representative("), workdir=workdir,
                  name="organisation")
    completed, refused = ran.stdout.strip().splitlines()
    assert completed == "COMPLETED"
    assert refused.startswith("Срок действия документа, удостоверяющего личность"), refused


def test_a_document_downloads_and_verifies_as_written(fresh_mesh: MeshHandle, workdir: Path):
    """docs/documents.md: the result with curl (JSON and PDF), then `meshctl verify` on the PDF."""
    with fresh_mesh.kit() as kit:
        citizen = kit.new_citizen(district="kyzylorda", jobless=True)
        session = kit.login_eds(citizen)
        case = session.apply(citizen.signed_request("employment.job-seeker-registration"))
        kit.settle(kit.wait_for_status(case["correlationId"], "RECEIVED", timeout_s=60)["applicationNumber"])
        kit.wait_for_status(case["correlationId"], "COMPLETED", timeout_s=60)
    download = _on_this_mesh(page_block("docs/documents.md", "document.pdf > result.pdf"), fresh_mesh)
    _bash(download, workdir=workdir, env={"TOKEN": session.token, "IIN": citizen.iin, "CASE": case["correlationId"]})
    assert set(json.loads((workdir / "result.json").read_text())) >= {"content", "signature"}
    assert (workdir / "result.pdf").read_bytes().startswith(b"%PDF")

    verify = page_block("docs/documents.md", "meshctl verify result.pdf").splitlines()[0].split("#")[0]
    answer = json.loads(_bash(verify, workdir=workdir).stdout)
    assert answer["valid"] is True, answer


def test_a_case_can_be_followed_through_the_log_files_by_its_correlation_id(fresh_mesh: MeshHandle, workdir: Path):
    """Every service that handled the case has lines carrying its correlationId; every line of every file is JSON
    with one spelling of the ids and the mesh time beside the wall time; docs/operations.md's grep finds them."""
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

    grep = page_block("docs/operations.md", "grep -h '\"correlationId\":\"<case id>\"'")
    followed = _bash(grep.replace("<case id>", correlation_id), workdir=workdir).stdout.splitlines()
    assert {line.split()[1] for line in followed} == {r["service"] for rs in carrying.values() for r in rs}, followed
    assert len(followed) >= sum(len(records) for records in carrying.values())


def test_every_clock_command_runs_as_written(fresh_mesh: MeshHandle, workdir: Path):
    """docs/flows.md's `meshctl clock` forms, ending with --reset: last, since it moves the clock back."""
    with fresh_mesh.kit() as kit:
        citizen = kit.new_citizen(district="kyzylorda", jobless=True)
        case = kit.login_eds(citizen).apply(citizen.signed_request("employment.job-seeker-registration"))
        number = kit.wait_for_status(case["correlationId"], "RECEIVED", timeout_s=60)["applicationNumber"]
        block = page_block("docs/flows.md", "meshctl clock --reset")
        ran = _bash(block.replace("KZO-2026-000001", number), workdir=workdir)
        assert kit.case(number)["status"] == "COMPLETED"
    read, *_, reset = _json_outputs(ran.stdout)
    assert {"now", "state"} <= set(read), read
    assert reset["state"]["speed"] == 1, reset


def test_the_admin_api_calls_run_as_written(fresh_mesh: MeshHandle, workdir: Path):
    """docs/operations.md's curl calls, after the clock commands (it resets the clock too): a citizen's certificates
    issued by НУЦ, one revoked and found so by openssl's OCSP client, the clock moved and reset, a grant and its
    reset, one case's records in the message log and the whole chain checked."""
    with fresh_mesh.kit() as kit:
        citizen = kit.new_citizen(district="kyzylorda", jobless=True)
        case = kit.login_eds(citizen).apply(citizen.signed_request("employment.job-seeker-registration"))
        kit.settle(case["correlationId"], timeout_s=120)
        block = _on_this_mesh(page_block("docs/operations.md", 'AUTH="Authorization: Bearer $TOKEN"'), fresh_mesh)
        ran = _bash(block.replace("<case id>", case["correlationId"]), workdir=workdir)
        assert kit.clock()["state"]["speed"] == 1, "the block ends with the clock reset"
    assert '"outcome":"settled"' in ran.stdout, ran.stdout[-2000:]
    # with the mesh clock ahead of this machine's (the settle above jumped it), openssl first warns that OCSP's times
    # are not yet valid, then says the status on a line of its own
    assert re.search(r"^(cert\.pem: )?revoked$", ran.stdout, flags=re.MULTILINE), ran.stdout[-1500:]
    assert case["correlationId"] in ran.stdout, "the log's records of the case"
    assert '"ok":true' in ran.stdout.replace(" ", ""), ran.stdout[-500:]  # the chain holds


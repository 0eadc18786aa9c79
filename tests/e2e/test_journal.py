"""A case asserted end to end with wait-until and the journal, no sleep anywhere in the test (issue 20): a citizen's
application through the portal to COMPLETED on real processes and RabbitMQ — waited for as the portal's COMPLETED
notification landing in the journal, its hops read back from the journal in the order they happened (the portal's
HTTP edge, the gateway's checks and routing, ИС МИО consuming it, the notices back, the receipts) — and an HTTP
refusal that is in the journal with the IIN, and in the service's log with its code, route and correlationId but
without it."""

from __future__ import annotations

import json
import re
import sys
import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from typer.testing import CliRunner

from meshkit import cli
from meshkit.journal_kit import WaitTimedOut
from meshkit.mesh_runner import SPECS
from meshkit.sdk import Mesh
from tests.support.checkout import Checkout
from tests.support.docs_pages import page_block
from tests.support.journal import heard_by_portal
from tests.support.mesh import MeshHandle

JOB_SEEKER = "employment.job-seeker-registration"
BAD_CENTURY = "850701900007"  # digit 7 is 9: no century, refused before anything is looked up


@pytest.fixture(scope="module")
def kit(mesh: MeshHandle) -> Iterator[Mesh]:
    with mesh.kit() as kit:
        yield kit



def test_a_case_to_completed_waited_for_and_followed_hop_by_hop_in_the_journal(kit: Mesh):
    citizen = kit.new_citizen(district="kyzylorda", min_age=25, max_age=50, jobless=True)
    session = kit.login_eds(citizen)
    cid = session.apply(citizen.signed_request(JOB_SEEKER))["correlationId"]

    received = heard_by_portal(kit, cid, "RECEIVED")
    kit.settle(received["applicationNumber"])  # ИС МИО's simulated staff, each step at its time on the mesh clock
    completed = heard_by_portal(kit, cid, "COMPLETED")
    assert (completed["iin"], completed["applicationNumber"]) == (citizen.iin, received["applicationNumber"])
    assert completed["payload"]["document"], "the signed result, as the portal received it"
    # the gateway has the portal's receipt of that notice: nothing of the case is left in flight
    kit.wait_until(timeout_s=60, kind="envelope", service_id="shep.delivery-receipt",
                   in_reply_to=completed["messageId"])

    hops = kit.journal(correlation_id=cid)
    assert [h["atTs"] for h in hops] == sorted(h["atTs"] for h in hops)
    edge = next(h for h in hops if h["kind"] == "http" and h["route"] == "/citizens/{iin}/applications")
    sent = next(h for h in hops if h["kind"] == "envelope" and h["serviceId"] == JOB_SEEKER
                and h["messageType"] == "REQUEST" and h["outcome"] == "routed")  # parked first: routed by address
    consumed = next(h for h in hops if h["kind"] == "consumed" and h["messageId"] == sent["messageId"])
    assert (edge["service"], edge["status"], edge["iin"]) == ("portal", 202, citizen.iin)
    assert (sent["service"], sent["sender"], sent["outcome"], sent["channel"]) == (
        "shep_gateway", "portal", "routed", "async")
    assert sent["checks"]["signature"]["ok"] is True
    assert sent["checks"]["encryption"] == "ok"
    assert sent["checks"]["payload"] == "ok"
    assert (consumed["service"], consumed["recipient"]) == ("mio_workstation", sent["recipient"])
    assert consumed["payload"] == sent["payload"], "the recipient saw what the gateway checked"
    assert edge["atTs"] <= sent["atTs"] <= consumed["atTs"] <= completed["atTs"]
    statuses = [h["payload"]["status"] for h in hops if h["kind"] == "consumed" and h["service"] == "portal"]
    assert statuses[0] == "RECEIVED"
    assert statuses[-1] == "COMPLETED"
    assert kit.journal_kit.count(correlation_id=cid) == len(hops)
    assert kit.journal_kit.unmatched(correlation_id=cid) == []


def test_a_wait_that_times_out_says_what_it_saw_instead(kit: Mesh, mesh: MeshHandle, tmp_path):
    citizen = kit.new_citizen(district="kyzylorda", min_age=25, max_age=50, jobless=True)
    cid = kit.login_eds(citizen).apply(citizen.signed_request(JOB_SEEKER))["correlationId"]
    heard_by_portal(kit, cid, "RECEIVED")
    with pytest.raises(WaitTimedOut) as timed_out:
        kit.wait_until(timeout_s=1, service="portal", kind="consumed", correlation_id=cid,
                       payload={"status": "NOT_ACCEPTED"})
    assert any(m["missed"] == ["payload.status"] for m in timed_out.value.nearest_misses)

    ran = CliRunner().invoke(cli.app, ["wait", "--mesh", str(mesh.write_mesh_file(tmp_path / "mesh.json")),
                                       "--where", f"correlationId={cid}", "--where", "service=portal",
                                       "--where", "payload.status=RECEIVED", "--timeout", "60s"])
    assert ran.exit_code == 0, ran.output
    assert json.loads(ran.stdout)[0]["payload"]["status"] == "RECEIVED"


def test_an_http_refusal_is_in_the_journal_and_in_the_log_without_the_iin(kit: Mesh, mesh: MeshHandle):
    correlation = f"journal-refusal-{uuid.uuid4()}"
    reply = kit.http.post(f"{kit.info.portal}/auth/register", json={"iin": BAD_CENTURY, "password": "Kz-2026-secure"},
                          headers={"X-Correlation-Id": correlation})
    assert (reply.status_code, reply.json()["code"]) == (422, "IIN_BAD_CENTURY_DIGIT")
    [entry] = kit.wait_until(timeout_s=30, service="portal", correlation_id=correlation)
    assert (entry["route"], entry["status"], entry["code"], entry["iin"]) == (
        "/auth/register", 422, "IIN_BAD_CENTURY_DIGIT", BAD_CENTURY)

    log = (mesh.config.var_dir / "logs" / "portal.log").read_text(errors="replace")
    [line] = [json.loads(text) for text in log.splitlines()
              if text.startswith("{") and correlation in text and "http_refused" in text]
    assert {key: line[key] for key in ("code", "route", "status", "method", "correlationId")} == {
        "code": "IIN_BAD_CENTURY_DIGIT", "route": "/auth/register", "status": 422, "method": "POST",
        "correlationId": correlation}
    assert BAD_CENTURY not in log, "personal data stays inside the mesh: the journal, never the log"


def test_the_journal_page_runs_as_written(kit: Mesh, mesh: MeshHandle, tmp_path: Path):
    """docs/journal.md's kit snippet (a case to COMPLETED), then its meshctl and curl blocks and its grep for an HTTP
    refusal (one made here), on this mesh."""
    assert kit.http.post(f"{kit.info.portal}/auth/register", json={"iin": BAD_CENTURY}).status_code == 422
    run = partial(Checkout.of(tmp_path, mesh, logs=True).run, timeout_s=300)

    (tmp_path / "snippet.py").write_text(page_block("docs/journal.md", "mesh.wait_until(timeout_s=120"))
    hops = run(sys.executable, "snippet.py").splitlines()
    assert any(" portal http /citizens/{iin}/applications " in hop for hop in hops), hops
    assert any(" mio_workstation consumed REQUEST " in hop for hop in hops), hops

    meshctl = run("bash", "-euo", "pipefail", "-c", page_block("docs/journal.md", "meshctl journal --unmatched"))
    assert '"count":' in meshctl
    assert '"status": "COMPLETED"' in meshctl

    ports = {str(SPECS[name].default_port): str(port) for name, port in mesh.config.ports.items()}
    curl = re.sub(r"localhost:(800[1-6])", lambda m: f"127.0.0.1:{ports[m.group(1)]}",
                  page_block("docs/journal.md", "admin/journal/wait?"))
    assert json.loads(run("bash", "-euo", "pipefail", "-c", curl))["matched"] is True

    refusals = run("bash", "-euo", "pipefail", "-c", page_block("docs/journal.md", '"event":"http_refused"'))
    assert all(json.loads(line)["event"] == "http_refused" for line in refusals.splitlines())

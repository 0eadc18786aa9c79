"""The conformance report on a member that misbehaves on purpose (issue 20), on real processes and RabbitMQ: a
tester's own system in a provider's place that skips «В работе» in one case and notifies out of order in another,
sends ГБД ФЛ a request that breaks its contract, and answers a synchronous call after the caller's deadline —
`meshctl report MEMBER` names each, and exits 1; a member that behaves is reported as conforming."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from meshkit import cli
from meshkit.conformance import member_report
from shared.errors import MeshError
from shared.mesh.envelope import MessageType
from shared.mesh.receipts import RECEIPT_SERVICE
from tests.support.checkout import Checkout
from tests.support.docs_pages import page_block
from tests.support.members import grant, unique_id
from tests.support.mesh import MeshHandle

pytestmark = pytest.mark.e2e


async def _provide(caller, provider, service: str, statuses: list[str]) -> str:
    """One case of ``service``: the caller's request, then ``provider``'s notices with ``statuses`` in that order,
    each heard by the caller."""
    sent = await caller.send(service_id=service, message_type=MessageType.REQUEST, data={"n": 1},
                             correlation_id=str(uuid.uuid4()))
    request = await provider.wait_for(lambda i: str(i.envelope.message_id) == sent["messageId"])
    for status in statuses:
        notice = await provider.send(service_id=service, message_type=MessageType.NOTIFICATION,
                                     data={"status": status}, correlation_id=request.envelope.correlation_id,
                                     recipient=caller.member_id)
        await caller.wait_for(lambda i, mid=notice["messageId"]: str(i.envelope.message_id) == mid)
    return str(request.envelope.correlation_id)


async def test_a_member_that_misbehaves_on_purpose_is_reported_on(mesh: MeshHandle, member_factory, tmp_path: Path):
    caller, bad, good = (await member_factory("caller"), await member_factory("misbehaving"),
                         await member_factory("behaving"))
    notified, served_well = unique_id("test.notified"), unique_id("test.notified")
    for service, provider in ((notified, bad), (served_well, good)):
        await grant(mesh, service_id=service, channel="async", providers=[provider.member_id],
                    callers=[caller.member_id], notify=[caller.member_id])
    skipped = await _provide(caller, bad, notified, ["RECEIVED", "COMPLETED"])  # «В работе» missing
    shuffled = await _provide(caller, bad, notified, ["IN_PROGRESS", "RECEIVED"])  # out of order, no end
    await _provide(caller, good, served_well, ["RECEIVED", "IN_PROGRESS", "COMPLETED"])

    # A request to ГБД ФЛ without the IIN its contract requires: refused by the gateway, the sender named.
    await grant(mesh, service_id="gbdfl.person-by-iin", callers=[bad.member_id])
    await bad.send(service_id="gbdfl.person-by-iin", message_type=MessageType.REQUEST, data={"name": "no iin"})

    # An answer after the caller's deadline: the caller is told Server.Timeout, the answer refused as late.
    slow = unique_id("test.late")
    await grant(mesh, service_id=slow, channel="sync", providers=[bad.member_id], callers=[caller.member_id])
    released = asyncio.Event()

    async def too_late(_incoming):
        await released.wait()
        return {"late": True}

    bad.runtime.serve(service_id=slow, handler=too_late)
    with pytest.raises(MeshError) as caught:
        await caller.runtime.request(service_id=slow, data={}, timeout_s=1.5)
    assert caught.value.code == "Server.Timeout"
    released.set()

    with mesh.kit() as kit:
        refused = await asyncio.to_thread(kit.wait_until, timeout_s=60, at_least=2, kind="envelope",
                                          sender=bad.member_id, outcome="refused")
        assert {e["code"] for e in refused} >= {"Server.LateResponse"}, refused
        # its four deliveries receipted: the two requests, and the ERROR the gateway sent it for each refusal
        await asyncio.to_thread(kit.wait_until, timeout_s=60, at_least=4, kind="envelope", sender=bad.member_id,
                                serviceId=RECEIPT_SERVICE)
        report = await asyncio.to_thread(member_report, kit, bad.member_id)
        behaved = await asyncio.to_thread(member_report, kit, good.member_id)

    print(json.dumps(report, ensure_ascii=False, indent=1)[:3000])
    assert report["verdict"] == "does not conform"
    assert [v["serviceId"] for v in report["contractViolations"]] == ["gbdfl.person-by-iin"], report["refusals"]
    assert [late["code"] for late in report["late"]] == ["Server.LateResponse"], report["late"]
    cases = {c["correlationId"]: c for c in report["cases"]}
    assert (cases[skipped]["missing"], cases[skipped]["outOfOrder"], cases[skipped]["final"]) == (
        [f"IN_PROGRESS to {caller.member_id}"], False, "COMPLETED")
    assert (cases[shuffled]["outOfOrder"], cases[shuffled]["final"]) == (True, None)
    assert report["sent"]["byType"]["NOTIFICATION"] == 4
    assert report["received"]["total"] == 3  # two async requests and one sync
    assert report["received"]["receiptsSent"] == report["received"]["deliveries"]["DELIVERED"] == 4
    assert (behaved["verdict"], behaved["problems"]) == ("conforms", 0), behaved

    mesh_file = mesh.write_mesh_file(tmp_path / "mesh.json")
    shown = CliRunner().invoke(cli.app, ["report", bad.member_id, "--mesh", str(mesh_file)])
    assert shown.exit_code == 1, shown.output
    assert "does not conform" in shown.stdout
    assert "missing IN_PROGRESS" in shown.stdout
    assert "out of order" in shown.stdout
    assert "contract: Client." in shown.stdout
    assert "Server.LateResponse" in shown.stdout
    fine = CliRunner().invoke(cli.app, ["report", good.member_id, "--json", "--mesh", str(mesh_file)])
    assert fine.exit_code == 0, fine.output
    assert json.loads(fine.stdout)["verdict"] == "conforms"


def test_an_unknown_member_is_refused_with_its_code(mesh: MeshHandle, tmp_path: Path):
    shown = CliRunner().invoke(cli.app, ["report", "no.such.member", "--mesh",
                                         str(mesh.write_mesh_file(tmp_path / "mesh.json"))])
    assert shown.exit_code == 1
    assert json.loads(shown.stderr)["code"] == "MEMBER_NOT_FOUND"


def test_the_mesh_own_mio_conforms_on_a_centre_case(mesh: MeshHandle, tmp_path: Path):
    """The report against the mesh's own ИС МИО, on one ЦОН visit to its end (mamlyut's certificate: a term of 3
    working days, seed 003 table 2): every status in order to ИС ЦОН and to the portal, none missing, within the
    term — what a tester's system in its place is measured against."""
    with mesh.kit() as kit:
        citizen = kit.new_citizen(district="mamlyut", min_age=25, max_age=50, jobless=True, register=False)
        kit.open_card("mamlyut", citizen.iin, kind="unemployed")
        desk = kit.operator_desk("mamlyut", index=1)
        ticket = kit.take_ticket("mamlyut", "employment.unemployed-certificate")
        desk.call(ticket["id"])
        visit = desk.sign(desk.intake(ticket["id"], citizen.iin, periodFrom="2026-01-01", periodTo="2026-06-30"))
        received = desk.wait(visit, "RECEIVED", "IN_PROGRESS", "COMPLETED", timeout_s=60)
        kit.settle(received["applicationNumber"])
        desk = kit.operator_desk("mamlyut", index=1)  # the skip outlived the login
        assert desk.wait(visit, timeout_s=60)["status"] == "COMPLETED"
        desk.close(ticket["id"])
        report = member_report(kit, "mio.mamlyut")
    [mine] = [c for c in report["cases"] if c["correlationId"] == visit["correlationId"]]
    assert mine["statuses"] == ["RECEIVED", "IN_PROGRESS", "COMPLETED"], mine  # as ИС ЦОН heard them
    assert mine["heard"]["portal"] == mine["statuses"], "the citizen's cabinet hears it too"
    assert (mine["requestedBy"], mine["missing"], mine["outOfOrder"], mine["overTerm"]) == ("con", [], False, False)
    assert mine["termDue"], "the regulation's term (working days), on the working calendar"

    # docs/conformance.md's commands, as written, in a directory laid out as a checkout's
    checkout = Checkout.of(tmp_path, mesh)
    for line in page_block("docs/conformance.md", "meshctl report mio.mamlyut --json").splitlines():
        ran = checkout.ran("bash", "-c", line, timeout_s=120)
        assert ran.returncode in (0, 1), ran.stderr[-2000:]  # 1: the district's other cases may not conform
        assert "mio.mamlyut" in ran.stdout, ran.stdout[:500]

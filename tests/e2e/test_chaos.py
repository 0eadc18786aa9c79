"""Fault injection on real processes and RabbitMQ (issue 20; docs/chaos.md): each fault kind injected on a live flow,
the mesh's promise checked — a duplicate applied once; a dropped notification delivered again and its case completed;
a corrupted signature refused `Client.InvalidSignature`, dead-lettered with its reason, nothing delivered; a tampered
payload and an injected error refused under their codes; a delayed, slow or reordered delivery delivered; a member
down taking nothing until it is back, then its case completing; an HTTP edge's injected error answered in the route's
stead. No sleeps: the journal's wait-until, the members' own waits. Every rule is removed when its test ends."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from typer.testing import CliRunner

from meshkit import cli
from meshkit.sdk import KitError, Mesh
from shared.mesh.envelope import MessageType
from shared.mesh.receipts import RECEIPT_SERVICE
from tests.support.chaos import fired, pair, rule, rule_now, wait_journal
from tests.support.checkout import Checkout
from tests.support.docs_pages import page_block
from tests.support.journal import heard_by_portal
from tests.support.mesh import MeshHandle

pytestmark = pytest.mark.e2e
JOB_SEEKER = "employment.job-seeker-registration"


@pytest.fixture(scope="module")
def kit(mesh: MeshHandle) -> Iterator[Mesh]:
    with mesh.kit() as kit:
        yield kit



async def test_a_duplicated_delivery_is_applied_once(mesh, member_factory):
    both = await pair(mesh, member_factory)
    async with rule(mesh, where="gateway", match={"recipient": both.recipient.member_id}, fault={"kind": "duplicate"},
                    times=1) as added:
        sent = await both.send()
        await wait_journal(mesh, kind="envelope", sender=both.recipient.member_id, inReplyTo=sent,
                           serviceId=RECEIPT_SERVICE, at_least=2)  # both copies acknowledged
        [entry] = await fired(mesh, added["id"])
        assert (entry["fault"], entry["messageId"]) == ("duplicate", sent)
    assert (await both.recipient.applied()).count(sent) == 1


async def test_a_corrupted_signature_is_refused_and_nothing_is_delivered(mesh, member_factory, dead_letters):
    both = await pair(mesh, member_factory)
    for kind, codes in (("corrupt-signature", {"Client.InvalidSignature"}),
                        ("tamper-payload", {"Client.InvalidSignature", "Client.SignatureContentMismatch"})):
        async with rule(mesh, where="gateway", match={"sender": both.sender.member_id}, fault={"kind": kind},
                        times=1):
            sent = await both.send(kind=kind)
            error = await both.sender.wait_for(lambda i, m=sent: str(i.envelope.in_reply_to) == m, timeout_s=60)
            assert error.envelope.message_type is MessageType.ERROR
            assert error.envelope.data["code"] in codes, error.envelope.data
            dead = await dead_letters.find(sent, timeout_s=60)
            assert dead["code"] == error.envelope.data["code"]
            [decided] = await wait_journal(mesh, kind="envelope", messageId=sent)
            assert (decided["outcome"], decided["checks"]["signature"]["ok"]) == ("refused", False)
        assert not both.recipient.got(sent)
        assert sent not in await both.recipient.applied()


async def test_an_injected_error_is_a_named_refusal(mesh, member_factory, dead_letters):
    both = await pair(mesh, member_factory)
    async with rule(mesh, where="gateway", match={"serviceId": both.service},
                    fault={"kind": "error", "code": "Server.ProviderError"}, times=1):
        sent = await both.send()
        error = await both.sender.wait_for(lambda i: str(i.envelope.in_reply_to) == sent, timeout_s=60)
        assert error.envelope.data["code"] == "Server.ProviderError"
        assert (await dead_letters.find(sent, timeout_s=60))["code"] == "Server.ProviderError"
    assert not both.recipient.got(sent)


async def test_delayed_slow_and_reordered_deliveries_arrive(mesh, member_factory):
    both = await pair(mesh, member_factory)
    to = {"recipient": both.recipient.member_id}
    async with rule(mesh, where="gateway", match=to, times=2, seed=11,
                    fault={"kind": "delay", "distribution": {"kind": "exponential", "meanMs": 200, "maxMs": 1000}}):
        sent = [await both.send(n=n) for n in (1, 2)]
        for message_id in sent:
            await both.recipient.wait_for(lambda i, m=message_id: str(i.envelope.message_id) == m, timeout_s=60)
    async with rule(mesh, where="gateway", match=to, fault={"kind": "slow", "delayMs": 300}, forS=120) as slow:
        late = await both.send(n=3)
        await both.recipient.wait_for(lambda i: str(i.envelope.message_id) == late, timeout_s=60)
        assert (await rule_now(mesh, slow["id"]))["fired"] == 1
    async with rule(mesh, where="gateway", match=to, fault={"kind": "reorder", "holdMs": 60000},
                    times=1) as reorder:
        first = await both.send(n=4)
        await wait_journal(mesh, kind="fault", outcome="fired", messageId=first)  # held back
        second = await both.send(n=5)
        [released] = await wait_journal(mesh, kind="fault", ruleId=reorder["id"], outcome="released")
        for message_id in (first, second):
            await both.recipient.wait_for(lambda i, m=message_id: str(i.envelope.message_id) == m, timeout_s=60)
    # The gateway published it after the recipient's next delivery: the one sent after it, or — on a machine slow
    # enough that an earlier delivery's receipt timeout came first — that delivery made again. (The member handles
    # deliveries concurrently: the order it records them in is its own, not the gateway's.)
    assert released["messageId"] == first
    assert released["passedBy"] in {second, *sent, late}
    for message_id in [*sent, late, first, second]:  # every one acknowledged: nothing left in flight
        await wait_journal(mesh, kind="envelope", sender=both.recipient.member_id, inReplyTo=message_id,
                           serviceId=RECEIPT_SERVICE)


def test_a_dropped_notification_is_delivered_again_and_the_case_completes(kit: Mesh):
    citizen = kit.new_citizen(district="zhezkazgan", min_age=25, max_age=50, jobless=True)
    with kit.chaos(kind="drop", recipient="portal", message_type="NOTIFICATION", district="zhezkazgan") as drop:
        cid = kit.login_eds(citizen).apply(citizen.signed_request(JOB_SEEKER))["correlationId"]
        [dropped] = kit.wait_until(timeout_s=120, kind="fault", rule_id=drop.id, correlation_id=cid)
    received = heard_by_portal(kit, cid, "RECEIVED")  # the receipt timeout delivered it again
    assert received["messageId"] == dropped["messageId"]
    assert dropped["stage"] == "delivery"
    kit.settle(received["applicationNumber"])
    completed = heard_by_portal(kit, cid, "COMPLETED")
    kit.wait_until(timeout_s=60, kind="envelope", service_id=RECEIPT_SERVICE, in_reply_to=completed["messageId"])
    assert kit.journal_kit.unmatched(correlation_id=cid) == []


def test_a_member_down_takes_nothing_and_its_cases_complete_once_it_is_back(kit: Mesh):
    citizen = kit.new_citizen(district="almaty", min_age=25, max_age=50, jobless=True)
    with kit.chaos(kind="down", recipient="mio.almaty") as down:
        cid = kit.login_eds(citizen).apply(citizen.signed_request(JOB_SEEKER))["correlationId"]
        [held] = kit.wait_until(timeout_s=120, kind="fault", rule_id=down.id, correlation_id=cid)
        assert held["recipient"] == "mio.almaty"
        assert down.now()["held"] >= 1
        assert kit.journal(kind="consumed", service="mio_workstation", correlation_id=cid) == []
    received = heard_by_portal(kit, cid, "RECEIVED")  # back: ИС МИО took the application
    kit.settle(received["applicationNumber"])
    heard_by_portal(kit, cid, "COMPLETED")
    with pytest.raises(KitError) as gone:
        down.remove()
    assert gone.value.code == "CHAOS_RULE_NOT_FOUND"


def test_an_http_edges_injected_error_through_meshctl(kit: Mesh, mesh: MeshHandle, tmp_path: Path):
    mesh_file = str(mesh.write_mesh_file(tmp_path / "mesh.json"))

    def meshctl(*args: str) -> object:
        ran = CliRunner().invoke(cli.app, [*args[:2], "--mesh", mesh_file, *args[2:]] if args[0] == "chaos" else
                                 list(args))
        assert ran.exit_code == 0, ran.output
        return json.loads(ran.stdout)

    added = meshctl("chaos", "add", "--kind", "error", "--where", "http:portal", "--match", "route=/services",
                    "--param", "code=Server.DependencyUnavailable", "--times", "1")
    assert isinstance(added, dict)
    try:
        refused = kit.http.get(f"{kit.info.portal}/services", headers={"X-Correlation-Id": "chaos-e2e-edge"})
        assert (refused.status_code, refused.json()["code"]) == (503, "Server.DependencyUnavailable")
        assert kit.http.get(f"{kit.info.portal}/services").status_code == 200  # times: 1
        listed = meshctl("chaos", "list")
        assert isinstance(listed, list)
        assert next(r for r in listed if r["id"] == added["id"])["fired"] == 1
        [entry] = meshctl("chaos", "fired", "--rule", added["id"])  # type: ignore[misc]
        assert (entry["service"], entry["route"], entry["correlationId"]) == (
            "portal", "/services", "chaos-e2e-edge")
    finally:
        meshctl("chaos", "remove", added["id"])
    ran = CliRunner().invoke(cli.app, ["chaos", "add", "--mesh", mesh_file, "--kind", "drop", "--probability", "2"])
    assert ran.exit_code != 0
    assert "CHAOS_PROBABILITY_OUT_OF_RANGE" in ran.output


def test_the_chaos_page_runs_as_written(kit: Mesh, mesh: MeshHandle, tmp_path: Path):
    """docs/chaos.md's kit snippet (a notice dropped, the case completing) and its meshctl block, on this mesh."""
    run = partial(Checkout.of(tmp_path, mesh).run, timeout_s=400)

    (tmp_path / "snippet.py").write_text(page_block("docs/chaos.md", "mesh.chaos(kind="))
    assert "delivered again: True" in run(sys.executable, "snippet.py")
    out = run("bash", "-euo", "pipefail", "-c", page_block("docs/chaos.md", "meshctl chaos add"))
    assert '"id": "portal-catalogue-down"' in out
    assert kit.chaos_kit.rules() == []

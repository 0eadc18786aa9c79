"""Fault injection against the gateway's delivery accounting, on a mesh of its own whose receipt timeout is short
(0.3 s, two attempts): a delivery dropped every time ends NOT_DELIVERED — logged, dead-lettered with its reason, its
sender told `Server.NotDelivered` — never lost silently; a member down for `forS` has no attempt counted while it
is down, however many receipt timeouts pass, and gets its deliveries when the rule's time is over."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from shared.mesh.receipts import NOT_DELIVERED, RECEIPT_SERVICE
from tests.support.chaos import add, call, fired, pair, rule, wait_journal
from tests.support.inprocess import InProcessMesh, start_inprocess_mesh

RECEIPT_TIMEOUT_S, ATTEMPTS = 0.3, 2


@pytest.fixture(scope="module")
async def inproc(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[InProcessMesh]:
    mesh = await start_inprocess_mesh(tmp_path_factory.mktemp("chaos-receipts"), overrides={
        "shep_gateway": {"receipt_timeout_s": RECEIPT_TIMEOUT_S, "delivery_attempts": ATTEMPTS}})
    yield mesh
    await mesh.close()


async def test_a_delivery_dropped_every_time_ends_not_delivered_and_dead_lettered_with_its_reason(
        inproc: InProcessMesh, member_factory):
    both = await pair(inproc, member_factory)
    async with rule(inproc, where="gateway", match={"recipient": both.recipient.member_id},
                    fault={"kind": "drop"}) as added:
        sent = await both.send()
        error = await both.sender.wait_for(lambda i: str(i.envelope.in_reply_to) == sent, timeout_s=60)
        assert error.envelope.data["code"] == NOT_DELIVERED
        assert both.recipient.member_id in error.envelope.data["message"]
        assert [e["messageId"] for e in await fired(inproc, added["id"])] == [sent] * ATTEMPTS
    [(state,)] = await inproc.sql("shep_gateway", "SELECT state FROM delivery WHERE message_id = ?", sent)
    assert state == "NOT_DELIVERED"
    [dead] = [d for d in await inproc.dead_letters() if d["code"] == NOT_DELIVERED and d["messageId"] == sent]
    assert f"after {ATTEMPTS} deliveries" in dead["reason"]
    assert not both.recipient.got(sent)


async def test_a_member_down_for_a_while_counts_no_attempt_and_gets_its_deliveries_after(inproc: InProcessMesh,
                                                                                          member_factory):
    both = await pair(inproc, member_factory)
    added = await add(inproc, where="gateway", match={"recipient": both.recipient.member_id},
                      fault={"kind": "down"}, forS=3)
    sent = await both.send()
    [held] = await wait_journal(inproc, kind="fault", ruleId=added["id"], timeout_s=30)
    assert held["messageId"] == sent
    # many receipt timeouts pass while it is down: none counts, so it is not NOT_DELIVERED; once the 3 s are over,
    # the held delivery goes out and the member acknowledges it
    receipts = await wait_journal(inproc, kind="envelope", sender=both.recipient.member_id, inReplyTo=sent,
                                  serviceId=RECEIPT_SERVICE, timeout_s=60)
    assert receipts[0]["checks"]["receipt"] == "DELIVERED"  # the gateway's row: from ON_DELIVERY, never NOT_DELIVERED
    assert (await both.recipient.applied()).count(sent) == 1
    status, _ = await call(inproc, "DELETE", f"/rules/{added['id']}")
    assert status == 200

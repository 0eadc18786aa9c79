"""Fault injection in process (issue 20; docs/chaos.md): each kind put on the gateway's pipeline or a service's HTTP
edge fires on what it matches, is a journal entry, and leaves the mesh's promise kept — a corrupted or tampered
message refused by the gateway's own checks and nothing delivered, an injected error refused under its code, a
duplicate applied once, a dropped delivery still ON_DELIVERY and delivered again, a delayed or reordered one
delivered, a member down holding its deliveries until it is back; every bad rule refused with its own code, nothing
changed."""

from __future__ import annotations

import pytest

from shared.mesh.envelope import MessageType
from shared.mesh.receipts import RECEIPT_SERVICE
from tests.support.chaos import add, call, fired, pair, rule, rule_now, wait_journal
from tests.support.inprocess import InProcessMesh


async def test_a_rule_that_cannot_be_is_refused_with_its_own_code_and_nothing_changes(inproc: InProcessMesh,
                                                                                     member_factory):
    both = await pair(inproc, member_factory)
    before = (await call(inproc, "GET", "/rules"))[1]["rules"]
    drop = {"kind": "drop"}
    bad = [
        ({"where": "gateway", "fault": drop, "probabilty": 0.5}, "CHAOS_RULE_FIELD_UNKNOWN"),
        ({"where": "gateway", "match": {"recipent": both.recipient.member_id}, "fault": drop},
         "CHAOS_RULE_FIELD_UNKNOWN"),
        ({"where": "gateway", "fault": {"kind": "drop", "delayMs": 5, "extra": 1}}, "CHAOS_RULE_FIELD_UNKNOWN"),
        ({"where": "gateway", "fault": drop, "probability": 1.5}, "CHAOS_PROBABILITY_OUT_OF_RANGE"),
        ({"where": "gateway", "fault": drop, "probability": -0.1}, "CHAOS_PROBABILITY_OUT_OF_RANGE"),
        ({"where": "gateway", "fault": {"kind": "explode"}}, "CHAOS_RULE_INVALID"),
        ({"where": "gateway", "fault": drop, "times": 0}, "CHAOS_RULE_INVALID"),
        ({"where": "gateway", "fault": {"kind": "delay"}}, "CHAOS_RULE_INVALID"),
        ({"where": "gateway", "fault": {"kind": "down"}}, "CHAOS_RULE_INVALID"),
        ({"where": "gateway", "match": {"recipient": "nobody.here"}, "fault": drop}, "CHAOS_RULE_MATCHES_NOTHING"),
        ({"where": "gateway", "match": {"serviceId": "no.such-service"}, "fault": drop},
         "CHAOS_RULE_MATCHES_NOTHING"),
        ({"where": "gateway", "match": {"district": "atlantis"}, "fault": drop}, "CHAOS_RULE_MATCHES_NOTHING"),
        ({"where": "http:nowhere", "fault": {"kind": "delay", "delayMs": 1}}, "CHAOS_RULE_MATCHES_NOTHING"),
        ({"where": "http:portal", "match": {"route": "/no/such/route"}, "fault": {"kind": "delay", "delayMs": 1}},
         "CHAOS_RULE_MATCHES_NOTHING"),
        ({"where": "http:portal", "fault": {"kind": "corrupt-signature"}}, "CHAOS_KIND_NOT_HERE"),
        ({"where": "gateway", "match": {"route": "/services"}, "fault": drop}, "CHAOS_KIND_NOT_HERE"),
        ({"where": "gateway", "fault": {"kind": "error", "code": "Server.NoSuchThing"}}, "CHAOS_ERROR_CODE_UNKNOWN"),
        ({"where": "gateway", "fault": {"kind": "error", "code": "Client.InvalidSignature"}},
         "CHAOS_ERROR_CODE_UNKNOWN"),
        ({"where": "http:portal", "fault": {"kind": "error", "code": "Server.Timeout", "status": 404}},
         "CHAOS_ERROR_CODE_UNKNOWN"),
    ]
    for body, code in bad:
        status, answer = await call(inproc, "POST", "/rules", json=body)
        assert (status, answer["code"]) == (400, code), (body, answer)
    assert (await call(inproc, "GET", "/rules"))[1]["rules"] == before

    async with rule(inproc, id="chaos-twice", where="gateway", match={"recipient": both.recipient.member_id},
                    fault=drop, probability=0):
        status, answer = await call(inproc, "POST", "/rules", json={"id": "chaos-twice", "where": "gateway",
                                                                    "fault": drop})
        assert (status, answer["code"]) == (409, "CHAOS_RULE_EXISTS")
    status, answer = await call(inproc, "DELETE", "/rules/chaos-twice")
    assert (status, answer["code"]) == (404, "CHAOS_RULE_NOT_FOUND")


async def test_a_corrupted_signature_or_tampered_payload_is_refused_by_the_gateways_checks(inproc: InProcessMesh,
                                                                                           member_factory):
    both = await pair(inproc, member_factory)
    for kind, codes in (("corrupt-signature", {"Client.InvalidSignature"}),
                        ("tamper-payload", {"Client.InvalidSignature", "Client.SignatureContentMismatch"})):
        async with rule(inproc, where="gateway", match={"sender": both.sender.member_id}, fault={"kind": kind},
                        times=1) as added:
            sent = await both.send(kind=kind)
            [refusal] = await wait_journal(inproc, kind="envelope", messageId=sent, timeout_s=30)
            assert refusal["outcome"] == "refused", refusal
            assert refusal["code"] in codes, refusal
            error = await both.sender.wait_for(lambda i, sent=sent: str(i.envelope.in_reply_to) == sent)
            assert error.envelope.message_type is MessageType.ERROR
            assert error.envelope.data["code"] == refusal["code"]
            [entry] = await fired(inproc, added["id"])
            assert (entry["fault"], entry["stage"], entry["messageId"]) == (kind, "ingress", sent)
        assert not both.recipient.got(sent)


async def test_an_injected_error_refuses_the_message_under_its_code(inproc: InProcessMesh, member_factory):
    both = await pair(inproc, member_factory)
    async with rule(inproc, where="gateway", match={"serviceId": both.service},
                    fault={"kind": "error", "code": "Server.ProviderError"}, times=1) as added:
        sent = await both.send()
        error = await both.sender.wait_for(lambda i: str(i.envelope.in_reply_to) == sent)
        assert error.envelope.data["code"] == "Server.ProviderError"
        assert added["id"] in error.envelope.data["message"]
        after = await both.send()  # times: 1 — the next one goes through
        await both.recipient.wait_for(lambda i: str(i.envelope.message_id) == after)
    assert not both.recipient.got(sent)


async def test_a_duplicated_delivery_is_applied_once(inproc: InProcessMesh, member_factory):
    both = await pair(inproc, member_factory)
    async with rule(inproc, where="gateway", match={"recipient": both.recipient.member_id},
                    fault={"kind": "duplicate"}, times=1) as added:
        sent = await both.send()
        await both.recipient.wait_for(lambda i: str(i.envelope.message_id) == sent)
        [entry] = await fired(inproc, added["id"])
        assert (entry["fault"], entry["messageId"], entry["recipient"]) == ("duplicate", sent,
                                                                            both.recipient.member_id)
        # the second copy reached the member, whose inbox took it as the duplicate it is
        await wait_journal(inproc, kind="envelope", inReplyTo=sent, sender=both.recipient.member_id, at_least=2)
    assert (await both.recipient.applied()).count(sent) == 1


async def test_a_dropped_delivery_stays_on_delivery_and_is_delivered_again(inproc: InProcessMesh, member_factory):
    both = await pair(inproc, member_factory)
    async with rule(inproc, where="gateway", match={"recipient": both.recipient.member_id},
                    fault={"kind": "drop"}, times=1) as added:
        sent = await both.send()
        [entry] = await wait_journal(inproc, kind="fault", ruleId=added["id"], timeout_s=30)
        assert entry["messageId"] == sent
        assert not both.recipient.got(sent)
        [(state, attempts)] = await inproc.sql("shep_gateway", "SELECT state, attempts FROM delivery "
                                               "WHERE message_id = ?", sent)
        assert (state, attempts) == ("ON_DELIVERY", 1)
        # its receipt timeout (60 s here) made due now: the gateway's own watch delivers it again
        await inproc.sql("shep_gateway", "UPDATE delivery SET next_attempt_at = 0 WHERE message_id = ?", sent)
        await wait_journal(inproc, kind="envelope", sender=both.recipient.member_id, inReplyTo=sent,
                           serviceId=RECEIPT_SERVICE)
    assert (await both.recipient.applied()).count(sent) == 1


async def test_a_delayed_slow_or_reordered_delivery_arrives(inproc: InProcessMesh, member_factory):
    both = await pair(inproc, member_factory)
    to = {"recipient": both.recipient.member_id}
    async with rule(inproc, where="gateway", match=to, times=1,
                    fault={"kind": "delay", "distribution": {"kind": "uniform", "minMs": 50, "maxMs": 150}}) as one:
        sent = await both.send()
        await both.recipient.wait_for(lambda i: str(i.envelope.message_id) == sent)
        [entry] = await fired(inproc, one["id"])
        assert entry["reason"].startswith("published ")
        assert entry["reason"].endswith(" ms late")
    async with rule(inproc, where="gateway", match=to, fault={"kind": "slow", "delayMs": 20}, times=2) as slow:
        sent = [await both.send(n=n) for n in (1, 2)]
        for message_id in sent:
            await both.recipient.wait_for(lambda i, m=message_id: str(i.envelope.message_id) == m)
        assert [e["messageId"] for e in await fired(inproc, slow["id"])] == sent
    async with rule(inproc, where="gateway", match=to, fault={"kind": "reorder", "holdMs": 30000}, times=1) as held:
        first, second = await both.send(n=1), await both.send(n=2)
        # the gateway published the held-back delivery after the next one (the member may handle the two at once:
        # the order it records them in is its own)
        [released] = await wait_journal(inproc, kind="fault", ruleId=held["id"], outcome="released")
        assert (released["messageId"], released["passedBy"]) == (first, second)
        for message_id in (first, second):
            await both.recipient.wait_for(lambda i, m=message_id: str(i.envelope.message_id) == m)


async def test_a_reordered_delivery_made_again_while_held_stays_held_until_another_passes_it(
        inproc: InProcessMesh, member_factory):
    both = await pair(inproc, member_factory)
    async with rule(inproc, where="gateway", match={"recipient": both.recipient.member_id},
                    fault={"kind": "reorder", "holdMs": 30000}, times=1) as held:
        first = await both.send(n=1)
        await wait_journal(inproc, kind="fault", ruleId=held["id"], outcome="fired", messageId=first)
        # its receipt timeout made due now: the gateway's watch delivers it again, into the hold
        await inproc.sql("shep_gateway", "UPDATE delivery SET next_attempt_at = 0 WHERE message_id = ?", first)
        await wait_journal(inproc, kind="fault", ruleId=held["id"], outcome="held", messageId=first)
        second = await both.send(n=2)
        [released] = await wait_journal(inproc, kind="fault", ruleId=held["id"], outcome="released")
        assert (released["messageId"], released["passedBy"]) == (first, second)  # not its own copy
        for message_id in (first, second):
            await both.recipient.wait_for(lambda i, m=message_id: str(i.envelope.message_id) == m)
    assert [str(i.envelope.message_id) for i in both.recipient.received].count(first) == 1  # published once


async def test_a_member_down_gets_its_deliveries_when_it_is_back(inproc: InProcessMesh, member_factory):
    both = await pair(inproc, member_factory)
    added = await add(inproc, where="gateway", match={"recipient": both.recipient.member_id}, fault={"kind": "down"})
    sent = [await both.send(n=n) for n in (1, 2, 3)]
    await wait_journal(inproc, kind="fault", ruleId=added["id"], at_least=3, timeout_s=30)
    assert (await rule_now(inproc, added["id"]))["held"] == 3
    assert not any(both.recipient.got(m) for m in sent)
    status, removed = await call(inproc, "DELETE", f"/rules/{added['id']}")
    assert status == 200
    assert removed["active"] is False
    for message_id in sent:  # each acknowledged: the member's receipt follows its commit
        await wait_journal(inproc, kind="envelope", sender=both.recipient.member_id, inReplyTo=message_id,
                           serviceId=RECEIPT_SERVICE)
    applied = await both.recipient.applied()
    assert [applied.count(m) for m in sent] == [1, 1, 1]


async def test_an_http_edge_answers_an_injected_error_or_holds_a_request(inproc: InProcessMesh):
    async with inproc.client("portal") as portal:
        assert (await portal.get("/services")).status_code == 200
        async with rule(inproc, where="http:portal", match={"route": "/services", "method": "get"},
                        fault={"kind": "error", "code": "Server.DependencyUnavailable"}, times=2) as added:
            refused = await portal.get("/services", headers={"X-Correlation-Id": "chaos-edge-1"})
            assert (refused.status_code, refused.json()["code"]) == (503, "Server.DependencyUnavailable")
            [entry] = await fired(inproc, added["id"])
            assert (entry["service"], entry["stage"], entry["route"], entry["correlationId"]) == (
                "portal", "edge", "/services", "chaos-edge-1")
            assert (await rule_now(inproc, added["id"]))["matched"] == 1
        assert (await portal.get("/services")).status_code == 200  # removed: the route answers again
        async with rule(inproc, where="http:portal", match={"route": "/services"}, fault={"kind": "delay",
                        "delayMs": 10}, times=1) as held:
            assert (await portal.get("/services")).status_code == 200
            [entry] = await fired(inproc, held["id"])
            assert entry["reason"] == "request held 10 ms"


@pytest.mark.parametrize("kind", ["delay", "error"])
async def test_rules_are_removed_one_by_one_or_all_at_once(inproc: InProcessMesh, kind: str):
    fault = {"kind": kind, "delayMs": 1} if kind == "delay" else {"kind": kind, "code": "Server.ProviderError"}
    one = await add(inproc, where="http:gbd_fl", match={"method": "PUT"}, fault=fault, probability=0)
    two = await add(inproc, where="gateway", match={"messageType": "NOTIFICATION"}, fault=fault, probability=0)
    own = await add(inproc, where="http:shep_gateway", match={"route": "/log"}, fault=fault, probability=0)
    ids = {r["id"] for r in (await call(inproc, "GET", "/rules"))[1]["rules"]}
    assert {one["id"], two["id"], own["id"]} <= ids
    status, removed = await call(inproc, "DELETE", f"/rules/{one['id']}")
    assert (status, removed["where"]) == (200, "http:gbd_fl")
    status, cleared = await call(inproc, "DELETE", "/rules")
    assert status == 200
    assert {two["id"], own["id"]} <= {r["id"] for r in cleared["rules"]}
    assert (await call(inproc, "GET", "/rules"))[1]["rules"] == []

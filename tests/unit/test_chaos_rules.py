"""A fault-injection rule's firing (shared/mesh/chaos.py): with its probability drawn from its own seeded generator —
the same seed fires on the same matches run after run —, for the next ``times`` matches, for ``forS`` seconds, on
what its match names only; delays fixed or drawn the same way; every fired fault a journal entry."""

from __future__ import annotations

import random
import time

import pytest

from shared.errors import MeshError
from shared.mesh.chaos import DELIVERY_KINDS, ChaosBook, Rule, parse_rule
from shared.mesh.journal import Journal

TO_PORTAL = {"recipient": "portal", "sender": "mio.almaty", "serviceId": "employment.notice", "messageType": "REQUEST",
             "correlationId": "c-1"}


def _book() -> ChaosBook:
    return ChaosBook(journal=Journal(service="shep_gateway"))


def _fires(book: ChaosBook, n: int, facts: dict[str, str | None] = TO_PORTAL) -> list[bool]:
    return [book.firing(where="gateway", kinds=DELIVERY_KINDS, facts=facts) is not None for _ in range(n)]


def test_the_same_seed_fires_on_the_same_matches_and_another_seed_on_others():
    runs = []
    for seed in (7, 7, 8):
        book = _book()
        book.add(parse_rule({"where": "gateway", "fault": {"kind": "drop"}, "probability": 0.5, "seed": seed}))
        runs.append(_fires(book, 64))
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    assert 16 < sum(runs[0]) < 48  # about half


def test_a_rule_ends_after_its_next_n_matches_or_its_duration():
    book = _book()
    rule = book.add(parse_rule({"where": "gateway", "fault": {"kind": "drop"}, "times": 3, "probability": 1}))
    assert _fires(book, 5) == [True, True, True, False, False]
    assert (rule.matched, rule.fired, rule.active) == (3, 3, False)

    timed = book.add(parse_rule({"where": "gateway", "fault": {"kind": "duplicate"}, "forS": 30}))
    assert _fires(book, 1) == [True]
    timed.started = time.monotonic() - 31  # its 30 s are over (moved, not waited for)
    assert timed.active is False
    assert _fires(book, 1) == [False]


def test_a_rule_fires_on_what_its_match_names_only():
    book = _book()
    book.add(parse_rule({"where": "gateway", "match": {"district": "almaty", "messageType": "REQUEST"},
                         "fault": {"kind": "drop"}}))
    assert _fires(book, 1) == [True]
    assert _fires(book, 1, {**TO_PORTAL, "sender": "mio.kyzylorda"}) == [False]
    assert _fires(book, 1, {**TO_PORTAL, "messageType": "NOTIFICATION"}) == [False]
    assert book.firing(where="http:portal", kinds=DELIVERY_KINDS, facts=TO_PORTAL) is None  # another place
    assert book.firing(where="gateway", kinds=frozenset({"error"}), facts=TO_PORTAL) is None  # another stage


def test_delays_are_fixed_or_drawn_from_the_rules_generator():
    fixed = Rule(spec=parse_rule({"where": "gateway", "fault": {"kind": "delay", "delayMs": 250}}),
                 rng=random.Random(1))
    assert fixed.delay_s() == 0.25
    draws = []
    for _ in range(2):
        book = _book()
        rule = book.add(parse_rule({"where": "gateway", "seed": 3, "fault": {
            "kind": "delay", "distribution": {"kind": "exponential", "meanMs": 100, "maxMs": 400}}}))
        draws.append([rule.delay_s() for _ in range(20)])
    assert draws[0] == draws[1]
    assert all(0 <= d <= 0.4 for d in draws[0])
    assert len(set(draws[0])) > 10
    slow = _book().add(parse_rule({"where": "gateway", "match": {"recipient": "portal"}, "fault": {"kind": "slow"}}))
    assert slow.delay_s() == 2.0  # slow's default


def test_every_fired_fault_is_a_journal_entry_naming_its_rule():
    book = _book()
    rule = book.add(parse_rule({"id": "r1", "where": "gateway", "fault": {"kind": "drop"}}))
    book.record(rule, stage="delivery", reason="not published", messageId="m-1", **TO_PORTAL)
    [entry] = book.journal.entries()
    assert (entry["kind"], entry["ruleId"], entry["fault"], entry["messageId"], entry["recipient"]) == (
        "fault", "r1", "drop", "m-1", "portal")


@pytest.mark.parametrize(("rule", "code"), [
    ({"where": "gateway", "fault": {"kind": "drop"}, "when": "now"}, "CHAOS_RULE_FIELD_UNKNOWN"),
    ({"where": "gateway", "fault": {"kind": "drop"}, "probability": 2}, "CHAOS_PROBABILITY_OUT_OF_RANGE"),
    ({"where": "gateway", "fault": {"kind": "drop", "code": "Server.Timeout"}}, "CHAOS_RULE_INVALID"),
    ({"where": "gateway", "fault": {"kind": "delay", "delayMs": 5, "distribution": {"kind": "uniform"}}},
     "CHAOS_RULE_INVALID"),
    ({"where": "gateway", "fault": {"kind": "delay", "distribution": {"kind": "exponential"}}}, "CHAOS_RULE_INVALID"),
    ({"where": "gateway", "fault": {"kind": "error"}}, "CHAOS_RULE_INVALID"),
    ({"fault": {"kind": "drop"}}, "CHAOS_RULE_INVALID"),
    ("drop everything", "CHAOS_RULE_INVALID"),
])
def test_a_bad_rule_is_refused_with_its_own_code(rule: object, code: str):
    with pytest.raises(MeshError) as refused:
        parse_rule(rule)
    assert refused.value.code == code

"""The rules of a scenario (docs/scenarios.md), as the gateway parses them and members read them back: what is a
rule, what contradicts another, what a delivery's headers say, and what a message made in a flow carries."""

from __future__ import annotations

import pytest

from services.mio_workstation.domain import FORCED_GROUNDS
from services.shep_gateway.scenario_book import ScenarioBook
from services.shep_gateway.usecases.scenarios import Scenarios
from shared.errors import MeshError
from shared.mesh.bus import OutgoingMessage
from shared.mesh.scenarios import (
    H_SCENARIO,
    H_SCENARIO_RULES,
    MIO_GROUNDS,
    FlowScenario,
    Rule,
    delivered,
    delivery_headers,
    parse_rules,
    using,
)


def test_each_rule_of_the_grammar_parses_and_prints_back():
    rules = parse_rules(["gbdfl:no-data", "mio:refuse:employed", "mio:overdue:sign-and-send"])
    assert [str(r) for r in rules] == ["gbdfl:no-data", "mio:refuse:employed", "mio:overdue:sign-and-send"]
    assert parse_rules(["gbdfl:timeout", "nuc:revoked"]) == (Rule("gbdfl", "timeout"), Rule("nuc", "revoked"))


@pytest.mark.parametrize("rules", [["gbdfl"], ["gbdfl:no-data:now"], ["mio:refuse"], ["mio:refuse:rich"],
                                   ["mio:overdue:"], ["mio:overdue:Decide"], ["nuc:revoked:now"], ["portal:down"],
                                   ["gbdfl:no-data", "gbdfl:timeout"], ["mio:overdue:register", "mio:overdue:sign"]])
def test_what_is_not_a_rule_or_contradicts_another_is_refused_naming_the_grammar(rules):
    with pytest.raises(MeshError) as refused:
        parse_rules(rules)
    assert refused.value.code == "SCENARIO_RULE_UNKNOWN"
    assert "gbdfl:no-data" in refused.value.message


def test_every_ground_a_scenario_may_name_is_worded_by_imio():
    assert set(FORCED_GROUNDS) == set(MIO_GROUNDS)


def test_a_delivery_gives_back_the_rules_the_gateway_put_beside_the_id():
    scenario = FlowScenario(id="scn-" + "a" * 22, rules=parse_rules(["mio:refuse:student", "gbdfl:no-data"]))
    headers = delivery_headers(scenario)
    assert delivered(headers) == scenario
    assert delivered({**headers, H_SCENARIO_RULES: b'["mio:refuse:student"]'}).rules == (  # AMQP may give bytes
        Rule("mio", "refuse", "student"),)
    assert delivered({H_SCENARIO: scenario.id}) == FlowScenario(id=scenario.id), "an id alone forces nothing"
    assert delivered({}) is None
    assert FlowScenario.from_stored(scenario.stored()) == scenario


def test_a_message_made_in_a_flow_names_its_scenario_and_one_made_outside_does_not():
    with using(FlowScenario(id="scn-" + "b" * 22, rules=parse_rules(["gbdfl:no-data"]))):
        inside = OutgoingMessage(body=b"{}")
        kept = OutgoingMessage(body=b"{}", headers={H_SCENARIO: "scn-" + "c" * 22})
        with using(None):
            cleared = OutgoingMessage(body=b"{}")
    outside = OutgoingMessage(body=b"{}")
    assert inside.headers == {H_SCENARIO: "scn-" + "b" * 22}, "the id alone: the gateway adds the rules"
    assert kept.headers[H_SCENARIO] == "scn-" + "c" * 22, "a copy keeps the flow it was made in"
    assert H_SCENARIO not in cleared.headers
    assert H_SCENARIO not in outside.headers


def test_a_scenario_expires_on_its_ttl_is_told_apart_from_one_never_registered_then_forgotten():
    """The gateway's book on a clock the test moves: live for its TTL, then ``SCENARIO_EXPIRED`` (and dropped, not
    refused, at ingress) for as long again, then forgotten."""
    now = [1_000_000.0]
    scenarios = Scenarios(book=ScenarioBook(now=lambda: now[0]))
    registered = scenarios.register(["gbdfl:no-data"], ttl_s=60)
    assert scenarios.live(registered.id) == registered
    now[0] += 60
    with pytest.raises(MeshError) as expired:
        scenarios.live(registered.id)
    assert expired.value.code == "SCENARIO_EXPIRED"
    now[0] += 60
    with pytest.raises(MeshError) as forgotten:
        scenarios.live(registered.id)
    assert forgotten.value.code == "SCENARIO_UNKNOWN"
    assert scenarios.all() == []

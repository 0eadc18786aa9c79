"""The case drawing (shared/web/sequence_diagram.py): text from a message or a request (a reason, a route) may hold
anything — it is escaped into well-formed SVG with no markup of its own, and into Mermaid without its syntax."""

from __future__ import annotations

from defusedxml import ElementTree

from shared.web.sequence_diagram import Diagram, to_mermaid, to_svg

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = 'refused <script>alert(1)</script> & "quoted"; #1: next'


def _diagram() -> Diagram:
    diagram = Diagram(title="ALM-2026-000001 · <title>")
    diagram.participant("portal", "Портал (ПЭП)")
    diagram.participant("shep", "ШЭП")
    diagram.participant("portal", "not added twice")
    diagram.arrow("portal", "shep", HOSTILE, "refused")
    diagram.note("shep", HOSTILE, "fault")
    diagram.arrow("shep", "shep", "to itself")
    return diagram


def test_hostile_text_is_escaped_into_well_formed_svg_without_markup_of_its_own():
    svg = to_svg(_diagram())
    root = ElementTree.fromstring(svg)
    assert not list(root.iter(f"{SVG}script")), "no element from the text"
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert HOSTILE in texts, "the arrow's label whole, as text"
    assert [t for t in texts if t.startswith("Портал")] == ["Портал (ПЭП)"], "a participant once"
    assert "<script>" not in svg


def test_mermaid_keeps_its_syntax_out_of_the_text():
    text = to_mermaid(_diagram())
    lines = text.splitlines()
    assert lines[0] == "sequenceDiagram"
    assert "    participant portal as Портал (ПЭП)" in lines
    arrow = next(line for line in lines if line.startswith("    portal-xshep: "))
    label = arrow.split(": ", 1)[1]
    assert not {";", "#", ":"} & set(label), label
    assert sum(line.startswith("    Note over shep: ") for line in lines) == 1

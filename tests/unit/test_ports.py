"""Ports for private brokers and services: outside the kernel's ephemeral range, and never the same one twice in a
process — a mesh asks for a dozen before any of them is bound."""

from __future__ import annotations

from meshkit import ports


def test_a_process_is_never_given_the_same_port_twice_even_before_it_is_bound(monkeypatch):
    monkeypatch.setattr(ports, "LISTEN_RANGE", (30000, 30063))  # a small range: a repeat would come at once
    monkeypatch.setattr(ports, "_HANDED_OUT", set())
    given = [ports.free_port() for _ in range(40)]
    assert len(set(given)) == len(given)
    assert all(30000 <= port <= 30063 for port in given)

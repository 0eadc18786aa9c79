"""Free loopback ports, for private brokers and services that must not collide with anything running."""

from __future__ import annotations

import random
import socket
import time

LISTEN_RANGE = (20000, 32767)
"""Where listening ports are chosen: below Linux's ephemeral range (32768-60999), from which every outgoing
connection takes its local port. A port the kernel handed out as free (``bind(0)``) came from that range, and an
outgoing connection could take it before the service bound it: a service of a test's mesh once failed to start
with ``address already in use`` while three lanes ran."""


_HANDED_OUT: set[int] = set()
"""Ports this process has given: a mesh asks for a dozen before any is bound, so a port free at each ask could be
given twice — at random, about one mesh start in 200 (the lanes of `make test` start some twenty), which then
fails with ``address already in use``."""


def free_port() -> int:
    """A loopback port free now, outside the ephemeral range (``LISTEN_RANGE``), and never one this process gave
    before (it may not be bound yet)."""
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randint(*LISTEN_RANGE)
        if port not in _HANDED_OUT and port_is_free(port):
            _HANDED_OUT.add(port)
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:  # the range is crowded: any free port
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Whether a server could listen on ``port`` now (as servers do, SO_REUSEADDR lets TIME_WAIT pass)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def wait_for_port(port: int, *, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.2)
    return False

"""Waiting on the journal in the end-to-end tests (docs/journal.md)."""

from __future__ import annotations

from typing import Any

from meshkit.sdk import Mesh


def heard_by_portal(kit: Mesh, correlation_id: str, status: str, *, timeout_s: float = 120) -> dict[str, Any]:
    """The portal's journal entry of the case's notice of ``status``, once it has consumed it (a wait, no sleep)."""
    [entry] = kit.wait_until(timeout_s=timeout_s, service="portal", kind="consumed", message_type="NOTIFICATION",
                             correlation_id=correlation_id, payload={"status": status})
    return entry

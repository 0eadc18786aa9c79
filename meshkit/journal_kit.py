"""The journal and wait-until in the scripting kit (``Mesh.journal``, ``Mesh.wait_until``; docs/journal.md): the
gateway's ``GET /admin/journal…``, which merges every service's journal with its own.

Filters are keyword arguments in Python's spelling (``correlation_id=`` → ``correlationId``); a payload's field by
``payload={"status": "COMPLETED"}`` (→ ``payload.status``). A wait that times out raises ``WaitTimedOut``, carrying
the nearest misses, so a script or a test never sleeps and never polls by hand."""

from __future__ import annotations

from typing import Any

import httpx

from meshkit.sdk import KitError
from meshkit.sdk import _checked as checked
from shared.logging import camel


class WaitTimedOut(KitError):
    """What a wait waited for did not come in time; ``nearest_misses``: what the journal saw instead, each with the
    filters it missed (``missed``)."""

    def __init__(self, *, message: str, nearest_misses: list[dict[str, Any]]) -> None:
        super().__init__(code="WAIT_TIMED_OUT", status=0, message=message)
        self.nearest_misses = nearest_misses


def query_params(filters: dict[str, Any], payload: dict[str, Any] | None = None) -> dict[str, str]:
    """The journal's query parameters from a script's keyword arguments (None: not filtered on)."""
    params = {camel(key): str(value) for key, value in filters.items() if value is not None}
    params.update({f"payload.{key}": str(value) for key, value in (payload or {}).items()})
    return params


def _miss_line(miss: dict[str, Any]) -> str:
    what = " ".join(str(miss[k]) for k in ("service", "kind", "messageType", "route", "outcome", "code")
                    if miss.get(k))
    return f"  {miss.get('at', '')} {what} — missed {', '.join(miss.get('missed', []))}"


class JournalKit:
    """The journal of a mesh, through its gateway (``url``) with the admin token (``headers``)."""

    def __init__(self, http: httpx.Client, *, url: str, headers: dict[str, str]) -> None:
        self._http = http
        self._url = url.rstrip("/") + "/admin/journal"
        self._headers = headers

    def _get(self, path: str, params: dict[str, str], *, timeout_s: float = 30.0) -> dict[str, Any]:
        answer: dict[str, Any] = checked(self._http.get(self._url + path, params=params, headers=self._headers,
                                                        timeout=timeout_s))
        return answer

    def find(self, *, limit: int = 200, payload: dict[str, Any] | None = None, **filters: Any) -> list[
            dict[str, Any]]:
        """The entries matching, oldest first (the newest ``limit`` of them)."""
        entries: list[dict[str, Any]] = self._get("", query_params(filters, payload) | {"limit": str(limit)})[
            "entries"]
        return entries

    def count(self, *, payload: dict[str, Any] | None = None, **filters: Any) -> int:
        return int(self._get("/count", query_params(filters, payload))["count"])

    def unmatched(self, *, limit: int = 200, payload: dict[str, Any] | None = None, **filters: Any) -> list[
            dict[str, Any]]:
        """Requests nobody answered, deliveries nobody consumed, dead letters (each says which: ``unmatched``)."""
        entries: list[dict[str, Any]] = self._get(
            "/unmatched", query_params(filters, payload) | {"limit": str(limit)})["entries"]
        return entries

    def wait_until(self, *, timeout_s: float, at_least: int = 1, payload: dict[str, Any] | None = None,
                   **filters: Any) -> list[dict[str, Any]]:
        """Blocks until ``at_least`` entries match, and returns them; raises ``WaitTimedOut`` (with the nearest
        misses) after ``timeout_s`` — at most 300 s, the journal's bound."""
        params = query_params(filters, payload) | {"timeoutS": f"{timeout_s:g}", "atLeast": str(at_least)}
        answer = self._get("/wait", params, timeout_s=timeout_s + 30.0)
        if answer["matched"]:
            entries: list[dict[str, Any]] = answer["entries"]
            return entries
        misses = answer.get("nearestMisses", [])
        lines = "\n".join(_miss_line(m) for m in misses) or "  nothing near"
        raise WaitTimedOut(nearest_misses=misses, message=f"no {at_least} entr{'y' if at_least == 1 else 'ies'} "
                           f"matching {params} after {timeout_s:g} s; nearest misses:\n{lines}")

"""The kit's reset and snapshots (issue 20), mixed into ``meshkit.sdk.Mesh``:

    mesh.reset()                                   # the whole mesh back to its seed; every /ready 200 after it
    mesh.reset(iin="850701300007")                 # or one citizen's, one district's, one service's state
    mesh.snapshot_export("two-cases")              # taken, kept by the gateway, written to var/snapshots/two-cases.json
    mesh.snapshot_import("var/snapshots/two-cases.json")   # into this (a fresh) mesh: the same cases

Everything goes through the gateway's admin API (``POST /admin/mesh/reset``, ``/admin/snapshots…``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

SNAPSHOTS_DIR = Path("var") / "snapshots"  # where you run it, as `meshctl new citizen --out var/citizens/…`


class MeshResets:
    http: httpx.Client
    info: Any

    def _call(self, method: str, path: str, body: Any = None, *, timeout_s: float = 120.0) -> Any:
        from meshkit.sdk import _checked  # the kit's one way of reading a refusal
        return _checked(self.http.request(method, f"{self.info.gateway}{path}", json=body,
                                          headers={"Authorization": f"Bearer {self.info.admin_token}"},
                                          timeout=timeout_s))

    def reset(self, *, iin: str | None = None, district: str | None = None,
              service: str | None = None) -> dict[str, Any]:
        """The whole mesh back to its seed (registry, people, accounts, applications, register, tickets, mail,
        queues, message log; the clock to real time; certificates and keys kept), or only one citizen's,
        district's or member service's state. Answers once every service's ``/ready`` is 200, with each one's
        duration; a reset while another runs is refused ``RESET_RUNNING``."""
        body = {k: v for k, v in {"iin": iin, "district": district, "service": service}.items() if v is not None}
        answer: dict[str, Any] = self._call("POST", "/admin/mesh/reset", body)
        return answer

    def snapshots(self) -> list[dict[str, Any]]:
        """The snapshots the gateway keeps: name, when, rows by service and table."""
        return list(self._call("GET", "/admin/snapshots")["snapshots"])

    def snapshot_export(self, name: str, path: str | Path | None = None, *, take: bool = True) -> Path:
        """Take a snapshot of every member service's state under ``name`` (``take=False``: one taken before) and
        write it to ``path`` (default ``var/snapshots/<name>.json``); the file's path."""
        if take:
            self._call("POST", "/admin/snapshots", {"name": name})
        archive = self._call("GET", f"/admin/snapshots/{name}")
        target = Path(path) if path is not None else SNAPSHOTS_DIR / f"{name}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(archive, ensure_ascii=False), encoding="utf-8")
        return target

    def snapshot_import(self, path: str | Path, *, name: str | None = None, restore: bool = True) -> dict[str, Any]:
        """Give this mesh the snapshot file at ``path`` (kept under ``name``, default the file's) and — unless
        ``restore`` is False — put the mesh in its state; the gateway's answer."""
        from meshkit.sdk import KitError
        try:
            archive = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise KitError(code="SNAPSHOT_NOT_FOUND", status=0, message=f"no snapshot file {path}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise KitError(code="SNAPSHOT_INVALID", status=0, message=f"{path} is not a snapshot: {exc}") from None
        name = name or archive.get("name") or Path(path).stem
        stored: dict[str, Any] = self._call("PUT", f"/admin/snapshots/{name}", archive)
        if not restore:
            return stored
        restored: dict[str, Any] = self._call("POST", f"/admin/snapshots/{name}/restore")
        return restored

    def snapshot_restore(self, name: str) -> dict[str, Any]:
        """Put the mesh in the state of a snapshot the gateway keeps (``SNAPSHOT_NOT_FOUND`` for another name)."""
        restored: dict[str, Any] = self._call("POST", f"/admin/snapshots/{name}/restore")
        return restored

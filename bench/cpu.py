"""CPU time of processes and their descendants, from /proc: what a batch cost each service, the broker and the load
driver, in CPU-milliseconds — the figure issue 22 asks per application, and the ceiling it implies on this machine's
cores (applications a second if every core did nothing else)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user + system seconds) of ``pid``; None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # after the command, which may hold spaces and parentheses
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS


def _tree(root: int) -> tuple[list[int], dict[int, float]]:
    """``root`` and every living descendant (a broker's beam.smp under its start script), and each one's CPU
    seconds."""
    parents: dict[int, list[int]] = {}
    own: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            parents.setdefault(stat[0], []).append(int(entry.name))
            own[int(entry.name)] = stat[1]
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += parents.get(pid, [])
    return found, own


def tree_cpu_s(root: int) -> float:
    """CPU seconds of ``root`` and every living descendant."""
    pids, own = _tree(root)
    return sum(own.get(pid, 0.0) for pid in pids)


def _rss_kb(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)


def tree_rss_mb(root: int) -> float:
    """Resident memory of ``root`` and every living descendant, in MB."""
    return round(sum(_rss_kb(pid) for pid in _tree(root)[0]) / 1024, 1)


def own_cpu_s(pid: int) -> float:
    """CPU seconds of ``pid`` alone (the load driver, whose children are the mesh it measures)."""
    stat = _stat(pid)
    return stat[1] if stat is not None else 0.0


@dataclass
class CpuMeter:
    """CPU seconds of named process trees (``alone``: of named processes without their descendants) between
    ``start`` and ``stop``."""

    roots: dict[str, int]
    alone: dict[str, int]

    def _read(self) -> dict[str, float]:
        return {**{name: tree_cpu_s(pid) for name, pid in self.roots.items()},
                **{name: own_cpu_s(pid) for name, pid in self.alone.items()}}

    def start(self) -> None:
        self._before = self._read()

    def stop(self) -> dict[str, float]:
        return {name: spent - self._before[name] for name, spent in self._read().items()}


def per_item_ms(spent_s: dict[str, float], items: int) -> dict[str, float]:
    """CPU-milliseconds an item cost each process tree, and their ``total``."""
    out = {name: round(seconds * 1000 / items, 1) for name, seconds in spent_s.items()}
    out["total"] = round(sum(spent_s.values()) * 1000 / items, 1)
    return out


def ceiling_per_s(total_ms: float) -> float:
    """Items a second this machine's cores could do at ``total_ms`` of CPU each, doing nothing else."""
    return round((os.cpu_count() or 1) * 1000 / total_ms, 1) if total_ms else 0.0

"""A steady arrival rate instead of a burst: applications submitted one after another at a fixed rate (by default
70% of the batch's applications/s that ``bench.applications`` measured in this `make bench` run) for a minute,
through the portal and ИС ЦОН, each followed to its final status — on the whole mesh (private RabbitMQ, six
services, SQLite).

Reports what a tester driving a Monday's load sees: the time from an application's submit to its final status
(p50/p95/p99, to the 0.5 s the run polls at, as the batch does) and, apart, the two parts of it: the simulated
staff's scheduled wait (ИС МИО's timeline: each step done by them at its ``autoAt``, the share of the step's
maximum after it started — a three-working-day step started on a Friday spans a weekend) and the rest, the mesh's
own time; the rate achieved, what each application cost in
CPU per service (as ``bench.applications``), and each service's resident memory before and after (MB, the process
and its children).
The simulated staff act after the same tiny share of each step's maximum as in the batch, so the latency is the
mesh's own plus that share.

With ``--seconds`` of twenty minutes and more it is the soak (`make soak`): every ``--window`` seconds it samples
how many applications became final and each service's RSS, and compares the last window with the first — the rate
kept, and each service's RSS growth after the first window per 10,000 applications.

Writes var/bench/NAME.json (steady). Usage: python -m bench.steady [--rate R] [--seconds S] [--portal-share P]
[--window W] [--name NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import statistics
import time
from typing import Any

from bench.cpu import CpuMeter, per_item_ms, tree_rss_mb
from bench.figures import OUT, whole_mesh, write_figures
from meshkit.load import Applicant, CaseCursor, Clients, follow, prepare, submit

SHARE_OF_BATCH_RATE = 0.7
POLL_S = 0.5


def _percentile(values: list[float], share: float) -> float | None:
    return round(values[int(share * (len(values) - 1))], 2) if values else None


def _batch_rate() -> float | None:
    path = OUT / "applications.json"
    return json.loads(path.read_text()).get("applications_per_s") if path.exists() else None


async def _windows(applicants: list[Applicant], roots: dict[str, int], *, started: float, every_s: float,
                   into: list[dict[str, Any]]) -> None:
    """Every ``every_s``: how many applications became final in that window (a second), and each service's RSS."""
    done_before = 0
    while True:
        await asyncio.sleep(every_s)
        done = sum(1 for a in applicants if a.finished_at is not None)
        into.append({"endS": round(time.monotonic() - started), "finalPerS": round((done - done_before) / every_s, 2),
                     "final": done, "rssMb": {name: tree_rss_mb(pid) for name, pid in roots.items()}})
        done_before = done


def _soak(windows: list[dict[str, Any]]) -> dict[str, Any]:
    """The first window against the last full one: the rate kept, and each service's RSS growth after the first
    window (warm-up) per 10,000 applications made final meanwhile."""
    if len(windows) < 2 or windows[-1]["final"] == windows[0]["final"]:
        return {}
    first, last = windows[0], windows[-1]
    made = last["final"] - first["final"]
    return {"last_to_first_window_rate": round(last["finalPerS"] / first["finalPerS"], 2) if first["finalPerS"]
            else None,
            "rss_growth_mb_per_10k_after_first_window": {
                name: round((last["rssMb"][name] - first["rssMb"][name]) * 10_000 / made, 1) for name in last["rssMb"]}}


async def _staff_wait_s(clients: Clients, applicant: Applicant, limit: asyncio.Semaphore) -> float | None:
    """The simulated staff's scheduled wait in ``applicant``'s case: its steps done by them, each from its start to
    its ``autoAt`` (mesh time, which runs at the real pace in a bench). None if the case cannot be read."""
    number = (applicant.final or {}).get("applicationNumber")
    if not number:
        return None
    async with limit, clients("mio_workstation") as mio:
        reply = await mio.get(f"/applications/{number}")
    if reply.status_code != 200:
        return None
    return sum(max(0.0, (dt.datetime.fromisoformat(step["autoAt"]) - dt.datetime.fromisoformat(step["startedAt"])
                         ).total_seconds())
               for step in reply.json().get("timeline", []) if step.get("actor") == "auto" and step.get("autoAt"))


async def _split(clients: Clients, applicants: list[Applicant]) -> dict[str, Any]:
    """Submit → final in its two parts, per application: the staff's scheduled wait, and the rest (the mesh's)."""
    limit = asyncio.Semaphore(16)
    final = [(a, a.finished_at - a.submitted_at) for a in applicants
             if a.finished_at is not None and a.submitted_at is not None]
    waits = await asyncio.gather(*(_staff_wait_s(clients, a, limit) for a, _ in final))
    staff = sorted(w for w in waits if w is not None)
    own = sorted(max(0.0, took - w) for (_, took), w in zip(final, waits, strict=True) if w is not None)
    return {"split_of": len(own),
            **{f"p{q}_staff_wait_s": _percentile(staff, q / 100) for q in (50, 95, 99)},
            **{f"p{q}_mesh_own_s": _percentile(own, q / 100) for q in (50, 95, 99)},
            "max_staff_wait_s": _percentile(staff, 1.0), "max_mesh_own_s": _percentile(own, 1.0)}


async def bench(args: argparse.Namespace) -> dict:
    rate = args.rate or round(SHARE_OF_BATCH_RATE * (_batch_rate() or 10.0), 2)
    count = max(1, round(rate * args.seconds))
    portal = round(count * args.portal_share)
    async with whole_mesh("work-steady") as mesh:
        clients, roots = mesh.clients, mesh.roots
        applicants = await prepare(clients, portal=portal, con=count - portal)
        memory_before = {name: tree_rss_mb(pid) for name, pid in roots.items()}
        meter = CpuMeter(roots=roots, alone={"driver": os.getpid()})
        meter.start()
        started = time.monotonic()
        submitting = asyncio.ensure_future(submit(clients, applicants, every_s=1 / rate))
        windows: list[dict[str, Any]] = []
        sampling = asyncio.ensure_future(_windows(applicants, roots, started=started, every_s=args.window,
                                                  into=windows))
        report = await follow(clients, applicants, timeout_s=args.seconds + 600, started=started, every_s=POLL_S,
                              submitting=submitting, cursor=CaseCursor())  # a fresh mesh whose clock stays put
        sampling.cancel()
        submit_s = submitting.result()
        spent = meter.stop()
        memory_after = {name: tree_rss_mb(pid) for name, pid in roots.items()}
        split = await _split(clients, applicants)
    latencies = report.latencies_s
    return {
        "rate_asked_per_s": rate, "seconds": args.seconds, "applications": report.submitted,
        "completed": report.statuses.get("COMPLETED", 0), "lost": len(report.lost),
        "duplicated": len(report.duplicated), "submit_rate_per_s": round(count / submit_s, 2) if submit_s else None,
        "p50_submit_to_final_s": round(statistics.median(latencies), 2) if latencies else None,
        "p95_submit_to_final_s": _percentile(latencies, 0.95),
        "p99_submit_to_final_s": _percentile(latencies, 0.99),
        "max_submit_to_final_s": round(latencies[-1], 2) if latencies else None,
        **split,
        "cpu_ms_per_application": per_item_ms(spent, report.submitted),
        "rss_mb_before": memory_before, "rss_mb_after": memory_after,
        "windows": windows, **_soak(windows),
        "note": ("a steady arrival rate (the asked rate, default 70% of this run's batch rate) for the given "
                 "seconds; latencies from each submit to its final status as the portal's and ИС ЦОН's case lists "
                 f"show it, polled every {POLL_S} s; of which the simulated staff's scheduled wait (ИС МИО's "
                 "timeline: autoAt - startedAt of the steps they did) and the mesh's own time (the rest); CPU and "
                 "RSS as bench.applications measures them"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=None, help="applications a second (default: 70%% of the batch's)")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to keep submitting")
    parser.add_argument("--portal-share", type=float, default=0.75, help="share of applications through the portal")
    parser.add_argument("--window", type=float, default=300.0,
                        help="seconds between samples of the rate made final and each service's RSS")
    parser.add_argument("--name", default="steady", help="writes var/bench/NAME.json (make soak: soak)")
    args = parser.parse_args()
    write_figures(args.name, asyncio.run(bench(args)))


if __name__ == "__main__":
    main()

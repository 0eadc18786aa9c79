"""End to end: applications submitted all at once through the portal and ИС ЦОН, through every regulation's
district, followed to their final status — on the whole mesh (private RabbitMQ, six services, SQLite).

Reports applications per second for the batch (from the first submit to the last final status), the time an
application takes from its submit to its final status (p50/p95, to the 0.5 s the batch polls at), and how hard
the gateway worked meanwhile: the messages it logged per second, and that rate as a share of what the gateway
routes when flooded in the same run (``bench.gateway``'s figure, if it ran first) — a ratio saying whether the
gateway or the rest of the mesh sets the pace. The simulated staff act after a tiny share of each step's
maximum, so the figure is the mesh's own speed, not the regulations'.

What the batch cost in CPU: milliseconds per application for each service, the broker and the load driver (from
/proc, from the first submit to the last final status), their total, and the applications a second that total
allows on this machine's cores (``bench.cpu``) — with the batch's share of that ceiling: below it, something waits.

Then the whole mesh is reset to its seed (issue 20) with all of that in it: how long the reset takes, every
service's ``/ready`` 200 included, and each service's own part.

Writes var/bench/applications.json. Usage: python -m bench.applications [--portal N] [--con N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics

import httpx

from bench.cpu import CpuMeter, ceiling_per_s, per_item_ms
from bench.figures import OUT, whole_mesh, write_figures
from meshkit.load import CaseCursor, run_batch


async def _log_size(gateway: str, token: str) -> int:
    async with httpx.AsyncClient(timeout=60) as http:
        records = (await http.get(f"{gateway}/log", params={"limit": 1},
                                  headers={"Authorization": f"Bearer {token}"})).json()["records"]
    return int(records[0]["seq"]) if records else 0


async def _reset(gateway: str, token: str) -> dict:
    async with httpx.AsyncClient(timeout=120) as http:
        reply = await http.post(f"{gateway}/admin/mesh/reset", json={}, headers={"Authorization": f"Bearer {token}"})
    reply.raise_for_status()
    answer: dict = reply.json()
    return answer


async def bench(args: argparse.Namespace) -> dict:
    async with whole_mesh("work-applications") as mesh:
        config, clients = mesh.config, mesh.clients
        gateway = config.url("shep_gateway")
        logged_before = await _log_size(gateway, config.admin_token)
        meter = CpuMeter(roots=mesh.roots, alone={"driver": os.getpid()})

        async def metered() -> None:  # from the first submit: the batch's preparation (people, keys) is not in it
            meter.start()

        report = await run_batch(clients, portal=args.portal, con=args.con, timeout_s=900, during=metered,
                                 cursor=CaseCursor())  # a fresh mesh whose clock stays put
        spent = meter.stop()
        logged = await _log_size(gateway, config.admin_token) - logged_before
        reset = await _reset(gateway, config.admin_token)
    figures = {
        "applications": report.submitted, "completed": report.statuses.get("COMPLETED", 0),
        "lost": len(report.lost), "duplicated": len(report.duplicated),
        "applications_per_s": round(report.per_second, 2),
        "submit_s": round(report.submit_s, 1), "batch_s": round(report.total_s, 1),
        "p50_submit_to_final_s": round(statistics.median(report.latencies_s), 1) if report.latencies_s else None,
        "p95_submit_to_final_s": round(report.latencies_s[int(0.95 * (len(report.latencies_s) - 1))], 1)
        if report.latencies_s else None,
        "gateway_messages_per_application": round(logged / report.submitted, 1) if report.submitted else None,
        "cpu_ms_per_application": (cpu := per_item_ms(spent, report.submitted)),
        "cpu_ceiling_applications_per_s": ceiling_per_s(cpu["total"]),
        "gateway_messages_per_s": round(logged / report.total_s, 1) if report.total_s else None,
        "reset_after_batch_s": round(reset["durationMs"] / 1000, 2),
        "reset_by_service_s": {name: round(s["durationMs"] / 1000, 2) for name, s in reset["services"].items()},
        "reset_all_ready": all(s["ready"] for s in reset["services"].values()),
    }
    flood = OUT / "gateway.json"
    if flood.exists():
        capacity = json.loads(flood.read_text()).get("gateway_msgs_per_s")
        if capacity and figures["gateway_messages_per_s"]:
            figures["gateway_utilisation"] = round(figures["gateway_messages_per_s"] / capacity, 3)
    figures["share_of_cpu_ceiling"] = round(figures["applications_per_s"] / figures["cpu_ceiling_applications_per_s"],
                                            3) if figures["cpu_ceiling_applications_per_s"] else None
    figures["note"] = ("applications_per_s: the batch from its first submit to its last final status; "
                       "cpu_ms_per_application: CPU time of each service's process, the broker's and this driver's "
                       "during the batch (from the first submit, /proc), per application; the ceiling: the "
                       "machine's cores doing nothing else; "
                       "gateway_utilisation: messages logged per second during the batch / the gateway's flood "
                       "throughput in this `make bench` run")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--portal", type=int, default=300, help="applications through the portal")
    parser.add_argument("--con", type=int, default=100, help="applications through the ИС ЦОН intake")
    args = parser.parse_args()
    write_figures("applications", asyncio.run(bench(args)))

if __name__ == "__main__":
    main()

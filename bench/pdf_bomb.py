"""Issue 17's PDF bomb against a real portal — a private RabbitMQ node and the six services, as `make run` starts them.

The bomb: 1.7 MB, 25 embedded files named ``document.json``, each 70 MB of zeros deflated. Before the portal read PDFs
in a worker process (shared/employment/pdf_reader.py), one took 5.6 s on its event loop (``/health`` silent
meanwhile), three at once held a citizen's login 27.5 s, and the portal kept 1.8 GB. Reported here: the answer and wall
time of one bomb, of three at once, how ``/health`` answered while the three were read (answers, slowest), and the
portal process's resident memory before, after and at its peak (VmHWM).

Writes var/bench/pdf_bomb.json. Usage: python -m bench.pdf_bomb
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import time
from pathlib import Path

import httpx

from bench.figures import OUT, write_figures
from meshkit.mesh_runner import SERVICES, MeshConfig, MeshRunner
from meshkit.ports import free_port
from meshkit.rabbit_node import RabbitNode
from tests.support.pdf_bomb import BOMB_ENTRIES, BOMB_ENTRY_BYTES, issue_17_bomb

MIB = 1024 * 1024


def _memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (the peak) of a process, in bytes."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {k: int(fields[k].split()[0]) * 1024 for k in ("VmRSS", "VmHWM")}


async def _verify(http: httpx.AsyncClient, bomb: bytes) -> tuple[int, str, float]:
    start = time.perf_counter()
    reply = await http.post("/documents/verify", content=bomb, headers={"Content-Type": "application/pdf"})
    return reply.status_code, reply.json().get("code", ""), time.perf_counter() - start


async def _measure(portal: str, pid: int) -> dict:
    bomb = issue_17_bomb()
    async with httpx.AsyncClient(base_url=portal, timeout=120) as http:
        await http.get("/health")
        before = _memory(pid)
        status, code, one_s = await _verify(http, bomb)
        # three attackers, three loopback addresses: one address has one PDF read at a time (429 PDF_ALREADY_READING)
        attackers = [httpx.AsyncClient(base_url=portal, timeout=120, transport=httpx.AsyncHTTPTransport(
            local_address=f"127.0.0.{n}")) for n in (11, 12, 13)]
        three = asyncio.gather(*(_verify(attacker, bomb) for attacker in attackers))
        started = time.perf_counter()
        health: list[float] = []
        while not three.done():
            asked = time.perf_counter()
            (await http.get("/health")).raise_for_status()
            health.append(time.perf_counter() - asked)
        answers = await three
        three_s = time.perf_counter() - started
        for attacker in attackers:
            await attacker.aclose()
        after = _memory(pid)
    return {
        "bomb_bytes": len(bomb), "bomb_inflates_to_bytes": BOMB_ENTRIES * BOMB_ENTRY_BYTES,
        "one_bomb": f"{status} {code}", "one_bomb_s": round(one_s, 3),
        "three_at_once": sorted({f"{s} {c}" for s, c, _ in answers}), "three_at_once_s": round(three_s, 3),
        "health_answers_meanwhile": len(health), "health_slowest_ms": round(max(health) * 1000, 1) if health else None,
        "portal_rss_before_mib": round(before["VmRSS"] / MIB, 1),
        "portal_rss_after_mib": round(after["VmRSS"] / MIB, 1), "portal_rss_peak_mib": round(after["VmHWM"] / MIB, 1),
        "note": "before issue 17's fix: one bomb 5.6 s with /health silent, the portal at 1.8 GB afterwards",
    }


def bench() -> dict:
    work = OUT / "work-pdf-bomb"
    shutil.rmtree(work, ignore_errors=True)
    node = RabbitNode.start(base_dir=work / "rabbitmq")
    config = MeshConfig(var_dir=work / "mesh", amqp_url=node.service_url, broker_management_url=node.management_url,
                        broker_admin=(node.admin.user, node.admin.password), admin_token=secrets.token_urlsafe(16),
                        key_passphrase=secrets.token_urlsafe(16), ports={s.name: free_port() for s in SERVICES},
                        mesh_env="test", extra_env={"MESH_LOG_LEVEL": "WARNING"})
    runner = MeshRunner(config)
    try:
        runner.start()
        runner.wait_ready(timeout_s=180)
        process = runner["portal"].process
        assert process is not None
        return asyncio.run(_measure(config.url("portal"), process.pid))
    finally:
        runner.stop()
        node.stop()


if __name__ == "__main__":
    write_figures("pdf_bomb", bench())

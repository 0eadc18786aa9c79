"""ШЭП's SyncChannel against the AMQP door, in one run (docs/soap.md): ГБД ФЛ's person look-up, round trips per
second through the gateway's SOAP door (a signed SendMessage over HTTP, the door's checks, the pipeline, ГБД ФЛ, the
signed SendMessageResponse) and through the AMQP door (a member's synchronous call), each at the same concurrency,
in alternating rounds on one private mesh (НУЦ, the gateway, ГБД ФЛ); medians, and their ratio.

The SOAP client signs each request as a tester's system would (meshkit.soap: RSA-SHA256 over the exclusive
canonical Body); its signing is not timed apart — a round trip is what a SOAP system waits for.

Writes var/bench/soap.json. Usage: python -m bench.soap [--calls N] [--concurrency C] [--rounds R]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.figures import private_mesh, write_figures
from meshkit.members import MeshEndpoints, enroll, grant
from meshkit.mesh_runner import MeshRunner
from meshkit.soap import enroll_soap
from shared.mesh.bus import Bus
from shared.mesh.bus_rabbit import RabbitBus
from tests.support.members import start_member

PERSON_BY_IIN = "gbdfl.person-by-iin"


@dataclass(frozen=True)
class Target(MeshEndpoints):
    """The private mesh as tests.support.members.start_member wants it: its endpoints and its broker."""

    amqp_url: str = ""

    def new_bus(self, connection_name: str) -> Bus:
        return RabbitBus(url=self.amqp_url, connection_name=connection_name)


async def _rate(call: Callable[[int], Awaitable[None]], *, calls: int, concurrency: int) -> float:
    """Round trips per second: ``calls`` calls, ``concurrency`` at a time."""
    queue = iter(range(calls))

    async def worker() -> None:
        for n in queue:
            await call(n)
    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return calls / (time.perf_counter() - began)


async def bench(args: argparse.Namespace) -> dict:
    node, config = private_mesh("work-soap")
    runner = MeshRunner(config, only=["nuc_pki", "shep_gateway", "gbd_fl"])
    member = None
    try:
        runner.start()
        runner.wait_ready(timeout_s=120)
        target = Target(gateway=config.url("shep_gateway"), nuc=config.url("nuc_pki"),
                        admin_token=config.admin_token, amqp_url=node.amqp_url)
        soap = await enroll_soap(target, member_id="bench-soap")
        amqp = await enroll(target, member_id="bench-amqp")
        await grant(target, service_id=PERSON_BY_IIN, callers=[soap.member_id, amqp.member_id])
        member = await start_member(target, amqp, db_dir=Path(tempfile.mkdtemp(prefix="bench-soap-")))
        async with httpx.AsyncClient(timeout=30) as http:
            claimed = (await http.post(f"{config.url('gbd_fl')}/admin/people/claim", headers=target.admin,
                                       json={"district": "almaty"})).json()
            iin = claimed["iin"]

            async def by_soap(_n: int) -> None:
                reply = await http.post(soap.sync_url, content=soap.sync_call(service_id=PERSON_BY_IIN,
                                                                              data={"iin": iin}),
                                        headers={"Content-Type": "text/xml; charset=utf-8"})
                if reply.status_code != 200:
                    raise RuntimeError(f"SOAP call failed: {reply.status_code} {reply.text[:300]}")

            async def by_amqp(_n: int) -> None:
                await member.runtime.request(service_id=PERSON_BY_IIN, data={"iin": iin})

            doors = {"soap": by_soap, "amqp": by_amqp}
            for call in doors.values():  # warm-up: OCSP answers, connections
                await _rate(call, calls=50, concurrency=args.concurrency)
            rounds: dict[str, list[float]] = {"soap": [], "amqp": []}
            for _ in range(args.rounds):
                for label, call in doors.items():
                    rounds[label].append(await _rate(call, calls=args.calls, concurrency=args.concurrency))
    finally:
        if member is not None:
            await member.close()
        runner.stop()
        node.stop()
    paired = [s / a for s, a in zip(rounds["soap"], rounds["amqp"], strict=True)]
    return {
        "soap_sync_round_trips_per_s": round(statistics.median(rounds["soap"]), 1),
        "amqp_sync_round_trips_per_s": round(statistics.median(rounds["amqp"]), 1),
        "soap_to_amqp_ratio": round(statistics.median(paired), 3),
        "rounds": {label: [round(v, 1) for v in values] for label, values in rounds.items()},
        "calls_per_round": args.calls, "concurrency": args.concurrency,
        "note": "gbdfl.person-by-iin; SOAP: signed SendMessage over HTTP to the SOAP door; AMQP: a member's "
                "synchronous call; medians of alternating rounds, the ratio the median of each pair's",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="round trips in each round")
    parser.add_argument("--concurrency", type=int, default=8, help="calls in flight at once")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of each door")
    write_figures("soap", asyncio.run(bench(parser.parse_args())))


if __name__ == "__main__":
    main()

"""Gateway benchmark on a real, private RabbitMQ node.

Signed messages routed end to end (publish → gateway checks + chained log + outbox → delivery) against the
same traffic through a bare aio-pika forwarder that does no checks:

* flood rounds, alternating gateway and bare: every message published at once (pipelined, confirmed);
  throughput = messages / time until the last one is received; medians are reported, and the ratio is the
  median of each round's gateway/bare ratio (neighbouring rounds share the machine's momentary load);
* paced: a steady rate both can sustain; p50/p99 latency from publish to receipt.

The bench's receiver sends no delivery receipts (``shared.mesh.receipts``): the bare forwarder has nothing like
them. So the gateway's receipt timeout is set past the bench's length (``RECEIPT_TIMEOUT_S``): with the default
60 s, the first rounds' deliveries fell due during the paced run, and the gateway delivered tens of thousands again
to the receiver meanwhile — measuring redelivery of messages no member would leave unreceipted, not routing.

Writes var/bench/gateway.json. Usage: python -m bench.gateway [--messages N] [--paced-rate R] [--paced N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

import orjson
from cryptography import x509

from bench.figures import private_mesh, write_figures
from meshkit.members import MeshEndpoints, enroll, grant
from meshkit.mesh_runner import REPO_ROOT, MeshRunner
from shared.clock import MeshClock
from shared.mesh.bus import Delivery, OutgoingMessage
from shared.mesh.bus_rabbit import RabbitBus
from shared.mesh.envelope import MessageType
from shared.mesh.member import Composer
from shared.mesh.payload_crypto import seal_wire
from shared.mesh.topology import INGRESS_EXCHANGE, member_queue

PREFETCH = 1024
RECEIPT_TIMEOUT_S = "3600"


@dataclass
class Run:
    sent: dict[str, float] = field(default_factory=dict)
    received: dict[str, float] = field(default_factory=dict)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    expected: int = 0

    def on_receive(self, message_id: str) -> None:
        """Only what this run sent counts: the bench's receiver sends no delivery receipts, so the gateway delivers
        an earlier run's messages again (shared.mesh.receipts) into a later run's queue."""
        if message_id not in self.sent or message_id in self.received:
            return
        self.received[message_id] = time.perf_counter()
        if len(self.received) >= self.expected:
            self.done.set()

    def throughput(self) -> float:
        return len(self.received) / (max(self.received.values()) - min(self.sent.values()))

    def latencies_ms(self) -> list[float]:
        return sorted((self.received[m] - self.sent[m]) * 1000 for m in self.received if m in self.sent)


def _percentile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


async def _drive(*, bus: RabbitBus, exchange: str, routing_key: str, bodies: list[tuple[str, bytes]],
                 run: Run, rate: float | None) -> None:
    run.expected = len(bodies)
    window = 256
    if rate is None:
        for start in range(0, len(bodies), window):
            chunk = bodies[start:start + window]
            stamp = time.perf_counter()
            for message_id, _ in chunk:
                run.sent[message_id] = stamp
            await asyncio.gather(*(bus.publish(exchange=exchange, routing_key=routing_key,
                                               message=OutgoingMessage(body=b, message_id=m)) for m, b in chunk))
    else:
        interval = 1.0 / rate
        begin = time.perf_counter()
        pending = []
        for n, (message_id, body) in enumerate(bodies):
            delay = begin + n * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            run.sent[message_id] = time.perf_counter()
            message = OutgoingMessage(body=body, message_id=message_id)
            pending.append(asyncio.ensure_future(bus.publish(exchange=exchange, routing_key=routing_key,
                                                             message=message)))
        await asyncio.gather(*pending)
    await asyncio.wait_for(run.done.wait(), timeout=300)


async def _measure(*, bus: RabbitBus, publisher: RabbitBus, exchange: str, routing_key: str, out_queue: str,
                   bodies: list[tuple[str, bytes]], rate: float | None) -> Run:
    run = Run()

    async def receive(delivery: Delivery) -> None:
        run.on_receive(delivery.message_id or "")
        await delivery.ack()

    subscription = await bus.consume(queue=out_queue, handler=receive, prefetch=2000)
    await _drive(bus=publisher, exchange=exchange, routing_key=routing_key, bodies=bodies, run=run, rate=rate)
    await subscription.cancel()
    return run


def _sign(composer: Composer, *, service: str, count: int, gateway: x509.Certificate) -> list[tuple[str, bytes]]:
    """Signed envelopes as a member sends them: data and signature encrypted to the gateway's certificate."""
    bodies = []
    for n in range(count):
        wire = composer.compose(service_id=service, message_type=MessageType.REQUEST,
                                data={"n": n, "applicant": {"region": "almaty", "note": "benchmark payload"}})
        bodies.append((wire["messageId"], orjson.dumps(seal_wire(wire, recipient=gateway))))
    return bodies


async def bench(args: argparse.Namespace) -> dict:
    node, config = private_mesh("work", extra_env={"SHEP_RECEIPT_TIMEOUT_S": RECEIPT_TIMEOUT_S, **args.gateway_env})
    runner = MeshRunner(config, only=["nuc_pki", "shep_gateway"])
    forwarder = None
    sender_bus: RabbitBus | None = None
    bus = RabbitBus(url=node.amqp_url, connection_name="bench-client")  # the administrator: reads any queue
    try:
        runner.start()
        runner.wait_ready(timeout_s=120)
        endpoints = MeshEndpoints(gateway=config.url("shep_gateway"), nuc=config.url("nuc_pki"),
                                  admin_token=config.admin_token)
        sender = await enroll(endpoints, member_id="bench-sender")
        receiver = await enroll(endpoints, member_id="bench-receiver")
        await grant(endpoints, service_id="bench.route", channel="async", providers=[receiver.member_id],
                    callers=[sender.member_id])
        composer = Composer(member_id=sender.member_id, clock=MeshClock())
        composer.signer = sender.identity
        gateway_certificate = sender.gateway_certificate
        assert gateway_certificate is not None

        def sign(*, count: int) -> list[tuple[str, bytes]]:
            return _sign(composer, gateway=gateway_certificate, service="bench.route", count=count)
        await bus.connect()
        # The sender publishes under its own broker account, as every member must (the gateway checks it).
        sender_bus = bus.sibling(connection_name="bench-sender", login=sender.login)
        await sender_bus.connect()
        await bus.declare_queue(name="bench.bare.in")
        await bus.declare_queue(name="bench.bare.out")
        forwarder = subprocess.Popen([sys.executable, "-m", "bench.bare_forwarder", node.amqp_url,  # noqa: ASYNC220
                                      "bench.bare.in", "bench.bare.out", str(PREFETCH)], cwd=REPO_ROOT)
        targets = {"gateway": (sender_bus, INGRESS_EXCHANGE, "", member_queue(receiver.member_id)),
                   "bare": (bus, "", "bench.bare.in", "bench.bare.out")}
        for publisher, exchange, key, out in targets.values():  # warm-up: OCSP answers, caches, connections
            await _measure(bus=bus, publisher=publisher, exchange=exchange, routing_key=key, out_queue=out,
                           rate=None, bodies=sign(count=200))
        # Rounds alternate between the two so that the machine's drift affects both alike; medians are reported.
        floods: dict[str, list[float]] = {"gateway": [], "bare": []}
        for _ in range(args.rounds):
            for label, (publisher, exchange, key, out) in targets.items():
                run = await _measure(bus=bus, publisher=publisher, exchange=exchange, routing_key=key,
                                     out_queue=out, rate=None,
                                     bodies=sign(count=args.messages))
                floods[label].append(run.throughput())
        paced = {label: await _measure(bus=bus, publisher=publisher, exchange=exchange, routing_key=key,
                                       out_queue=out, rate=args.paced_rate,
                                       bodies=sign(count=args.paced))
                 for label, (publisher, exchange, key, out) in targets.items()}
        size = len(sign(count=1)[0][1])
    finally:
        if forwarder is not None:
            forwarder.terminate()
        if sender_bus is not None:
            await sender_bus.close()
        await bus.close()
        runner.stop()
        node.stop()
    gateway_lat, bare_lat = paced["gateway"].latencies_ms(), paced["bare"].latencies_ms()
    gateway_tps, bare_tps = statistics.median(floods["gateway"]), statistics.median(floods["bare"])
    # Each gateway round is paired with the bare round that ran right after it, under the same machine load.
    paired = [g / b for g, b in zip(floods["gateway"], floods["bare"], strict=True)]
    return {
        "gateway_msgs_per_s": round(gateway_tps, 1), "bare_msgs_per_s": round(bare_tps, 1),
        "ratio": round(statistics.median(paired), 3),
        "round_ratios": [round(r, 3) for r in paired],
        "rounds": {label: [round(v, 1) for v in values] for label, values in floods.items()},
        "p50_ms": round(statistics.median(gateway_lat), 2), "p99_ms": round(_percentile(gateway_lat, 0.99), 2),
        "bare_p50_ms": round(statistics.median(bare_lat), 2), "bare_p99_ms": round(_percentile(bare_lat, 0.99), 2),
        "message_bytes": size, "flood_messages": args.messages, "paced_messages": args.paced,
        "paced_rate_per_s": args.paced_rate, "prefetch": PREFETCH,
        "note": ("throughput: medians of alternating flood rounds; ratio: median of per-round gateway/bare "
                 "ratios; latency: a paced run (publish → receipt, same client for both)"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000, help="messages in the flood run")
    parser.add_argument("--paced", type=int, default=1000, help="messages in the paced run")
    parser.add_argument("--paced-rate", type=float, default=200.0, help="messages per second in the paced run")
    parser.add_argument("--rounds", type=int, default=5, help="alternating flood rounds of each")
    parser.add_argument("--gateway-env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra gateway setting, e.g. SHEP_BATCH_SIZE=256 (repeatable)")
    args = parser.parse_args()
    args.gateway_env = dict(item.split("=", 1) for item in args.gateway_env)
    write_figures("gateway", asyncio.run(bench(args)))

if __name__ == "__main__":
    main()

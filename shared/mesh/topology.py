"""The mesh's exchanges and queues, declared idempotently by whoever needs them (same arguments everywhere).

    member ──publish──► shep.ingress ──('')────► [shep.ingress] ──────► gateway    asynchronous messages
                                     ──(sync)──► [shep.ingress.sync] ─► gateway    synchronous requests, answers
    gateway ─publish──► shep.delivery ─(member id)──────► [member.<id>]        asynchronous channel
                                      ─(<id>.sync)──────► [member.<id>.sync]   synchronous requests
    gateway ─────────── default exchange ──────────────► caller's reply queue  synchronous answers
    any consumer ─reject/refuse─► mesh.dead ──► [mesh.dead-letters]            with the reason in headers
    [q] ─transient failure─► q.retry ─(<n>s)─► [q.retry.<n>s] ─TTL─► [q]        back-off tiers

The synchronous lane is the ingress's fast lane, as each member's ``.sync`` queue is at delivery: a request and
its answer wait for the gateway's batch in work and the calls ahead of them (``services.shep_gateway.consumers``),
never behind the thousands of asynchronous messages a burst leaves in shep.ingress — there they waited past their
deadline (10 s) and a caller was told Server.Timeout while the registry had answered. The lane is a schedule, not
a privilege: what arrives on either is examined alike, and anything but a synchronous request or answer on the
fast lane is refused Client.WrongLane (``services.shep_gateway.usecases.routing``). A synchronous message on the
asynchronous lane is still taken, in its turn.

Each work queue has its own retry exchange, so a member's broker account can be allowed to schedule its own
retries without being allowed to publish on the default exchange (which reaches every queue by name).
    gateway ─clock change─► mesh.clock (fanout) ──► every service
"""

from __future__ import annotations

from shared.mesh.bus import Bus, Delivery, OutgoingMessage

GATEWAY_ID = "shep"  # the gateway's member id: its certificate's CN, its broker account, the clock's sender
INGRESS_EXCHANGE = "shep.ingress"
INGRESS_QUEUE = "shep.ingress"
INGRESS_SYNC_QUEUE = "shep.ingress.sync"
SYNC_INGRESS_KEY = "sync"  # the routing key on shep.ingress of the synchronous lane
INGRESS_QUEUES = (INGRESS_SYNC_QUEUE, INGRESS_QUEUE)  # the gateway takes from the first first
DELIVERY_EXCHANGE = "shep.delivery"
DEAD_EXCHANGE = "mesh.dead"
DEAD_QUEUE = "mesh.dead-letters"
CLOCK_EXCHANGE = "mesh.clock"
RETRY_TIERS_S = (1, 5, 30)

# Headers carried by dead letters and retries
H_REFUSAL_CODE = "x-refusal-code"
H_REFUSAL_REASON = "x-refusal-reason"
H_ORIGIN_QUEUE = "x-origin-queue"
H_ATTEMPT = "x-attempt"          # attempts made so far (retries)
H_FIRST_FAILED = "x-first-failed-ms"  # real Unix ms of the first failed attempt (an outage is retried for a while)
H_FAULTS = "x-faults"            # failed attempts that were not outages (a message's own budget)
H_DEADLINE = "x-deadline-ms"    # sync requests: real Unix time (ms) after which the answer is useless
H_RECIPIENT = "x-recipient"      # set by the gateway on delivery: the member it routed to
H_PUBLISHER = "x-shep-publisher"  # set by the gateway on an ingress message it retries: the broker login that
#                                   first published it (the copy's own AMQP user-id is the gateway's); or by its
#                                   SOAP door: the SOAP member it authenticated
H_DOOR = "x-shep-door"  # set by the gateway's SOAP door on what it publishes (with its own user-id): "soap"
H_DOOR_CHECKS = "x-shep-door-checks"  # with it: the WS-Security checks the door made (JSON)


def deadline_header(deadline_s: float) -> int:
    """AMQP carries Python floats as 32-bit floats (minutes of error at today's epoch): use integer ms."""
    return int(deadline_s * 1000)


def read_deadline(headers: dict, *, default_s: float) -> float:
    value = headers.get(H_DEADLINE)
    return default_s if value is None else int(value) / 1000


def member_queue(member_id: str) -> str:
    return f"member.{member_id}"


def member_sync_queue(member_id: str) -> str:
    return f"member.{member_id}.sync"


def sync_routing_key(member_id: str) -> str:
    return f"{member_id}.sync"


def ingress_key(*, synchronous: bool) -> str:
    """The routing key on shep.ingress: a synchronous request or answer takes the fast lane."""
    return SYNC_INGRESS_KEY if synchronous else ""


def ingress_queue_of(delivery: Delivery) -> str:
    """The ingress queue ``delivery`` was taken from: published to its lane (the routing key), or back from one of
    the lane's retry tiers (the broker dead-letters those to the queue by name)."""
    return INGRESS_SYNC_QUEUE if delivery.routing_key in (SYNC_INGRESS_KEY, INGRESS_SYNC_QUEUE) else INGRESS_QUEUE


def retry_queue(queue: str, tier_s: int) -> str:
    return f"{queue}.retry.{tier_s}s"


def first_publisher(delivery: Delivery, *, me: str | None) -> str | None:
    """The broker login that first published ``delivery``: its user-id — unless it is a copy that went round
    my own retry tiers (its user-id is then mine), whose first publisher I recorded in ``H_PUBLISHER``.
    Anyone else's ``H_PUBLISHER`` is ignored: only my own copies carry one I wrote."""
    if me is not None and delivery.user_id == me and H_PUBLISHER in delivery.headers:
        return str(delivery.headers[H_PUBLISHER])
    return delivery.user_id


def retry_exchange(queue: str) -> str:
    return f"{queue}.retry"


def retry_key(tier_s: int) -> str:
    return f"{tier_s}s"


async def declare_core(bus: Bus) -> None:
    await bus.declare_exchange(name=INGRESS_EXCHANGE, kind="direct")
    await bus.declare_exchange(name=DELIVERY_EXCHANGE, kind="direct")
    await bus.declare_exchange(name=DEAD_EXCHANGE, kind="fanout")
    await bus.declare_exchange(name=CLOCK_EXCHANGE, kind="fanout", durable=True)
    await bus.declare_queue(name=DEAD_QUEUE)
    await bus.bind_queue(queue=DEAD_QUEUE, exchange=DEAD_EXCHANGE)


async def declare_work_queue(bus: Bus, *, queue: str, bindings: list[tuple[str, str]]) -> None:
    """A durable queue that dead-letters to mesh.dead, with its retry tiers feeding back into it."""
    await bus.declare_queue(name=queue, arguments={"x-dead-letter-exchange": DEAD_EXCHANGE})
    for exchange, key in bindings:
        await bus.bind_queue(queue=queue, exchange=exchange, routing_key=key)
    await bus.declare_exchange(name=retry_exchange(queue), kind="direct")
    for tier in RETRY_TIERS_S:
        await bus.declare_queue(name=retry_queue(queue, tier), arguments={
            "x-message-ttl": tier * 1000,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": queue,
        })
        await bus.bind_queue(queue=retry_queue(queue, tier), exchange=retry_exchange(queue),
                             routing_key=retry_key(tier))


async def publish_retry(bus: Bus, *, queue: str, tier_s: int, message: OutgoingMessage) -> None:
    await bus.publish(exchange=retry_exchange(queue), routing_key=retry_key(tier_s), message=message)


async def declare_member(bus: Bus, *, member_id: str) -> None:
    """Everything a member needs, bound to the gateway's delivery routes: the gateway's to declare."""
    await declare_core(bus)
    await declare_work_queue(bus, queue=member_queue(member_id), bindings=[(DELIVERY_EXCHANGE, member_id)])
    await declare_work_queue(bus, queue=member_sync_queue(member_id),
                             bindings=[(DELIVERY_EXCHANGE, sync_routing_key(member_id))])


async def declare_member_queues(bus: Bus, *, member_id: str) -> None:
    """What a member declares itself, as its broker account allows: its own queues, no bindings to the
    gateway's routes (``declare_member`` made those)."""
    await declare_work_queue(bus, queue=member_queue(member_id), bindings=[])
    await declare_work_queue(bus, queue=member_sync_queue(member_id), bindings=[])


async def declare_gateway(bus: Bus) -> None:
    await declare_core(bus)
    await declare_work_queue(bus, queue=INGRESS_QUEUE, bindings=[(INGRESS_EXCHANGE, ingress_key(synchronous=False))])
    await declare_work_queue(bus, queue=INGRESS_SYNC_QUEUE,
                             bindings=[(INGRESS_EXCHANGE, ingress_key(synchronous=True))])

"""A broker only members use (issue 17, item 5), on real RabbitMQ.

- ``guest`` is refused on the tests' private brokers (``make run``'s: tests/e2e/test_operations.py), and a data
  directory from before, which still has it, loses it at start.
- The broker's administrator — the one login that may bind a queue to the gateway's exchanges and read any queue
  — captures deliveries and reads no payload: what a member sends is encrypted to the gateway, what the gateway
  delivers to the recipient.
- A competing consumer on a member's queue, under the administrator's login, takes deliveries: each is noticed
  (no receipt), delivered again, and applied once.

In process, on the in-memory broker: tests/usecases/test_members_only_broker.py (with NOT_DELIVERED).
"""

from __future__ import annotations

import asyncio
import uuid

import aio_pika
import httpx
import pytest

from meshkit.rabbit_node import RabbitNode
from shared.mesh.broker_accounts import BrokerLogin
from shared.mesh.bus import Delivery
from shared.mesh.bus_rabbit import RabbitBus
from shared.mesh.envelope import MessageType
from shared.mesh.topology import DELIVERY_EXCHANGE, INGRESS_EXCHANGE, member_queue
from tests.support.members import grant, unique_id

pytestmark = pytest.mark.e2e
IIN, NAME = "900101300123", "Жанар Сапарбекова"


async def test_guest_is_refused_and_an_old_data_directory_loses_it(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("old-rabbit")
    node = RabbitNode.start(base_dir=base)
    try:
        with pytest.raises(aio_pika.exceptions.ProbableAuthenticationError):
            await aio_pika.connect(f"amqp://guest:guest@127.0.0.1:{node.amqp_port}/")
        async with httpx.AsyncClient(timeout=10) as http:
            assert (await http.get(f"{node.management_url}/api/whoami", auth=("guest", "guest"))).status_code == 401
            admin = (node.admin.user, node.admin.password)
            assert (await http.get(f"{node.management_url}/api/whoami", auth=admin)).json()["tags"] == \
                ["administrator"]
            # A data directory from before: guest, an administrator, is there.
            (await http.put(f"{node.management_url}/api/users/guest", auth=admin,
                            json={"password": "guest", "tags": "administrator"})).raise_for_status()
    finally:
        node.stop(graceful=False)
    node = RabbitNode.start(base_dir=base, admin=node.admin)
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            users = (await http.get(f"{node.management_url}/api/users", auth=(node.admin.user, node.admin.password)))
        assert [u["name"] for u in users.json()] == ["mesh"], "guest deleted at start"
        with pytest.raises(aio_pika.exceptions.ProbableAuthenticationError):
            await aio_pika.connect(f"amqp://guest:guest@127.0.0.1:{node.amqp_port}/")
    finally:
        node.stop(graceful=False)


async def _admin_bus(mesh, name: str) -> RabbitBus:
    bus = RabbitBus(url=mesh.rabbit.amqp_url, connection_name=name)  # the administrator's login
    await bus.connect()
    return bus


async def test_the_administrator_captures_deliveries_and_reads_no_payload(mesh, member_factory):
    sender, provider = await member_factory("sender"), await member_factory("provider")
    service = unique_id("test.personal")
    await grant(mesh, service_id=service, channel="async", providers=[provider.member_id], callers=[sender.member_id])
    spy = await _admin_bus(mesh, "spy")
    captured: list[Delivery] = []
    try:
        queue = await spy.declare_queue(name=f"spy-{uuid.uuid4().hex[:8]}", exclusive=True, auto_delete=True,
                                        durable=False)
        await spy.bind_queue(queue=queue, exchange=INGRESS_EXCHANGE, routing_key="")
        await spy.bind_queue(queue=queue, exchange=DELIVERY_EXCHANGE, routing_key=provider.member_id)

        async def keep(delivery: Delivery) -> None:
            captured.append(delivery)
            await delivery.ack()

        await spy.consume(queue=queue, handler=keep)
        wire = await sender.send(service_id=service, message_type=MessageType.REQUEST,
                                 data={"applicantIin": IIN, "fullName": NAME})
        got = await provider.wait_for(lambda i: str(i.envelope.message_id) == wire["messageId"])
        for _ in range(100):
            if {d.exchange for d in captured if d.message_id == wire["messageId"]} == {INGRESS_EXCHANGE,
                                                                                       DELIVERY_EXCHANGE}:
                break
            await asyncio.sleep(0.1)
    finally:
        await spy.close()
    assert got.envelope.data == {"applicantIin": IIN, "fullName": NAME}, "the recipient reads it"
    both = [d for d in captured if d.message_id == wire["messageId"]]
    assert {d.exchange for d in both} == {INGRESS_EXCHANGE, DELIVERY_EXCHANGE}
    for hop in both:
        assert IIN.encode() not in hop.body
        assert NAME.encode() not in hop.body
        assert b'"encrypted"' in hop.body


async def test_deliveries_a_competing_consumer_takes_are_delivered_again_and_applied_once(mesh, member_factory):
    sender, provider = await member_factory("sender"), await member_factory("provider")
    service = unique_id("test.stolen")
    await grant(mesh, service_id=service, channel="async", providers=[provider.member_id], callers=[sender.member_id])
    thief = await _admin_bus(mesh, "thief")
    stolen: list[str] = []

    async def take(delivery: Delivery) -> None:
        stolen.append(delivery.message_id or "")
        await delivery.ack()

    try:
        subscription = await thief.consume(queue=member_queue(provider.member_id), handler=take, prefetch=1)
        sent = [await sender.send(service_id=service, message_type=MessageType.REQUEST, data={"n": n})
                for n in range(6)]
        for _ in range(200):
            if stolen:
                break
            await asyncio.sleep(0.05)
        await subscription.cancel()
    finally:
        await thief.close()
    assert stolen, "the competing consumer took some (the issue saw 2 of 4)"
    ids = [w["messageId"] for w in sent]
    for message_id in ids:
        await provider.wait_for(lambda i, m=message_id: str(i.envelope.message_id) == m, timeout_s=60)
    for _ in range(200):  # the handler has seen each; its effect commits a moment after
        applied = await provider.applied()
        if len(applied) >= len(ids):
            break
        await asyncio.sleep(0.05)
    assert sorted(applied) == sorted(ids), "each applied once"
    async with httpx.AsyncClient(timeout=10, headers=mesh.admin) as http:
        for _ in range(100):
            deliveries = {d["messageId"]: d for w in sent for d in (await http.get(
                f"{mesh.gateway}/deliveries", params={"correlationId": w["correlationId"]})).json()["deliveries"]}
            if all(d["state"] == "DELIVERED" for d in deliveries.values()):
                break
            await asyncio.sleep(0.1)
    assert {d["state"] for d in deliveries.values()} == {"DELIVERED"}
    assert all(deliveries[m]["attempts"] >= 2 for m in stolen if m in deliveries), "what was stolen came again"


def test_the_administrators_login_is_the_meshs_own(mesh):
    assert mesh.rabbit.admin.user == "mesh"
    assert mesh.rabbit.admin != BrokerLogin(user="guest", password="guest")

"""Outbox, inbox, retries and dead letters on the in-memory bus and a real SQLite database."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Column, Integer
from sqlmodel import Field, SQLModel, select

from shared.bus import OutgoingMessage
from shared.bus_memory import MemoryBroker, MemoryBus
from shared.consumer import MessageConsumer, PermanentFailure
from shared.db import create_tables, make_engine, make_sessions
from shared.inbox import InboxMessage
from shared.outbox import OutboxMessage, OutboxRelay, queue_outgoing
from shared.topology import DEAD_QUEUE, H_ATTEMPT, H_REFUSAL_CODE, declare_core, declare_work_queue, retry_queue


class Counter(SQLModel, table=True):
    __tablename__ = "test_counter"

    id: int | None = Field(default=None, primary_key=True)
    value: int = Field(sa_column=Column(Integer, nullable=False))


@pytest.fixture
async def env(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'svc.db'}")
    await create_tables(engine, models=[OutboxMessage, InboxMessage, Counter])
    bus = MemoryBus(broker=MemoryBroker())
    await bus.connect()
    await declare_core(bus)
    await declare_work_queue(bus, queue="work", bindings=[])
    yield make_sessions(engine), bus
    await bus.close()
    await engine.dispose()


async def _count(sessions) -> int:
    async with sessions() as session:
        return len((await session.exec(select(Counter))).all())


def _consumer(sessions, bus, apply, **kw):
    async def prepare(delivery):
        if delivery.body == b"poison":
            raise PermanentFailure("Client.InvalidEnvelope", "cannot parse")
        return delivery

    return MessageConsumer(bus=bus, sessions=sessions, queue="work", name="svc", prepare=prepare, apply=apply,
                           message_id_of=lambda d: d.message_id, **kw)


async def test_a_redelivered_message_is_applied_once(env):
    sessions, bus = env

    async def apply(session, _delivery):
        session.add(Counter(value=1))

    consumer = _consumer(sessions, bus, apply)
    await consumer.start()
    for _ in range(3):  # the same messageId three times: a resend, a redelivery, a duplicate publish
        await bus.publish(exchange="", routing_key="work", message=OutgoingMessage(body=b"x", message_id="m-1"))
    await asyncio.sleep(0.2)
    assert await _count(sessions) == 1
    assert await bus.queue_length(queue="work") == 0


async def test_a_failing_effect_is_rolled_back_and_retried_with_backoff(env):
    sessions, bus = env
    calls = []

    async def apply(session, _delivery):
        calls.append(1)
        session.add(Counter(value=1))
        raise ConnectionError("registry temporarily unreachable")

    await _consumer(sessions, bus, apply).start()
    await bus.publish(exchange="", routing_key="work", message=OutgoingMessage(body=b"x", message_id="m-2"))
    await asyncio.sleep(0.1)
    assert await _count(sessions) == 0, "nothing of the failed attempt was committed"
    retried = await bus.get(queue=retry_queue("work", 1))
    assert retried is not None
    assert retried.headers[H_ATTEMPT] == 1


async def test_retries_end_in_the_dead_letter_queue_with_the_reason(env):
    sessions, bus = env

    async def apply(_session, _delivery):
        raise ConnectionError("still down")

    await _consumer(sessions, bus, apply, max_attempts=2).start()
    await bus.publish(exchange="", routing_key="work",
                      message=OutgoingMessage(body=b"x", message_id="m-3", headers={H_ATTEMPT: 1}))
    await asyncio.sleep(0.1)
    dead = await bus.get(queue=DEAD_QUEUE)
    assert dead is not None
    assert dead.headers[H_REFUSAL_CODE] == "RETRIES_EXHAUSTED"
    assert "still down" in dead.headers["x-refusal-reason"]


async def test_a_poison_message_goes_straight_to_the_dead_letter_queue(env):
    sessions, bus = env

    async def apply(_session, _delivery):
        raise AssertionError("never applied")

    await _consumer(sessions, bus, apply).start()
    await bus.publish(exchange="", routing_key="work", message=OutgoingMessage(body=b"poison", message_id="m-4"))
    await asyncio.sleep(0.1)
    dead = await bus.get(queue=DEAD_QUEUE)
    assert dead is not None
    assert dead.headers[H_REFUSAL_CODE] == "Client.InvalidEnvelope"
    assert await bus.queue_length(queue="work") == 0


async def test_outbox_leaves_only_on_commit_and_in_order(env):
    sessions, bus = env
    await bus.declare_queue(name="out")
    relay = OutboxRelay(sessions=sessions, bus=bus)
    async def failing_change() -> None:
        async with sessions() as session, session.begin():
            queue_outgoing(session, exchange="", routing_key="out",
                           message=OutgoingMessage(body=b"rolled back", message_id="r"))
            raise RuntimeError("the state change failed")

    with pytest.raises(RuntimeError):
        await failing_change()
    async with sessions() as session, session.begin():
        for n in range(5):
            queue_outgoing(session, exchange="", routing_key="out",
                           message=OutgoingMessage(body=str(n).encode(), message_id=f"o-{n}"))
    assert await relay.publish_pending() == 5
    assert await relay.pending_count() == 0
    bodies = []
    while (d := await bus.get(queue="out")) is not None:
        bodies.append(d.body)
    assert bodies == [b"0", b"1", b"2", b"3", b"4"]


async def test_an_unroutable_outbox_row_is_parked_not_blocking(env):
    sessions, bus = env
    await bus.declare_queue(name="out")
    relay = OutboxRelay(sessions=sessions, bus=bus)
    async with sessions() as session, session.begin():
        queue_outgoing(session, exchange="", routing_key="gone-reply-queue",
                       message=OutgoingMessage(body=b"late answer", message_id="u-1"))
        queue_outgoing(session, exchange="", routing_key="out", message=OutgoingMessage(body=b"next", message_id="u-2"))
    assert await relay.publish_pending() == 2
    parked = await bus.get(queue=DEAD_QUEUE)
    assert parked is not None
    assert parked.headers[H_REFUSAL_CODE] == "UNROUTABLE"
    nxt = await bus.get(queue="out")
    assert nxt is not None
    assert nxt.body == b"next"

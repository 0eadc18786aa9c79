"""Outbox, inbox, retries and dead letters on the in-memory bus and a real SQLite database."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import Callable

import pytest
from sqlalchemy import Column, Integer, delete, event
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Field, SQLModel, col, select

from shared.db import create_tables, make_engine, make_sessions
from shared.errors import MeshError
from shared.mesh import outbox as outbox_module
from shared.mesh.bus import BusError, OutgoingMessage
from shared.mesh.bus_memory import MemoryBroker, MemoryBus
from shared.mesh.consumer import MessageConsumer
from shared.mesh.dead_letters import json_safe
from shared.mesh.failures import FailureKind, OutageFailure, PermanentFailure, RetryPolicy, classify
from shared.mesh.inbox import InboxMessage
from shared.mesh.outbox import OutboxMessage, OutboxRelay, queue_outgoing
from shared.mesh.topology import (
    DEAD_QUEUE,
    H_ATTEMPT,
    H_FAULTS,
    H_FIRST_FAILED,
    H_REFUSAL_CODE,
    declare_core,
    declare_work_queue,
    retry_queue,
)


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
        raise KeyError("a bug that never heals")

    await _consumer(sessions, bus, apply, policy=RetryPolicy(fault_attempts=2)).start()
    await bus.publish(exchange="", routing_key="work",
                      message=OutgoingMessage(body=b"x", message_id="m-3", headers={H_ATTEMPT: 5, H_FAULTS: 1}))
    await asyncio.sleep(0.1)
    dead = await bus.get(queue=DEAD_QUEUE)
    assert dead is not None
    assert dead.headers[H_REFUSAL_CODE] == "RETRIES_EXHAUSTED"
    assert "a bug that never heals" in dead.headers["x-refusal-reason"]
    assert "after 2 attempts" in dead.headers["x-refusal-reason"]


async def test_an_outage_is_retried_past_the_fault_limit_until_its_window_ends(env):
    sessions, bus = env

    async def apply(_session, _delivery):
        raise ConnectionError("registry down")

    policy = RetryPolicy(fault_attempts=2, outage_window_s=60)
    await _consumer(sessions, bus, apply, policy=policy).start()
    await bus.publish(exchange="", routing_key="work",
                      message=OutgoingMessage(body=b"x", message_id="m-5", headers={H_ATTEMPT: 7}))
    await asyncio.sleep(0.1)
    assert await bus.get(queue=DEAD_QUEUE) is None, "an outage does not use up a message's attempts"
    assert (await bus.get(queue=retry_queue("work", 30))) is not None
    long_ago = int((time.time() - 61) * 1000)
    await bus.publish(exchange="", routing_key="work", message=OutgoingMessage(
        body=b"x", message_id="m-6", headers={H_ATTEMPT: 7, H_FIRST_FAILED: long_ago}))
    await asyncio.sleep(0.1)
    dead = await bus.get(queue=DEAD_QUEUE)
    assert dead is not None
    assert dead.headers[H_REFUSAL_CODE] == "Server.DependencyUnavailable"
    assert "still failing after 61 s" in dead.headers["x-refusal-reason"]


async def test_a_conflict_that_is_not_the_inbox_key_is_retried_not_taken_for_a_duplicate(env):
    """The lost-applications bug: an IntegrityError from the effect (two writers, one unique key) was acked as
    'another replica processed this message'. Only the inbox claim may say duplicate."""
    sessions, bus = env
    attempts = []

    async def apply(session, delivery):
        attempts.append(1)
        session.add(Counter(id=1 if len(attempts) == 1 else None, value=1))  # the first time, a taken key

    async with sessions() as session, session.begin():
        session.add(Counter(id=1, value=0))
    await _consumer(sessions, bus, apply).start()
    await bus.publish(exchange="", routing_key="work", message=OutgoingMessage(body=b"x", message_id="m-7"))
    await asyncio.sleep(0.1)
    retried = await bus.get(queue=retry_queue("work", 1))
    assert retried is not None, "retried, not dropped"
    assert await _count(sessions) == 1
    await bus.publish(exchange="", routing_key="work", message=OutgoingMessage(
        body=retried.body, message_id=retried.message_id, headers=retried.headers))
    await asyncio.sleep(0.1)
    assert await _count(sessions) == 2, "the second attempt applied it"
    assert await bus.get(queue=DEAD_QUEUE) is None


async def test_a_handler_that_crashes_past_its_own_error_handling_dead_letters_with_the_reason(env):
    _sessions, bus = env

    async def crashing(delivery):
        raise RuntimeError("escaped the handler")

    await bus.consume(queue="work", handler=crashing)
    await bus.publish(exchange="", routing_key="work", message=OutgoingMessage(body=b"x", message_id="m-8"))
    await asyncio.sleep(0.1)
    dead = await bus.get(queue=DEAD_QUEUE)
    assert dead is not None
    assert dead.headers[H_REFUSAL_CODE] == "Server.ConsumerCrashed"
    assert "escaped the handler" in dead.headers["x-refusal-reason"]
    assert await bus.queue_length(queue="work") == 0


@pytest.mark.parametrize(("error", "kind", "code"), [
    (PermanentFailure("Client.InvalidEnvelope", "x"), FailureKind.PERMANENT, "Client.InvalidEnvelope"),
    (OutageFailure("Server.OcspResponderUnreachable", "x"), FailureKind.OUTAGE, "Server.OcspResponderUnreachable"),
    (MeshError("Server.Timeout", "no answer"), FailureKind.OUTAGE, "Server.Timeout"),
    (MeshError("DISTRICT_UNKNOWN", "no such district"), FailureKind.PERMANENT, "DISTRICT_UNKNOWN"),
    (BusError("connection lost"), FailureKind.OUTAGE, "Server.BrokerUnavailable"),
    (ConnectionRefusedError("refused"), FailureKind.OUTAGE, "Server.DependencyUnavailable"),
    (IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed")), FailureKind.FAULT, "Server.WriteConflict"),
    (OperationalError("SELECT", {}, Exception("database is locked")), FailureKind.OUTAGE,
     "Server.DatabaseUnavailable"),
    (TypeError("Object of type datetime is not JSON serializable"), FailureKind.FAULT, "Server.ProcessingFailed"),
])
def test_every_failure_has_one_meaning(error, kind, code):
    failure = classify(error)
    assert (failure.kind, failure.code) == (kind, code)


def test_broker_headers_are_made_storable():
    when = dt.datetime(2026, 11, 30, 0, 20, tzinfo=dt.UTC)
    headers = {"x-death": [{"time": when, "count": 1, "routing-keys": ["q"], "raw": b"\xff\x00"}],
               "x-text": "nul\x00inside", "x-bytes": b"plain"}
    safe = json_safe(headers)
    json.dumps(safe)  # what the outbox's JSON column does
    assert safe["x-death"][0]["time"] == "2026-11-30T00:20:00+00:00"
    assert safe["x-death"][0]["raw"].startswith("base64:")
    assert safe["x-text"] == "nul\ufffdinside"
    assert safe["x-bytes"] == "plain"


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


def _outbox_statements(engine) -> tuple[list[str], Callable[[], None]]:
    """Every statement on the outbox table this engine runs from now (one per executemany), and how to stop."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, _parameters, _context, _many) -> None:
        if " outbox" in statement:
            seen.append(statement.lstrip().split()[0].upper())
    event.listen(engine, "before_cursor_execute", record)
    return seen, lambda: event.remove(engine, "before_cursor_execute", record)


async def _relay_taking(sessions, bus, queue: str) -> tuple[OutboxRelay, asyncio.Queue[bytes]]:
    """A started relay, and what reaches ``queue``, in order, as it arrives."""
    took: asyncio.Queue[bytes] = asyncio.Queue()

    async def take(delivery) -> None:
        await delivery.ack()
        took.put_nowait(delivery.body)
    await bus.declare_queue(name=queue)
    await bus.consume(queue=queue, handler=take)
    relay = OutboxRelay(sessions=sessions, bus=bus, idle_poll_s=600)  # no poll of its own within the test
    relay.start()
    return relay, took


async def test_at_a_trickle_the_relay_publishes_what_commits_without_reading_it_back_and_marks_it_sent_in_one_go(
        env, monkeypatch: pytest.MonkeyPatch):
    """Each transaction's rows are handed to the relay as it commits: it reads the outbox once (to catch up) and
    then publishes without reading rows back, and marks what it published sent many rows a transaction. Before: a
    read, a publish, a write transaction to mark, and a second read, for every message — 2.1 ms of CPU a message
    against the 0.5 ms of the state change itself. Marks wait here for the relay's stop (no pause counts), so
    the count does not depend on the machine's speed."""
    sessions, bus = env
    monkeypatch.setattr(outbox_module, "RECORD_IDLE_S", 600.0)
    monkeypatch.setattr(outbox_module, "RECORD_WITHIN_S", 600.0)
    engine = sessions.kw["bind"].sync_engine
    relay, took = await _relay_taking(sessions, bus, "out")
    statements, stop_watching = _outbox_statements(engine)
    try:
        for n in range(5):  # one after another: each published before the next commits
            async with sessions() as session, session.begin():
                queue_outgoing(session, exchange="", routing_key="out",
                               message=OutgoingMessage(body=str(n).encode(), message_id=f"t-{n}"))
            assert await took.get() == str(n).encode(), "in commit order"
        async with sessions() as session:
            assert len((await session.exec(select(OutboxMessage).where(
                col(OutboxMessage.sent_at).is_(None)))).all()) == 5
        await relay.stop()
    finally:
        stop_watching()
    assert statements.count("INSERT") == 5
    assert statements.count("SELECT") <= 2, statements  # the catch-up read (and a count): none per message
    assert statements.count("UPDATE") == 1, statements  # every mark in one statement, at the stop
    async with sessions() as session:
        assert all(r.sent_at is not None for r in (await session.exec(select(OutboxMessage))).all())


async def test_a_row_that_takes_the_id_of_one_published_and_deleted_by_a_reset_is_published_not_lost(
        env, monkeypatch: pytest.MonkeyPatch):
    """A reset empties the outbox while rows published are not marked yet; SQLite gives the next row the id of one
    deleted. That row must still go out, never be taken for the one published before it (a mark names the message
    id as well as the row id)."""
    sessions, bus = env
    monkeypatch.setattr(outbox_module, "RECORD_IDLE_S", 600.0)
    monkeypatch.setattr(outbox_module, "RECORD_WITHIN_S", 600.0)
    relay, took = await _relay_taking(sessions, bus, "out")
    async with sessions() as session, session.begin():
        queue_outgoing(session, exchange="", routing_key="out", message=OutgoingMessage(body=b"A", message_id="a"))
    assert await took.get() == b"A"
    async with sessions() as session, session.begin():
        await session.exec(delete(OutboxMessage))
    async with sessions() as session, session.begin():
        queue_outgoing(session, exchange="", routing_key="out", message=OutgoingMessage(body=b"B", message_id="b"))
    assert await took.get() == b"B"
    await relay.stop()


async def test_an_unroutable_outbox_row_is_parked_not_blocking(env):
    sessions, bus = env
    await bus.declare_exchange(name="deliveries", kind="direct")
    await bus.declare_queue(name="out")
    relay = OutboxRelay(sessions=sessions, bus=bus)
    async with sessions() as session, session.begin():
        queue_outgoing(session, exchange="deliveries", routing_key="no-such-member",
                       message=OutgoingMessage(body=b"undeliverable", message_id="u-1"))
        queue_outgoing(session, exchange="", routing_key="out", message=OutgoingMessage(body=b"next", message_id="u-2"))
    assert await relay.publish_pending() == 2
    parked = await bus.get(queue=DEAD_QUEUE)
    assert parked is not None
    assert parked.headers[H_REFUSAL_CODE] == "UNROUTABLE"
    nxt = await bus.get(queue="out")
    assert nxt is not None
    assert nxt.body == b"next"


async def test_an_answer_for_a_caller_that_is_gone_is_let_go_not_dead_lettered(env):
    """A synchronous caller's reply queue lives as long as the caller: an answer it can no longer take is one
    nobody waits for (a killed ИС МИО's question answered after its death) — no dead letter to clear up."""
    sessions, bus = env
    await bus.declare_queue(name="out")
    relay = OutboxRelay(sessions=sessions, bus=bus)
    async with sessions() as session, session.begin():
        queue_outgoing(session, exchange="", routing_key="mio.almaty.replies.gone",
                       message=OutgoingMessage(body=b"late answer", message_id="u-3"))
        queue_outgoing(session, exchange="", routing_key="out", message=OutgoingMessage(body=b"next", message_id="u-4"))
    assert await relay.publish_pending() == 2
    assert await bus.get(queue=DEAD_QUEUE) is None
    assert (await bus.get(queue="out")) is not None

"""Killing a consumer between receipt and ack (SIGKILL, a real process) loses nothing and duplicates nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from meshkit.mesh_runner import REPO_ROOT
from shared.mesh.envelope import MessageType
from shared.mesh.topology import member_queue
from tests.support.members import enroll, grant, unique_id

pytestmark = pytest.mark.e2e


def _spawn(*, mesh, enrolled, workdir: Path, hold: str | None) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "tests.support.effect_member", "--member-id", enrolled.member_id,
               "--amqp", mesh.rabbit.amqp_url, "--nuc", mesh.nuc, "--gateway", mesh.gateway,
               "--db", str(workdir / "effects.db"), "--identity", str(workdir / "identity"),
               "--marker", str(workdir / "marker")]
    if hold:
        command += ["--hold", hold]
    log = (workdir / "member.log").open("ab")
    return subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _effects(workdir: Path, message_id: str) -> int:
    with sqlite3.connect(workdir / "effects.db") as db:
        return db.execute("SELECT count(*) FROM effect WHERE message_id = ?", (message_id,)).fetchone()[0]


def _inbox_has(workdir: Path, message_id: str) -> bool:
    with sqlite3.connect(workdir / "effects.db") as db:
        return db.execute("SELECT 1 FROM inbox WHERE message_id = ?", (message_id,)).fetchone() is not None


async def _until(predicate, *, timeout_s: float = 30.0, what: str) -> None:
    for _ in range(int(timeout_s * 10)):
        if predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("hold", ["before-commit", "after-commit"])
async def test_killed_consumer_applies_the_message_exactly_once(mesh, member_factory, tmp_path, hold):
    caller = await member_factory("caller")
    enrolled = await enroll(mesh, member_id=unique_id("effects"))
    enrolled.write(tmp_path / "identity")
    service = unique_id("test.effect")
    await grant(mesh, service_id=service, channel="async", providers=[enrolled.member_id], callers=[caller.member_id])

    first = _spawn(mesh=mesh, enrolled=enrolled, workdir=tmp_path, hold=hold)
    try:
        sent = await caller.send(service_id=service, message_type=MessageType.REQUEST, data={"effect": "once"})
        await _until(lambda: (tmp_path / "marker").exists(), what=f"the consumer to hold {hold}")
        os.killpg(first.pid, signal.SIGKILL)  # no clean shutdown, no ack
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    assert _effects(tmp_path, sent["messageId"]) == (1 if hold == "after-commit" else 0)

    second = _spawn(mesh=mesh, enrolled=enrolled, workdir=tmp_path, hold=None)
    try:
        queue = member_queue(enrolled.member_id)
        await _until(lambda: _inbox_has(tmp_path, sent["messageId"]), what="the redelivered message to be processed")
        for _ in range(100):  # and acknowledged: nothing left in the queue, ready or unacked
            if await caller.bus.queue_length(queue=queue) == 0 and second.poll() is None:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
        assert _effects(tmp_path, sent["messageId"]) == 1
        log = (tmp_path / "member.log").read_text()
        if hold == "after-commit":
            assert '"duplicate_ignored"' in log  # redelivered, recognised, not applied again
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(timeout=10)

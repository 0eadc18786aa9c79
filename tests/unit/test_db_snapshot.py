"""Reads that do not tear: an answer made of several queries comes from one moment (``shared.db.snapshot``).

Before: ИС МИО read an application and then its timeline in two sessions, and was seen answering IN_PROGRESS with
every step finished while the row was COMPLETED."""

from __future__ import annotations

from pathlib import Path

from tests.support.snapshot import assert_reads_see_one_moment


async def test_a_snapshot_on_sqlite_sees_one_moment(tmp_path: Path):
    await assert_reads_see_one_moment(f"sqlite:///{tmp_path / 'snapshot.db'}")

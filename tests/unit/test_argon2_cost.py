"""argon2id's cost is a setting only a test's mesh may lower (issue 22: a private mesh's start was mostly the
standard-cost hashes of its seeded staff), and a hash made at either cost is checked the same way."""

from __future__ import annotations

import datetime as dt

import pytest
from argon2 import PasswordHasher
from pydantic import ValidationError

from services.con_operator.store import OperatorAccount
from shared.db import create_tables, make_engine, make_sessions
from shared.employment import logins
from shared.employment.logins import LockOut
from shared.errors import MeshError
from shared.mesh.settings import MeshSettings

TEST_SECRETS = {"admin_token": "a-test-admin-token-0123", "key_passphrase": "a-test-key-passphrase-0123"}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_cheap_cost_is_refused_outside_a_test_mesh(env):
    with pytest.raises(ValidationError, match="MESH_ARGON2_COST=cheap is for test meshes only"):
        MeshSettings(env=env, argon2_cost="cheap", **TEST_SECRETS)


def test_the_standard_cost_is_the_default_and_a_test_mesh_may_lower_it():
    assert MeshSettings(env="test", **TEST_SECRETS).argon2_cost == "standard"
    assert MeshSettings(env="test", argon2_cost="cheap", **TEST_SECRETS).argon2_cost == "cheap"


def test_a_cheap_hash_and_a_standard_one_are_both_checked(monkeypatch):
    monkeypatch.setattr(logins, "_hasher", PasswordHasher())  # the process's hasher, put back after the test
    standard = logins.hash_password("Correct-horse-7!")
    logins.configure_hashing(MeshSettings(env="test", **TEST_SECRETS))
    assert logins.hash_password("x").startswith("$argon2id$v=19$m=65536,t=3"), "standard stays standard"
    logins.configure_hashing(MeshSettings(env="test", argon2_cost="cheap", **TEST_SECRETS))
    cheap = logins.hash_password("Correct-horse-7!")
    assert cheap.startswith("$argon2id$v=19$m=1024,t=1"), "each hash names its own parameters"
    for made in (standard, cheap):
        assert logins.password_matches(made, "Correct-horse-7!")
        assert not logins.password_matches(made, "Correct-horse-8!")


async def test_a_seeded_demo_password_is_hashed_cheaply_and_its_first_login_puts_it_at_the_standard_cost(
        tmp_path, monkeypatch):
    """A seeded account's password is printed and kept in clear (``demo_password``): hashed at the cheap cost, so a
    cold `make run` does not spend seconds guarding it; the first right login re-hashes it at the process's cost —
    a wrong one changes nothing, and a cheap process never weakens a standard hash."""
    monkeypatch.setattr(logins, "_hasher", PasswordHasher())  # a standard process, as `make run`'s
    engine = make_engine(f"sqlite:///{tmp_path / 'con.db'}")
    await create_tables(engine, models=[OperatorAccount])
    sessions = make_sessions(engine)
    seeded = logins.hash_demo_password("Demo-pass-7!")
    assert seeded.startswith("$argon2id$v=19$m=1024,t=1")
    iin, now = "900101399001", dt.datetime(2026, 12, 7, 9, tzinfo=dt.UTC)
    async with sessions() as session, session.begin():
        session.add(OperatorAccount(iin=iin, branch="mamlyut", surname="Каримов", name="Марат", password_hash=seeded,
                                    demo_password="Demo-pass-7!", signing_p12=b"", auth_p12=b"", p12_password="-",
                                    created_at=now))
    lockout = LockOut(sessions=sessions, model=OperatorAccount, key="iin", limit=3, lock=dt.timedelta(minutes=5))

    async def login(password: str) -> str:
        async with sessions() as session:
            account = await session.get(OperatorAccount, iin)
        await lockout.password_login(iin, account, password=password, now=now, scope="test")
        async with sessions() as session:
            return (await session.get(OperatorAccount, iin)).password_hash

    with pytest.raises(MeshError, match="wrong"):
        await login("Demo-pass-8!")
    async with sessions() as session:
        assert (await session.get(OperatorAccount, iin)).password_hash == seeded, "a wrong password changes nothing"
    upgraded = await login("Demo-pass-7!")
    assert upgraded.startswith("$argon2id$v=19$m=65536,t=3")
    assert logins.password_matches(upgraded, "Demo-pass-7!")
    logins.use_fast_hashing()  # a test mesh's process: the standard hash stays as it is
    assert await login("Demo-pass-7!") == upgraded
    await engine.dispose()

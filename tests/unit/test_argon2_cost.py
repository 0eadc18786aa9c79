"""argon2id's cost is a setting only a test's mesh may lower (issue 22: a private mesh's start was mostly the
standard-cost hashes of its seeded staff), and a hash made at either cost is checked the same way."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from pydantic import ValidationError

from shared.employment import logins
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

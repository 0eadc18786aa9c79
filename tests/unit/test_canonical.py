"""The fast canonical form is byte-for-byte RFC 8785 (held to the reference implementation)."""

from __future__ import annotations

import random

import pytest

from shared.errors import MeshError
from shared.pki.canonical import canonical_bytes, canonical_bytes_reference

ALPHABET = ([chr(c) for c in range(0x250)] + list("жқәұүңғіһө") + ["\u2028", "\u2029", "\ue000", "\uffff",
            "\U0001f600", '"', "\\", "/"])


def _text(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 12)))


def _value(rng: random.Random, depth: int = 0):
    kind = rng.randint(0, 7 if depth < 3 else 4)
    if kind == 0:
        return _text(rng)
    if kind == 1:
        return rng.randint(-(2**53) + 1, 2**53 - 1)
    if kind == 2:
        return rng.choice([True, False, None])
    if kind == 3:
        return rng.choice([0.5, 1.0, -0.0, 1e21, 1e-7, 123.456, 5e-324])
    if kind == 4:
        return rng.randint(-1000, 1000)
    if kind in (5, 6):
        return {_text(rng): _value(rng, depth + 1) for _ in range(rng.randint(0, 5))}
    return [_value(rng, depth + 1) for _ in range(rng.randint(0, 5))]


@pytest.mark.parametrize("seed", range(40))
def test_fast_path_equals_reference(seed):
    rng = random.Random(seed)
    for _ in range(50):
        value = {"data": _value(rng), _text(rng): _value(rng)}
        assert canonical_bytes(value) == canonical_bytes_reference(value)


def test_astral_keys_sort_by_utf16_code_units():
    value = {"\U0001f600": 1, "\uffff": 2, "a": 3}
    assert canonical_bytes(value) == canonical_bytes_reference(value)
    assert canonical_bytes(value).index("\uffff".encode()) > canonical_bytes(value).index("\U0001f600".encode())


@pytest.mark.parametrize("value", [{"n": 2**53}, {"x": float("nan")}, {1: "non-string key"}])
def test_values_without_a_canonical_form_are_refused(value):
    with pytest.raises(MeshError) as caught:
        canonical_bytes(value)
    assert caught.value.code == "CANONICAL_FORM_IMPOSSIBLE"

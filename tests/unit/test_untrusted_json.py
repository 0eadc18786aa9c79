"""One limit on JSON for the whole mesh (shared.pki.canonical): nesting at most MAX_JSON_DEPTH (``JSON_TOO_DEEP``),
strings and keys that are text (``JSON_STRING_INVALID``) — held wherever JSON comes in (parse_json), in the AMQP
envelope (parse_envelope: `data` nested 10,000 deep) and at the canonical form itself, where a lone surrogate was an
orjson TypeError and deep nesting a RecursionError."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from shared.errors import MeshError
from shared.mesh.envelope import MessageType, parse_envelope, unsigned_envelope
from shared.pki.canonical import MAX_JSON_DEPTH, JsonRefused, canonical_bytes, check_json, parse_json


def _nested(depth: int, bottom: object = 1) -> object:
    value = bottom
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def _code(call, *args, **kwargs) -> str:
    with pytest.raises(MeshError) as refused:
        call(*args, **kwargs)
    assert refused.value.status == 422 or refused.value.code.startswith("Client."), refused.value
    return refused.value.code


def test_the_limit_is_the_limit():
    check_json(_nested(MAX_JSON_DEPTH))
    assert canonical_bytes(_nested(MAX_JSON_DEPTH)).count(b"[") + canonical_bytes(_nested(MAX_JSON_DEPTH)).count(
        b"{") == MAX_JSON_DEPTH
    assert parse_json(json.dumps(_nested(MAX_JSON_DEPTH))) == _nested(MAX_JSON_DEPTH)
    for call in (check_json, canonical_bytes):
        assert _code(call, _nested(MAX_JSON_DEPTH + 1)) == "JSON_TOO_DEEP"
    assert _code(canonical_bytes, [0.5, _nested(MAX_JSON_DEPTH)]) == "JSON_TOO_DEEP", "the rfc8785 path as well"


@pytest.mark.parametrize("text", [b"[" * 10_000 + b"]" * 10_000, b"[" * 900 + b"]" * 900, b"[NaN, " + b"[" * 2000,
                                  json.dumps(_nested(MAX_JSON_DEPTH + 1)).encode()])
def test_deep_json_is_refused_however_deep(text: bytes):
    assert _code(parse_json, text) == "JSON_TOO_DEEP"


@pytest.mark.parametrize("text", [b'"\\ud800"', b'{"\\udc00": 1}', b'["ok", "\\udfff\\ud800"]', b'"\xed\xa0\x80"',
                                  b'"\xff"', '"\ud800"'])
def test_strings_that_are_not_text_are_refused(text: bytes | str):
    assert _code(parse_json, text) == "JSON_STRING_INVALID"


def test_what_the_stdlib_reads_and_orjson_does_not_still_reads_and_the_rest_is_the_callers_code():
    assert parse_json(b"[NaN, 18446744073709551616]")[1] == 2**64
    assert parse_json('"\U0001f600 ж"') == "\U0001f600 ж"
    assert _code(parse_json, b"{not json", malformed="DOCUMENT_MALFORMED") == "DOCUMENT_MALFORMED"
    assert _code(parse_json, b"") == "JSON_MALFORMED"


@pytest.mark.parametrize("value", [{"a": "\ud800"}, {"\udc00": 1}, ["x", {"b": ["\udfff"]}], [0.5, "\ud800"]])
def test_the_canonical_form_of_a_string_that_is_not_text_is_refused_by_name(value: object):
    assert _code(canonical_bytes, value) == "JSON_STRING_INVALID"


def _envelope(data: object) -> bytes:
    """A well-formed envelope whose `data` holds ``data`` (written as JSON text when it is a str of brackets)."""
    wire = unsigned_envelope(service_id="test.fuzz", message_type=MessageType.REQUEST, sender="portal",
                             data={"payload": "PAYLOAD"}, message_date=dt.datetime.now(dt.UTC))
    text = data if isinstance(data, str) and data.startswith("[") else json.dumps(data)
    return json.dumps(wire | {"signature": "MIIB"}).replace('"PAYLOAD"', text).encode()


def test_an_envelope_within_the_limit_parses():
    parsed = parse_envelope(_envelope(_nested(MAX_JSON_DEPTH - 2)))  # the envelope and `data` are two levels
    assert parsed.signed_bytes()


@pytest.mark.parametrize("data", [_nested(MAX_JSON_DEPTH), "[" * 1000 + "]" * 1000, "\ud800"])
def test_an_envelope_too_deep_or_not_text_is_an_invalid_envelope(data: object):
    with pytest.raises(MeshError) as refused:
        parse_envelope(_envelope(data))
    assert refused.value.code == "Client.InvalidEnvelope"
    assert ("JSON_TOO_DEEP" in refused.value.message or "depth" in refused.value.message
            or "surrogate" in refused.value.message), refused.value.message


def test_an_envelope_10000_deep_is_refused_without_recursion():
    with pytest.raises(MeshError) as refused:
        parse_envelope(_envelope("[" * 10_000 + "]" * 10_000))
    assert refused.value.code == "Client.InvalidEnvelope"


def test_a_refusal_is_a_422():
    assert JsonRefused("JSON_TOO_DEEP", "deep").status == 422

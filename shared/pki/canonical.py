"""Canonical JSON (RFC 8785, JCS): the exact bytes every signature in the mesh is made over.

For the values the mesh signs (strings, integers in the IEEE-754 safe range, booleans, null, arrays,
objects with keys in the Basic Multilingual Plane) orjson with sorted keys writes exactly the RFC 8785
bytes — the test suite checks this byte for byte — and is twenty times faster than the pure-Python
``rfc8785`` package. Anything else (floats, whose JCS form follows ECMAScript rules, astral-plane keys,
whose JCS order is by UTF-16 code units) goes through ``rfc8785``.

It is also where the mesh's one limit on JSON lives: whatever JSON comes from outside — an HTTP body
(``shared.web.http_app.JsonGuard``), a document given for verification, a QR payload, a PDF's embedded JSON, an AMQP
envelope — is read by ``parse_json`` or held to ``check_json`` before anything else looks at it: at most
``MAX_JSON_DEPTH`` objects and arrays deep (``JSON_TOO_DEEP``), every string and key text (no lone UTF-16 surrogate,
no invalid UTF-8: ``JSON_STRING_INVALID``). Both are 422s. Without them a body nested ~900 deep was a RecursionError
and a lone surrogate an orjson TypeError at signing — 500s, anonymous.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
import rfc8785

from shared.errors import MeshError

_SAFE_INTEGER = 2**53 - 1
MAX_JSON_DEPTH = 64
"""Objects and arrays, nested: the deepest JSON the mesh reads or signs. What the mesh itself writes nests about eight
deep (an envelope carrying a form with its documents); 64 leaves room for any honest document and keeps every walk
over a value — ours, pydantic's, orjson's (254), the stdlib's recursion (~1000) — far from its own limit."""
MAX_JSON_ELEMENTS = 100_000
"""Objects, arrays and the commas between values, counted in the bytes before parsing: what any walk over a value
costs is bounded by it (about 0.07 s to parse and check 100,000 here, on the event loop), where 5 MiB of ``[[],[],…]``
— 1.7 million arrays — took 3.4 s to parse and walk, a stall of every request. The mesh's own bodies hold a few
hundred; an application's copies are base64 strings, one element each."""
_NOT_TEXT = re.compile("[\ud800-\udfff]")  # a lone surrogate: a str Python holds but no UTF-8 can carry


class JsonRefused(MeshError):
    """JSON the mesh does not read: ``JSON_TOO_DEEP``, ``JSON_STRING_INVALID`` (or the caller's code for not-JSON)."""


def _too_deep() -> JsonRefused:
    return JsonRefused("JSON_TOO_DEEP", f"JSON nested deeper than {MAX_JSON_DEPTH} objects and arrays")


def _not_text(where: str) -> JsonRefused:
    return JsonRefused("JSON_STRING_INVALID", f"a JSON {where} is not text: a lone UTF-16 surrogate or invalid UTF-8")


def _text(value: str, where: str) -> None:
    if not value.isascii() and _NOT_TEXT.search(value):
        raise _not_text(where)


def check_json(value: Any) -> None:
    """Refuse a value nested deeper than MAX_JSON_DEPTH (``JSON_TOO_DEEP``) or holding a string or key that is not
    text (``JSON_STRING_INVALID``). Iterative: it never recurses, whatever it is given."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()  # depth: the objects and arrays around ``item``
        if isinstance(item, str):
            _text(item, "string")
        elif isinstance(item, dict):
            if depth >= MAX_JSON_DEPTH:
                raise _too_deep()
            for key, inner in item.items():
                if isinstance(key, str):
                    _text(key, "key")
                stack.append((inner, depth + 1))
        elif isinstance(item, list | tuple):
            if depth >= MAX_JSON_DEPTH:
                raise _too_deep()
            stack.extend((inner, depth + 1) for inner in item)


MALFORMED_CODE = "JSON_MALFORMED"  # a body that is not JSON at all, unless the caller names its own code


def parse_json(data: bytes | str, *, malformed: str = MALFORMED_CODE, what: str = "the body") -> Any:
    """JSON from outside, checked (``check_json``): orjson (C, its own depth limit of 1024, strict UTF-8), and when it
    refuses, the stdlib — the parser FastAPI and the rest of Python use — so that a refusal is named for what the
    stdlib would have made of it (a RecursionError is too deep; a surrogate is not text) and what orjson alone does
    not take (NaN, integers beyond 64 bits) reads as it always did. Not JSON at all: 422 ``malformed``. More than
    MAX_JSON_ELEMENTS containers and commas: 413 ``JSON_TOO_MANY_ELEMENTS``, counted before anything is parsed."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if raw.count(b"[") + raw.count(b"{") + raw.count(b",") > MAX_JSON_ELEMENTS:
        raise JsonRefused("JSON_TOO_MANY_ELEMENTS", f"{what} holds more than {MAX_JSON_ELEMENTS} JSON objects, arrays "
                          "and values")
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        try:
            value = json.loads(data)
        except RecursionError:
            raise _too_deep() from None
        except UnicodeError:
            raise _not_text("string") from None
        except ValueError as exc:
            raise JsonRefused(malformed, f"{what} is not JSON: {exc}") from None
    check_json(value)
    return value


def _plain(value: Any, depth: int = 0) -> bool:
    """True when orjson's sorted output is, by construction, the RFC 8785 form of ``value``; ``JSON_TOO_DEEP`` when
    nested deeper than MAX_JSON_DEPTH (this walk already visits everything: the limit costs nothing)."""
    if isinstance(value, str) or value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -_SAFE_INTEGER <= value <= _SAFE_INTEGER
    if depth >= MAX_JSON_DEPTH and isinstance(value, dict | list):
        raise _too_deep()
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or not (key.isascii() or max(map(ord, key)) <= 0xFFFF):
                return False
            if not _plain(item, depth + 1):
                return False
        return True
    if isinstance(value, list):
        return all(_plain(item, depth + 1) for item in value)
    return False


def canonical_bytes(value: Any) -> bytes:
    """RFC 8785 bytes of a JSON value; refuses values JSON cannot carry (NaN, huge ints, non-str keys:
    ``CANONICAL_FORM_IMPOSSIBLE``), nested too deep (``JSON_TOO_DEEP``) or with strings that are not text
    (``JSON_STRING_INVALID``)."""
    if _plain(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError as exc:  # a lone surrogate: named precisely by the walk
            check_json(value)
            raise MeshError("CANONICAL_FORM_IMPOSSIBLE", f"value has no canonical JSON form: {exc}") from exc
    check_json(value)  # _plain stopped at the first value it leaves to rfc8785, which recurses over the rest
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise MeshError("CANONICAL_FORM_IMPOSSIBLE", f"value has no canonical JSON form: {exc}") from exc


def signed_content(wire: dict[str, Any]) -> bytes:
    """The bytes a signature covers: the canonical form of every field but ``signature``."""
    return canonical_bytes({k: v for k, v in wire.items() if k != "signature"})


def canonical_bytes_reference(value: Any) -> bytes:
    """The reference implementation, for tests that hold the fast path to it."""
    return rfc8785.dumps(value)

"""Canonical JSON (RFC 8785, JCS): the exact bytes every signature in the mesh is made over."""

from __future__ import annotations

from typing import Any

import rfc8785

from shared.errors import MeshError


def canonical_bytes(value: Any) -> bytes:
    """RFC 8785 bytes of a JSON value; refuses values JSON cannot carry (NaN, huge ints, non-str keys)."""
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise MeshError("CANONICAL_FORM_IMPOSSIBLE", f"value has no canonical JSON form: {exc}") from exc

"""ГБД ФЛ as the portal's use cases see it: a person by IIN, or None for «нет данных». Through the gateway in the
service (``through_gateway``); a test gives ГБД ФЛ's own answer on its own database instead."""

from __future__ import annotations

from typing import Protocol

from shared.employment.registry_calls import person_by_iin
from shared.mesh.contracts import PersonData
from shared.mesh.member import MemberRuntime


class Registry(Protocol):
    async def __call__(self, iin: str, *, timeout_s: float | None = None) -> PersonData | None:
        """The person ГБД ФЛ holds (None: «нет данных»); ``timeout_s`` when the caller cannot wait as long as usual;
        a registry that cannot be asked is a 503 (``shared.employment.registry_calls.unavailable``)."""
        ...


def through_gateway(runtime: MemberRuntime, *, timeout_s: float) -> Registry:
    """``gbdfl.person-by-iin`` through the gateway, synchronously, within ``timeout_s`` unless told otherwise."""
    async def person(iin: str, *, timeout_s: float | None = None) -> PersonData | None:
        return await person_by_iin(runtime, iin, timeout_s=timeout_s or default)

    default = timeout_s
    return person

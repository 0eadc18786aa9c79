"""Registry administration as the HTTP API offers it: the members with their pinned certificates, the services a
member may call, an entry put whole (its path and body agreeing) — over the ``RegistryBook``, which keeps the
registry in the database and in memory (and imports the seed file: ``seed_registry``, ``reset_to_seed``)."""

from __future__ import annotations

from typing import Any

from services.shep_gateway.domain import MemberDef, ServiceDef
from services.shep_gateway.registry_book import RegistryBook
from shared.errors import MeshError


async def members_with_pins(book: RegistryBook) -> list[dict[str, Any]]:
    """Every registered member, each with the certificates pinned to it."""
    registry = book.loaded_or_fail()
    pins = await book.member_certificates()
    return [{**m.model_dump(mode="json", by_alias=True), "certificates": pins.get(m.id, [])}
            for m in registry.members.values()]


def services_for(book: RegistryBook, *, caller: str | None) -> list[ServiceDef]:
    """Every service, or only those ``caller`` may call (404 for a member the registry does not have)."""
    registry = book.loaded_or_fail()
    if caller is not None and caller not in registry.members:
        raise MeshError("MEMBER_NOT_FOUND", f"no member {caller!r} in the registry")
    return registry.services_for(caller) if caller else list(registry.services.values())


async def put_member(book: RegistryBook, *, member_id: str, member: MemberDef) -> MemberDef:
    """Add or replace a member; the path names the one the body describes."""
    if member.id != member_id:
        raise MeshError("ID_MISMATCH", f"path says {member_id}, body says {member.id}")
    await book.upsert_member(member)
    return member


async def put_service(book: RegistryBook, *, service_id: str, service: ServiceDef) -> ServiceDef:
    """Add or replace a service; the path names the one the body describes, and its providers are members."""
    if service.id != service_id:
        raise MeshError("ID_MISMATCH", f"path says {service_id}, body says {service.id}")
    await book.upsert_service(service)
    return service

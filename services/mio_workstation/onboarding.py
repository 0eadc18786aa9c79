"""A district's ИС МИО joins the mesh: its member entry and its services in the gateway registry.

The shipped districts are in the gateway's seed registry already, so this changes nothing for them. A district
that only a new regulation file names is registered here, with the organisation the file gives: adding a
region is adding a file.
"""

from __future__ import annotations

from typing import Any

from shared.employment.regulations import Regulation, RegulationBook, RegulationError
from shared.logging import get_logger
from shared.mesh.control_clients import GatewayControlClient

log = get_logger(__name__)
FOLLOWERS = ("portal", "con")  # every status change goes to ИС ЦОН, and to the portal for its applications
CHANNEL_CALLER = {"portal": "portal", "con": "con"}  # office applications never cross the gateway


def member_entry(*, district: str, book: RegulationBook) -> dict[str, Any]:
    organisation = book.organisation(district)
    if organisation is None:
        raise RegulationError(f"district {district}: the gateway registry has no mio.{district}, and no regulation "
                              f"file gives its organisation (field organisations.{district})")
    region = book.for_district(district)[0].region
    return {"id": f"mio.{district}", "name": f"ИС МИО — {organisation.name}", "kind": "mio",
            "organisation": organisation.name, "bin": organisation.bin, "region": region, "district": district}


def service_grant(*, regulation: Regulation, member_id: str) -> dict[str, Any]:
    """What the district adds to the regulation's service: itself as a provider, the channel's caller, the
    followers of its statuses. A grant only adds, so districts joining at once do not drop each other."""
    caller = CHANNEL_CALLER.get(regulation.channel)
    return {"title": regulation.title, "channel": "async", "routeBy": "district", "providers": [member_id],
            "callers": [caller] if caller else [], "notify": list(FOLLOWERS)}


def granted_already(*, current: dict[str, Any] | None, grant: dict[str, Any]) -> bool:
    return current is not None and all(set(grant[k]) <= set(current[k]) for k in ("providers", "callers", "notify"))


async def join_mesh(*, gateway: GatewayControlClient, book: RegulationBook, districts: list[str]) -> None:
    members = {m["id"] for m in await gateway.members()}
    services = {s["id"]: s for s in await gateway.services()}
    for district in districts:
        member_id = f"mio.{district}"
        if member_id not in members:
            await gateway.put_member(member_entry(district=district, book=book))
            log.info("district_registered_at_gateway", district=district)
        for regulation in book.for_district(district):
            grant = service_grant(regulation=regulation, member_id=member_id)
            if not granted_already(current=services.get(regulation.service), grant=grant):
                services[regulation.service] = await gateway.grant(regulation.service, grant)
                log.info("service_registered_at_gateway", service=regulation.service, district=district)

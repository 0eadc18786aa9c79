"""Where the mesh clock may go: inside the validity of the CA chain and of every member's current system
certificate (issue 20). Before, a fuzzed ``POST /admin/clock`` to 2076 expired every certificate of the mesh and
left every service not ready for good; a move back to real time left systems enrolled ahead «not yet valid».
A move outside is refused with the certificates that stand in the way, unless the tester forces it (the expiry
tests do, on purpose)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from sqlmodel import select

from services.shep_gateway.store import MemberCertificate
from shared.db import Sessions
from shared.errors import MeshError
from shared.logging import get_logger
from shared.mesh.control_clients import NucClient
from shared.pki.cert_profile import serial_hex

log = get_logger(__name__)


@dataclass(frozen=True)
class Validity:
    """One certificate the mesh cannot work without, and when it is valid."""

    holder: str
    not_before: dt.datetime
    not_after: dt.datetime


def validity_of(holder: str, certificate: x509.Certificate) -> Validity:
    return Validity(holder=f"{holder} ({serial_hex(certificate)})", not_before=certificate.not_valid_before_utc,
                    not_after=certificate.not_valid_after_utc)


def blocking(validities: list[Validity], *, at: dt.datetime) -> list[str]:
    """What would not be valid at ``at``, in words; empty when the mesh may go there."""
    late = [f"{v.holder} expires {v.not_after.isoformat()}" for v in validities if at > v.not_after]
    early = [f"{v.holder} begins {v.not_before.isoformat()}" for v in validities if at < v.not_before]
    return late + early


async def pinned_validities(sessions: Sessions) -> list[Validity]:
    """Each member's newest pinned certificate: older pins are kept for messages in flight, but a member signs with
    its newest."""
    async with sessions() as session:
        rows = (await session.exec(select(MemberCertificate))).all()
    newest: dict[str, MemberCertificate] = {}
    for row in rows:
        if row.member_id not in newest or row.registered_at > newest[row.member_id].registered_at:
            newest[row.member_id] = row
    return [validity_of(f"member {member_id}", x509.load_pem_x509_certificate(row.certificate_pem.encode()))
            for member_id, row in sorted(newest.items())]


async def ca_validities(nuc: NucClient | None) -> list[Validity]:
    """The CA chain as НУЦ serves it; НУЦ down leaves the members' own certificates (each names its CA's period
    within its own, so the check loses little)."""
    if nuc is None:
        return []
    try:
        chain = await nuc.ca_chain()
    except Exception as exc:  # judged on the members' certificates alone
        log.warning("clock_check_without_ca", reason=type(exc).__name__)
        return []
    return [validity_of(f"CA {c.subject.rfc4514_string()}", c) for c in chain]


def refuse_outside(validities: list[Validity], *, at: dt.datetime) -> None:
    problems = blocking(validities, at=at)
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise MeshError("CLOCK_OUTSIDE_VALIDITY",
                        f"the mesh clock at {at.isoformat()} would be outside the validity of {len(problems)} "
                        f"certificate(s) the mesh needs: {shown}. Give \"force\": true to move it anyway (every "
                        "message signed under them is then refused until the clock comes back)")

"""The gateway's registry: member systems, the certificates pinned to them, and the services they serve
or may call. Kept in the database (so replicas share it) and mirrored in memory for the ingress checks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml
from cryptography import x509
from pydantic import ValidationError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.shep_gateway.domain import MemberDef, Registry, RegistryFile, ServiceDef, ServiceGrant, granted
from services.shep_gateway.settings import GatewaySettings
from services.shep_gateway.store import MemberCertificate, MemberRow, SeedMark, ServiceRow
from shared.clock import MeshClock
from shared.db import Sessions
from shared.errors import MeshError
from shared.logging import get_logger
from shared.mesh.bus import Bus
from shared.mesh.payload_crypto import can_agree_keys
from shared.mesh.topology import declare_member
from shared.pki.cert_check import CertificateVerifier, Expectation, refusal_code
from shared.pki.cert_profile import Holder, Usage, serial_hex
from shared.pki.signing import certificate_pem, load_pem_certificates

log = get_logger(__name__)


def seed_verdict(*, row: dict[str, Any] | None, mark: dict[str, Any] | None, seed: dict[str, Any]) -> str:
    """What start-up does with one seed entry, given its database row and the seed version it last took:
    "take" the seed's, "keep" the row quietly, or keep the row but warn ("keep_changed": the seed moved on).

    A row without a mark comes from a database made before marks existed: it is taken to be the seed's, as
    nearly all were, so changing the seed file needs no deleting of var/."""
    if row is None:
        return "take"
    if row == seed:
        return "keep" if mark == seed else "take"  # taking only sets the mark
    if mark is None or row == mark:
        return "take"
    return "keep" if mark == seed else "keep_changed"


EntryKind = Literal["member", "service"]


@dataclass
class ResetOutcome:
    reset: list[dict[str, Any]] = field(default_factory=list)  # kind, id, and the definition it had
    not_in_seed: list[dict[str, str]] = field(default_factory=list)


async def _take_seed(session: AsyncSession, *, kind: str, entry_id: str, definition: dict[str, Any]) -> None:
    """The entry becomes the seed's, and is marked as such (so it follows later changes of the seed file)."""
    table = MemberRow if kind == "member" else ServiceRow
    await session.merge(table(id=entry_id, definition=definition))
    await session.merge(SeedMark(kind=kind, id=entry_id, definition=definition))


class RegistryBook:
    def __init__(self, *, settings: GatewaySettings, sessions: Sessions, bus: Bus, clock: MeshClock) -> None:
        self.settings = settings
        self._sessions = sessions
        self._bus = bus
        self._clock = clock
        self._own_id = settings.member_id
        self.verifier: CertificateVerifier | None = None
        self.registry = Registry()
        self._pins: dict[str, set[str]] = {}
        self._certificates: dict[str, x509.Certificate] = {}  # by serial: what payloads are encrypted to
        self._own: x509.Certificate | None = None
        self._memory = asyncio.Lock()  # the in-memory registry and pins change under it
        self._loaded = False
        self.on_loaded: list[Callable[[], Awaitable[None]]] = []  # told after each reload (the SOAP pushes)

    async def seed_registry(self) -> None:
        """Bring the database in line with the seed file: entries it lacks are added, entries nobody changed
        through the admin API follow the file, entries testers changed are kept (and said so in the log)."""
        wanted = self._seed_entries()
        async with self._sessions() as session, session.begin():
            rows: dict[tuple[str, str], MemberRow | ServiceRow] = {
                ("member", r.id): r for r in (await session.exec(select(MemberRow))).all()}
            rows |= {("service", r.id): r for r in (await session.exec(select(ServiceRow))).all()}
            marks = {(m.kind, m.id): m for m in (await session.exec(select(SeedMark))).all()}
            for kind, entry_id, definition in wanted:
                row, mark = rows.get((kind, entry_id)), marks.get((kind, entry_id))
                verdict = seed_verdict(row=None if row is None else row.definition,
                                       mark=None if mark is None else mark.definition, seed=definition)
                if verdict == "take":
                    await _take_seed(session, kind=kind, entry_id=entry_id, definition=definition)
                    if row is not None and row.definition != definition:
                        log.info("registry_entry_follows_seed", kind=kind, entry=entry_id)
                elif verdict == "keep_changed":
                    log.warning("registry_entry_kept", kind=kind, entry=entry_id,
                                reason="changed through the admin API; the seed file's new version is not applied")

    def _seed_entries(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(kind, id, definition) of every entry of the seed file, validated (the file and field named)."""
        try:
            parsed = RegistryFile.model_validate(yaml.safe_load(self.settings.registry_file.read_text()))
        except (OSError, yaml.YAMLError, ValidationError) as exc:
            raise MeshError("REGISTRY_FILE_INVALID", f"{self.settings.registry_file}: {exc}") from None
        wanted = [("member", m.id, m.model_dump(mode="json", by_alias=True)) for m in parsed.members]
        return wanted + [("service", s.id, s.model_dump(mode="json", by_alias=True)) for s in parsed.services]

    async def reset_to_seed(self, *, kind: EntryKind | None = None, entry_id: str | None = None) -> ResetOutcome:
        """One entry (``kind`` and ``entry_id``) or every entry of the seed file back to the seed's version, as
        after a fresh start; entries the seed does not have (testers' members, districts added by regulation
        files) are left as they are and listed."""
        wanted = self._seed_entries()
        if entry_id is not None:
            wanted = [w for w in wanted if (w[0], w[1]) == (kind, entry_id)]
            if not wanted:
                raise MeshError("NOT_IN_SEED", f"the seed registry has no {kind} {entry_id!r} (it was added through "
                                "the admin API): there is no seed version to reset it to")
        self.loaded_or_fail()
        outcome = ResetOutcome()
        async with self._sessions() as session, session.begin():
            rows = {("member", r.id): r.definition for r in (await session.exec(select(MemberRow))).all()}
            rows |= {("service", r.id): r.definition for r in (await session.exec(select(ServiceRow))).all()}
            for entry_kind, wanted_id, definition in wanted:
                was = rows.get((entry_kind, wanted_id))
                await _take_seed(session, kind=entry_kind, entry_id=wanted_id, definition=definition)
                if was != definition:
                    outcome.reset.append({"kind": entry_kind, "id": wanted_id, "was": was})
                    log.warning("registry_entry_reset_to_seed", kind=entry_kind, entry=wanted_id)
            if entry_id is None:
                seeded = {(k, i) for k, i, _ in wanted}
                outcome.not_in_seed = [{"kind": k, "id": i} for k, i in sorted(rows) if (k, i) not in seeded]
        await self.load_registry()
        return outcome

    async def grant(self, *, service_id: str, grant: ServiceGrant) -> tuple[ServiceDef, bool]:
        """Add providers, callers and notified members to a service (creating it when the grant says how), in
        one transaction: two grants at once both land. Returns the entry and whether it was created."""
        registry = self.loaded_or_fail()
        unknown = [p for p in grant.providers if p not in registry.members]
        if unknown:
            raise MeshError("MEMBER_NOT_FOUND", f"unknown provider(s): {', '.join(unknown)}")
        async with self._sessions() as session, session.begin():
            row = (await session.exec(select(ServiceRow).where(ServiceRow.id == service_id).with_for_update())).first()
            current = None if row is None else ServiceDef.model_validate(row.definition)
            service = granted(service_id=service_id, current=current, grant=grant)
            if service != current:
                await session.merge(ServiceRow(id=service_id,
                                               definition=service.model_dump(mode="json", by_alias=True)))
        if service != current:
            await self.load_registry()
            log.info("service_granted", service_id=service_id, created=current is None)
        return service, current is None

    async def load_registry(self) -> None:
        """The registry and the pins as the database has them. Under ``_memory`` with ``_pin``: a reload that
        read the pins just before a member's new certificate was pinned would otherwise drop it from memory,
        and refuse that member's messages as ``Client.CertificateNotRegistered`` until the next reload."""
        async with self._memory:
            async with self._sessions() as session:
                members = (await session.exec(select(MemberRow))).all()
                services = (await session.exec(select(ServiceRow))).all()
                pins = (await session.exec(select(MemberCertificate))).all()
            self.registry = Registry(members={m.id: MemberDef.model_validate(m.definition) for m in members},
                                     services={s.id: ServiceDef.model_validate(s.definition) for s in services})
            self._pins = {}
            for pin in pins:
                self._pins.setdefault(pin.member_id, set()).add(pin.serial)
                if pin.serial not in self._certificates:
                    self._certificates[pin.serial] = load_pem_certificates(pin.certificate_pem)[0]
            self._loaded = True
        for listener in self.on_loaded:
            await listener()

    def loaded_or_fail(self) -> Registry:
        """The registry, once read from the database: before that an empty one would answer "no such member"
        to members starting alongside the gateway, and an empty list would make them re-register themselves."""
        if not self._loaded:
            raise MeshError("GATEWAY_NOT_READY", "the gateway has not loaded its registry yet")
        return self.registry

    async def declare_topology(self) -> None:
        """Every registered member's queues exist, so deliveries wait for a member that is not up yet."""
        for member_id in self.registry.members:
            if member_id != self._own_id:
                await declare_member(self._bus, member_id=member_id)

    async def upsert_member(self, member: MemberDef) -> None:
        self.loaded_or_fail()
        async with self._sessions() as session, session.begin():
            await session.merge(MemberRow(id=member.id, definition=member.model_dump(mode="json", by_alias=True)))
        await self.load_registry()
        await declare_member(self._bus, member_id=member.id)

    async def upsert_service(self, service: ServiceDef) -> None:
        unknown = [p for p in service.providers if p not in self.loaded_or_fail().members]
        if unknown:
            raise MeshError("MEMBER_NOT_FOUND", f"unknown provider(s): {', '.join(unknown)}")
        async with self._sessions() as session, session.begin():
            await session.merge(ServiceRow(id=service.id, definition=service.model_dump(mode="json", by_alias=True)))
        await self.load_registry()

    async def register_certificate(self, *, member_id: str, pem: str) -> dict[str, Any]:
        """Pin a member's system certificate after checking it is really that member's and valid now."""
        member = self.loaded_or_fail().members.get(member_id)
        if member is None:
            raise MeshError("MEMBER_NOT_FOUND", f"no member {member_id!r} in the registry")
        certificate = load_pem_certificates(pem)[0]
        verifier = self.verifier_or_fail()
        result = await verifier.check(certificate=certificate, expect=Expectation(
            usage=Usage.SIGN, holder=Holder.SYSTEM, common_name=member_id, bin=member.bin))
        if not result.ok:
            raise MeshError(refusal_code(result), result.message)
        await self._pin(member_id=member_id, certificate=certificate)
        return {"memberId": member_id, "serial": serial_hex(certificate)}

    async def _pin(self, *, member_id: str, certificate: x509.Certificate) -> None:
        serial = serial_hex(certificate)
        async with self._memory, self._sessions() as session, session.begin():
            existing = await session.get(MemberCertificate, serial)
            if existing is not None and existing.member_id != member_id:
                raise MeshError("CERTIFICATE_PINNED_ELSEWHERE", f"certificate {serial} is pinned to "
                                f"{existing.member_id}")
            if existing is None:  # re-registering a pinned certificate (every restart) keeps its first date
                session.add(MemberCertificate(serial=serial, member_id=member_id,
                                              certificate_pem=certificate_pem(certificate),
                                              not_after=certificate.not_valid_after_utc,
                                              registered_at=self._clock.now()))
                log.info("member_certificate_pinned", member_id=member_id, serial=serial)
            self._pins.setdefault(member_id, set()).add(serial)
            self._certificates[serial] = certificate

    async def pin_own(self, *, member_id: str, certificate: x509.Certificate) -> None:
        """The gateway's own certificate, pinned without asking itself over HTTP."""
        await self._pin(member_id=member_id, certificate=certificate)
        self._own = certificate

    @property
    def own_id(self) -> str:
        return self._own_id

    def own_certificate(self) -> x509.Certificate:
        if self._own is None:
            raise MeshError("GATEWAY_NOT_READY", "the gateway has no system certificate yet")
        return self._own

    def encryption_certificate(self, member_id: str) -> x509.Certificate | None:
        """The certificate a payload for ``member_id`` is encrypted to: of those pinned to it, one that allows key
        agreement and is valid now on the mesh clock, the most recently issued. None: the member has none (its
        certificate predates key agreement and it has not been restarted since). A SOAP member's hop ends at the
        gateway's SOAP door, which opens it: its payloads are encrypted to the gateway's own key."""
        member = self.registry.members.get(member_id)
        if member is not None and member.door == "soap" and member_id != self._own_id:
            return self.encryption_certificate(self._own_id)
        now = self._clock.now()
        usable = [c for serial in self.pinned(member_id) if (c := self._certificates.get(serial)) is not None
                  and can_agree_keys(c) and c.not_valid_before_utc <= now <= c.not_valid_after_utc]
        return max(usable, key=lambda c: (c.not_valid_before_utc, c.serial_number), default=None)

    def pinned(self, member_id: str) -> set[str]:
        return self._pins.get(member_id, set())

    async def is_pinned(self, *, member_id: str, serial: str) -> bool:
        """Whether ``serial`` is pinned to ``member_id``: from memory, or — before a refusal — from the database,
        where another gateway replica may have pinned it since this one last read the registry."""
        if serial in self.pinned(member_id):
            return True
        async with self._sessions() as session:
            found = await session.get(MemberCertificate, serial)
        if found is None or found.member_id != member_id:
            return False
        async with self._memory:
            self._pins.setdefault(member_id, set()).add(serial)
        return True

    async def member_certificates(self) -> dict[str, list[dict[str, Any]]]:
        async with self._sessions() as session:
            pins = (await session.exec(select(MemberCertificate))).all()
        out: dict[str, list[dict[str, Any]]] = {}
        for pin in pins:
            out.setdefault(pin.member_id, []).append({"serial": pin.serial, "notAfter": pin.not_after.isoformat(),
                                                      "registeredAt": pin.registered_at.isoformat()})
        return out

    def verifier_or_fail(self) -> CertificateVerifier:
        if self.verifier is None:
            raise MeshError("GATEWAY_NOT_READY", "the gateway has not loaded the НУЦ trust store yet")
        return self.verifier

"""What an application passes before anything is sent (processes 3 to 5 of the regulations): the service is offered
through the portal in the district it goes to, the form fits its service and the region's regulation, and — for an
organisation — the district's regulation admits organisations."""

from __future__ import annotations

from typing import Any

from services.portal.store import Account
from services.portal.usecases.registry import Registry
from shared.db import Sessions
from shared.employment.forms import kinds_of, refuse_unfit
from shared.employment.regulations import RegulationBook
from shared.errors import MeshError


class FormChecks:
    def __init__(self, *, sessions: Sessions, regulations: RegulationBook, registry: Registry,
                 channel_check_timeout_s: float) -> None:
        """``channel_check_timeout_s``: how long a citizen's application waits for ГБД ФЛ's district (past it the
        gateway and ИС МИО judge the channel later)."""
        self._sessions = sessions
        self._regulations = regulations
        self._registry = registry
        self._channel_check_timeout_s = channel_check_timeout_s

    async def refuse_unfit(self, *, iin: str, form: dict[str, Any], district: str | None) -> str | None:
        """Before anything is sent: the service is offered through the portal in the citizen's district (the one
        named, else the registered address's as the portal knows it from ГБД ФЛ — at registration, at the last
        profile read, or asked now) — ``CHANNEL_NOT_OFFERED`` at once — and the form fits
        its service's schema and the region's regulation (``FORM_INVALID``, every field named). When ГБД ФЛ cannot
        be asked now, the district checks are left to the gateway and ИС МИО, as before. Returns the district
        judged (None: not known now)."""
        district = district or await self._district_of(iin)
        regulation = None
        if district is not None and district not in self._regulations.districts:
            raise MeshError("DISTRICT_UNKNOWN", f"no district {district!r}; the regulations serve "
                            f"{', '.join(self._regulations.districts)}")
        if district is not None:
            regulation = self._regulations.find(district=district, service=form["serviceId"], channel="portal")
            if regulation is None:
                offered = sorted({r.channel for r in self._regulations.for_district(district)
                                  if r.service == form["serviceId"]})
                raise MeshError("CHANNEL_NOT_OFFERED", f"{form['serviceId']} is not offered through the portal in "
                                f"{district}" + (f" (only: {', '.join(offered)})" if offered else ""),
                                details={"district": district, "channels": offered})
        refuse_unfit(form, referral_kinds=kinds_of(regulation))
        return district

    def admitting(self, service: str) -> list[str]:
        """The districts whose portal regulation of the service admits organisations."""
        return sorted({d for r in self._regulations.all.values() if r.service == service and r.channel == "portal"
                       and r.admits_organisations for d in r.districts})

    def refuse_not_for_organisations(self, service: str, *, district: str | None) -> None:
        """``SERVICE_NOT_FOR_ORGANISATIONS`` unless the district's portal regulation of the service admits
        organisations (its ``applicants``); with no district known, unless some region's does — ИС МИО then holds
        the district's file to it (an organisation's signature is accepted only where the file admits it)."""
        admitting = self.admitting(service)
        if district is not None:
            regulation = self._regulations.find(district=district, service=service, channel="portal")
            admits = regulation is not None and regulation.admits_organisations
        else:
            admits = bool(admitting)
        if not admits:
            raise MeshError("SERVICE_NOT_FOR_ORGANISATIONS", f"{service} is applied for through the portal by a "
                            f"person (IIN), not an organisation (BIN)" + (f", in {district}" if district else "") + (
                                f"; organisations may apply in {', '.join(admitting)}" if admitting else ""),
                            details={"district": district, "districts": admitting})

    async def _district_of(self, iin: str) -> str | None:
        """A citizen's own district: as the portal knows it (their account: ГБД ФЛ's at registration or the last
        profile read), else as ГБД ФЛ says now (briefly: an account from before the portal kept it); None when neither
        can tell — the gateway and ИС МИО then judge. Never asked for someone an organisation names."""
        async with self._sessions() as session:
            account = await session.get(Account, iin)
        if account is not None and account.district is not None:
            return account.district
        try:
            person = await self._registry(iin, timeout_s=self._channel_check_timeout_s)
        except MeshError:
            return None
        return person.district if person is not None else None

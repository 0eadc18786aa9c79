"""An application opened in ИС МИО, in the caller's transaction (the inbox's for one through the gateway, the
office intake's own): numbered in its district's register, in the district's staff mode, its copies kept, its first
step started and «Поступившие» told — or, refused at intake, NOT_ACCEPTED with the reason, told the same way."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from services.mio_workstation.domain import Status, application_number, term_due
from services.mio_workstation.store import Application, ApplicationDocument, DistrictMode, NumberCounter
from services.mio_workstation.usecases.districts import Districts
from services.mio_workstation.usecases.notices import notify_status
from services.mio_workstation.usecases.steps import Steps
from shared.clock import MeshClock
from shared.db import insert_if_absent, raise_counter
from shared.employment.regulations import Regulation
from shared.logging import get_logger, message_context
from shared.mesh.contracts import DocumentContent
from shared.mesh.scenarios import current as current_scenario
from shared.telemetry import current_traceparent
from shared.working_calendar import WorkingCalendar

log = get_logger(__name__)


@dataclass(frozen=True)
class NewApplication:
    """An application as it arrives: what was signed, by whom, through which channel, and the intake's verdict."""

    district: str
    regulation: Regulation | None  # None: the district does not provide the service through this channel
    service_id: str
    channel: str
    form: dict[str, Any]  # exactly as signed: the signature covers these bytes, not a re-serialisation
    signature: str
    signed_by: str
    origin: str | None  # the member it came from (None: entered at the office)
    correlation_id: str
    request_message_id: str | None
    refusal: str | None  # why it is not accepted (the intake's checks), or None
    copies: list[DocumentContent]


def stored_scenario() -> dict[str, Any] | None:
    """The scenario the message opening the application came in, to keep with it: steps done hours of mesh time
    later (simulated staff, staff by hand) act in it, as they continue its trace."""
    scenario = current_scenario()
    return scenario.stored() if scenario is not None else None


class Opening:
    def __init__(self, *, clock: MeshClock, calendar: WorkingCalendar, districts: Districts, steps: Steps,
                 default_mode: str, default_share: float) -> None:
        self._clock = clock
        self._calendar = calendar
        self._districts = districts
        self._steps = steps
        self._default_mode = default_mode
        self._default_share = default_share

    async def mode_of(self, session: AsyncSession, district: str) -> DistrictMode:
        return await session.get(DistrictMode, district) or DistrictMode(
            district=district, mode=self._default_mode, auto_share=self._default_share)

    async def _number(self, session: AsyncSession, district: str) -> str:
        """The district's next application number (``raise_counter``)."""
        year = self._clock.local_now().year
        sequence = await raise_counter(session, NumberCounter, district=district, year=year)
        return application_number(district=district, year=year, sequence=sequence)

    async def open(self, session: AsyncSession, new: NewApplication) -> str:
        now = self._clock.now()
        mode = await self.mode_of(session, new.district)
        number = await self._number(session, new.district)
        regulation = new.regulation
        app = Application(
            number=number, district=new.district, service_id=new.service_id, channel=new.channel,
            regulation_id=regulation.id if regulation else "", applicant_iin=new.form.get("applicantIin", ""),
            origin_member=new.origin, correlation_id=new.correlation_id, request_message_id=new.request_message_id,
            status=Status.RECEIVED, mode=mode.mode, auto_share=mode.auto_share, form=new.form,
            form_signature=new.signature, signed_by=new.signed_by, received_at=now,
            term_due=term_due(accepted=now, term=regulation.term, calendar=self._calendar) if regulation else None,
            traceparent=current_traceparent(), scenario=stored_scenario())
        session.add(app)
        runtime = self._districts.runtime(new.district)
        with message_context(correlation_id=new.correlation_id, application_number=number):
            if new.refusal is not None or regulation is None:
                app.status, app.reason, app.completed_at = Status.NOT_ACCEPTED, new.refusal, now
                notify_status(session, runtime, app, regulation=regulation,
                              title=regulation.title if regulation else new.service_id, at=now)
                log.info("application_not_accepted")
                return number
            for copy in new.copies:  # checked against the signed form before (``receiving``, the office intake)
                data = base64.b64decode(copy.content_base64)
                await insert_if_absent(session, ApplicationDocument.__table__, {  # type: ignore[attr-defined]
                    "application_number": number, "sha256": copy.sha256, "content_type": copy.content_type,
                    "size": len(data), "content": data})
            notify_status(session, runtime, app, regulation=regulation, title=regulation.title, at=now)
            await self._steps.start(session, app=app, regulation=regulation, position=0, at=now)
            log.info("application_received", channel=new.channel)
        return number

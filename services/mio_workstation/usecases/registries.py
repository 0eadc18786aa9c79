"""What the executor learns from the registries when deciding: ГБД ФЛ's person and the external registries' facts
(employment, full-time study, pension) asked at once through the gateway, with the applicant's open card on
«Еңбек нарығы»; and the applicant's mobile number, for the result by SMS."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from services.mio_workstation.domain import Circumstances, Registered, identity_problem
from services.mio_workstation.store import Application, LabourCard
from services.mio_workstation.usecases.districts import Districts
from services.mio_workstation.usecases.register import LabourRegister
from shared.clock import KZ_TZ
from shared.employment.forms import document_problems
from shared.employment.registry_calls import person_by_iin
from shared.errors import MeshError
from shared.logging import get_logger

log = get_logger(__name__)
FACTS = ("gbdfl.person-by-iin", "gbdfl.social-status-by-iin")


def circumstances_of(app: Application, *, person: dict[str, Any], status: dict[str, Any], card: LabourCard | None,
                     on: dt.date) -> Circumstances:
    """The facts as of ``on`` from ГБД ФЛ's two answers (their ``data``) and the open card (no I/O)."""
    age, registered = None, None
    if person.get("found"):
        held = person["person"]
        birth = dt.date.fromisoformat(held["birthDate"])
        age = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
        registered = Registered(iin=held["iin"], surname=held["surname"], name=held["name"],
                                patronymic=held.get("patronymic"))
    return Circumstances(
        registered=registered, identity=identity_problem(app.form, registered),
        age=age, alive=bool(person.get("found")) and person["person"].get("alive", True),
        employed=bool(status.get("employment", {}).get("employed")),
        full_time_student=bool(status.get("study", {}).get("fullTimeStudent")),
        pensioner=bool(status.get("pension", {}).get("pensioner")),
        job_seeker_card=card is not None and card.kind == "job_seeker",
        unemployed_card=card is not None and card.kind == "unemployed",
        has_representative=bool(app.form.get("representativeIin")),
        document_problems=tuple(document_problems(app.form, on=app.received_at.astimezone(KZ_TZ).date())))


class Registries:
    def __init__(self, *, districts: Districts, register: LabourRegister) -> None:
        self._districts = districts
        self._register = register

    async def circumstances(self, app: Application, *, on: dt.date) -> tuple[Circumstances, LabourCard | None]:
        """The registries' facts about the applicant (both asked at once) and their open card, as of ``on``."""
        runtime = self._districts.runtime(app.district)
        person, status = await asyncio.gather(*(
            runtime.request(service_id=service, data={"iin": app.applicant_iin}, correlation_id=app.correlation_id)
            for service in FACTS))
        card = await self._register.open_card(app.applicant_iin)
        return circumstances_of(app, person=person.envelope.data, status=status.envelope.data, card=card, on=on), card

    async def phone_of(self, app: Application) -> str | None:
        """The applicant's mobile number as ГБД ФЛ holds it (None when it holds none or cannot be asked now: the
        result is still issued, the notice is the portal's and the office's)."""
        try:
            person = await person_by_iin(self._districts.runtime(app.district), app.applicant_iin,
                                         correlation_id=app.correlation_id)
        except MeshError as exc:
            log.warning("sms_phone_unavailable", code=exc.code)
            return None
        return person.phone if person is not None else None

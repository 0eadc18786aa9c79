"""ГБД ФЛ on the mesh: it serves one synchronous service, gbdfl.person-by-iin."""

from __future__ import annotations

from services.gbd_fl.handlers import Registry
from shared.member import MemberRuntime

PERSON_BY_IIN = "gbdfl.person-by-iin"


def wire_consumers(*, runtime: MemberRuntime, registry: Registry) -> None:
    runtime.serve(service_id=PERSON_BY_IIN, handler=registry.person_by_iin)

"""ГБД ФЛ on the mesh: two synchronous services, identity and the external registries' facts."""

from __future__ import annotations

from services.gbd_fl.registry import Registry
from services.gbd_fl.usecases.scenario_answers import as_scenario_says
from shared.mesh.member import MemberRuntime

PERSON_BY_IIN = "gbdfl.person-by-iin"
SOCIAL_STATUS_BY_IIN = "gbdfl.social-status-by-iin"


def wire_consumers(*, runtime: MemberRuntime, registry: Registry) -> None:
    # a flow's scenario may force the answer (docs/scenarios.md)
    runtime.serve(service_id=PERSON_BY_IIN, handler=as_scenario_says(registry.person_by_iin.answer))
    runtime.serve(service_id=SOCIAL_STATUS_BY_IIN, handler=as_scenario_says(registry.social_status.answer))

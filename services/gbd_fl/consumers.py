"""ГБД ФЛ on the mesh: two synchronous services, identity and the external registries' facts."""

from __future__ import annotations

from services.gbd_fl.registry import Registry
from shared.mesh.member import MemberRuntime

PERSON_BY_IIN = "gbdfl.person-by-iin"
SOCIAL_STATUS_BY_IIN = "gbdfl.social-status-by-iin"


def wire_consumers(*, runtime: MemberRuntime, registry: Registry) -> None:
    runtime.serve(service_id=PERSON_BY_IIN, handler=registry.person_by_iin.answer)
    runtime.serve(service_id=SOCIAL_STATUS_BY_IIN, handler=registry.social_status.answer)

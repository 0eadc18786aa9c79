"""ИС МИО on the mesh: every district receives applications for the employment services."""

from __future__ import annotations

from services.mio_workstation.handlers import Workstation
from shared.mesh.contracts import EMPLOYMENT_SERVICES
from shared.mesh.envelope import MessageType
from shared.mesh.member import AsyncHandler, BeforeHandler, Incoming, MemberRuntime


def _for_district(workstation: Workstation, district: str) -> tuple[BeforeHandler, AsyncHandler]:
    async def check(incoming: Incoming) -> Incoming:
        return await workstation.check_incoming(incoming, district=district)

    async def receive(session, incoming: Incoming) -> None:
        await workstation.receive(session, incoming, district=district)
    return check, receive


def wire_consumers(*, runtimes: dict[str, MemberRuntime], workstation: Workstation) -> None:
    for member_id, runtime in runtimes.items():
        check, receive = _for_district(workstation, member_id.split(".", 1)[1])
        for service in EMPLOYMENT_SERVICES:
            runtime.on_message(message_type=MessageType.REQUEST, service_id=service, handler=receive, before=check)
        runtime.after_commit(workstation.wake_runner)

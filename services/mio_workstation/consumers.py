"""ИС МИО on the mesh: every district receives applications for the employment services."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from services.mio_workstation.usecases.districts import Districts
from services.mio_workstation.usecases.receiving import Receiving
from shared.mesh.contracts import EMPLOYMENT_SERVICES
from shared.mesh.envelope import MessageType
from shared.mesh.member import AsyncHandler, BeforeHandler, Incoming, MemberRuntime


def _for_district(receiving: Receiving, district: str) -> tuple[BeforeHandler, AsyncHandler]:
    async def check(incoming: Incoming) -> Incoming:
        return await receiving.check(incoming, district=district)

    async def receive(session: AsyncSession, incoming: Incoming) -> None:
        await receiving.receive(session, incoming, district=district)
    return check, receive


def wire_consumers(*, runtimes: dict[str, MemberRuntime], receiving: Receiving, districts: Districts) -> None:
    for member_id, runtime in runtimes.items():
        check, receive = _for_district(receiving, member_id.split(".", 1)[1])
        for service in EMPLOYMENT_SERVICES:
            runtime.on_message(message_type=MessageType.REQUEST, service_id=service, handler=receive, before=check)
        runtime.after_commit(districts.wake_runner)

"""Routing by the applicant's registered address, for requests that name no district.

The gateway parks such a request, asks ГБД ФЛ (``gbdfl.person-by-iin``) as a member of its own mesh, and
routes the request when the answer comes back through ingress. The lookup is an ordinary synchronous call in
the message log, so the question, the answer and the routed request can all be read there, in that order.
While ГБД ФЛ does not answer, the request stays parked and the gateway asks again at every time-out
(``MESH_SYNC_TIMEOUT_S``), so it is routed within one time-out of ГБД ФЛ's return; it is refused
(``Server.RouteLookupFailed``) only after ``SHEP_ROUTE_LOOKUP_MAX_WAIT_S``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.shep_gateway.domain import Refusal
from shared.mesh.contracts import ErrorPayload, PersonByIinResponse
from shared.mesh.envelope import Envelope, MessageType

LOOKUP_SERVICE = "gbdfl.person-by-iin"
# A sync call needs a reply queue; the gateway's own answers never leave it, so this one is never declared.
INTERNAL_REPLIES = "shep.internal-replies"


@dataclass
class StoredDelivery:
    """A parked message brought back from the database, shaped like a broker delivery (nothing to ack)."""

    body: bytes
    headers: dict[str, Any] = field(default_factory=dict)
    message_id: str | None = None
    correlation_id: str | None = None
    reply_to: str | None = None
    redelivered: bool = False
    exchange: str = ""
    routing_key: str = ""
    user_id: str | None = None

    @property
    def settled(self) -> bool:
        return True

    async def ack(self) -> None:
        return None

    async def reject(self, *, requeue: bool) -> None:
        return None


def district_from_answer(answer: Envelope) -> str | Refusal:
    """The applicant's district out of ГБД ФЛ's answer, or why the request cannot be routed."""
    hint = "; name the district in routeId"
    if answer.message_type is MessageType.ERROR:
        error = ErrorPayload.model_validate(answer.data)
        return Refusal("Client.RouteUnresolved",
                       f"ГБД ФЛ could not give the applicant's address ({error.code}: {error.message}){hint}")
    found = PersonByIinResponse.model_validate(answer.data)
    if not found.found or found.person is None:
        return Refusal("Client.RouteUnresolved", f"ГБД ФЛ has no person with the applicant's IIN{hint}")
    return found.person.district

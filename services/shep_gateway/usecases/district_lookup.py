"""District routing's use cases: park a request that names no district, look its applicant up in ГБД ФЛ (the
gateway's own ``gbdfl.person-by-iin`` call), and route it on the answer — or ask again when ГБД ФЛ does not answer,
until ``route_lookup_max_wait_s``; then refuse it. Each returns what to apply next (the lookup, the resumed
request) rather than applying it: ``outcomes`` applies, so the two need not know each other."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from typing import Any

import orjson
from sqlalchemy import bindparam
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.shep_gateway.district_routing import (
    INTERNAL_REPLIES,
    LOOKUP_SERVICE,
    StoredDelivery,
    district_from_answer,
)
from services.shep_gateway.domain import Decision, Destination, DistrictLookup, Refusal, Refused, Routed
from services.shep_gateway.registry_book import RegistryBook
from services.shep_gateway.settings import GatewaySettings
from services.shep_gateway.store import ParkedRequest
from services.shep_gateway.usecases.examined import Examined, Txn
from shared.clock import MeshClock
from shared.db import Sessions
from shared.logging import get_logger
from shared.mesh.dead_letters import json_safe
from shared.mesh.envelope import MessageType, parse_envelope
from shared.mesh.member import Composer
from shared.telemetry import trace_carrier

log = get_logger(__name__)
LOOKUP_WAIT_MAX_S = 60.0  # the longest the gateway waits for one district lookup before asking again


class DistrictLookups:
    def __init__(self, *, book: RegistryBook, composer: Composer, clock: MeshClock,
                 settings: GatewaySettings) -> None:
        self._book = book
        self._composer = composer
        self._clock = clock
        self._settings = settings

    def lookup_request(self, *, iin: str, correlation_id: str, for_message: str, trace: Mapping[str, Any],
                       attempt: int = 1) -> Examined | Refusal:
        """The gateway's own ``gbdfl.person-by-iin`` call, examined as if it had come through ingress — in the
        trace of the request it is made for (``trace``: that request's headers).

        Each attempt waits twice as long as the one before, up to a minute: while ГБД ФЛ is down the lookups
        thin out (each one left in its queue is dead-lettered when it returns), and when it comes back the
        lookup waiting then is answered at once, so the request is routed within seconds of ГБД ФЛ's return.
        """
        wait_s = min(self._settings.mesh.sync_timeout_s * 2 ** (attempt - 1), LOOKUP_WAIT_MAX_S)
        wire = self._composer.compose(service_id=LOOKUP_SERVICE, message_type=MessageType.REQUEST,
                                      data={"iin": iin}, correlation_id=correlation_id)
        body = orjson.dumps(wire)
        parsed = parse_envelope(body)
        destination = self._book.registry.route_request(parsed.envelope)
        if not isinstance(destination, Destination):
            reason = destination.message if isinstance(destination, Refusal) else "the lookup itself needs a district"
            return Refusal("Server.RouteLookupDenied", f"the gateway cannot ask ГБД ФЛ for the applicant's "
                           f"district: {reason}")
        delivery = StoredDelivery(body=body, headers=trace_carrier(trace), message_id=wire["messageId"],
                                  correlation_id=correlation_id, reply_to=INTERNAL_REPLIES)
        return Examined(delivery=delivery, message_id=wire["messageId"], received_at=self._clock.now(),
                        decision=Routed(destination, deadline=time.time() + wait_s),
                        parsed=parsed, proven=True,
                        checks={"origin": f"gateway: district of the applicant of {for_message}",
                                "route": destination.recipient})

    def park(self, txn: Txn, *, item: Examined, lookup: DistrictLookup) -> Examined:
        """Hold ``item`` in the gateway's database and return the lookup to send; or, when the gateway may not
        ask, ``item`` itself, refused."""
        assert item.parsed is not None
        asked = self.lookup_request(iin=lookup.applicant_iin, correlation_id=item.parsed.envelope.correlation_id,
                                    for_message=item.message_id, trace=item.delivery.headers)
        if isinstance(asked, Refusal):
            item.decision = Refused(asked)
            return item
        txn.session.add(ParkedRequest(  # the envelope as its sender signed it: opened, in the gateway's own database
            message_id=item.message_id, lookup_id=asked.message_id, service_id=lookup.service_id,
            applicant_iin=lookup.applicant_iin, body=orjson.dumps(item.parsed.raw),
            headers=json_safe(item.delivery.headers),
            received_at=item.received_at, checks=json_safe(item.checks), parked_at=dt.datetime.now(dt.UTC)))
        log.info("request_parked_for_district", message_id=item.message_id, lookup_id=asked.message_id)
        return asked

    @staticmethod
    async def parked_by_lookup(session: AsyncSession, lookup_id: str) -> ParkedRequest | None:
        parked = (await session.exec(_PARKED_BY_LOOKUP, params={"lookup": lookup_id})).first()
        return parked if parked is not None and parked.state == "PARKED" else None

    @staticmethod
    def resumed(parked: ParkedRequest, decision: Decision) -> Examined:
        """The parked request brought back, with what was decided about it."""
        delivery = StoredDelivery(body=parked.body, headers=dict(parked.headers), message_id=parked.message_id)
        parsed = parse_envelope(parked.body)
        delivery.correlation_id = parsed.envelope.correlation_id
        return Examined(delivery=delivery, message_id=parked.message_id, received_at=parked.received_at,
                        decision=decision, parsed=parsed, checks=dict(parked.checks), proven=True)

    @staticmethod
    def resolve(txn: Txn, parked: ParkedRequest) -> None:
        parked.state, parked.resolved_at = "RESOLVED", dt.datetime.now(dt.UTC)
        txn.session.add(parked)

    async def unpark(self, txn: Txn, *, answer: Examined) -> Examined | None:
        """ГБД ФЛ answered the gateway: the parked request, routed to the district it named, or refused."""
        assert answer.parsed is not None
        lookup_id = str(answer.parsed.envelope.in_reply_to)
        parked = await self.parked_by_lookup(txn.session, lookup_id)
        if parked is None:
            return None
        self.resolve(txn, parked)
        request = parse_envelope(parked.body).envelope
        district = district_from_answer(answer.parsed.envelope)
        found = district if isinstance(district, Refusal) else \
            self._book.registry.route_request(request, looked_up_district=district)
        decision: Decision
        if isinstance(found, Destination):
            decision = Routed(found)
        elif isinstance(found, Refusal):
            decision = Refused(found)
        else:
            decision = Refused(Refusal("Client.RouteRequired", "the applicant's district could not be determined; "
                                       "set routeId"))
        item = self.resumed(parked, decision)
        item.checks["route"] = {"lookup": lookup_id, "district": None if isinstance(district, Refusal) else district,
                                **({"recipient": found.recipient} if isinstance(found, Destination) else {})}
        return item

    async def timed_out(self, txn: Txn, *, lookup_id: str) -> Examined | None:
        """ГБД ФЛ did not answer in time: ask again (the request stays parked while ГБД ФЛ is down), until the
        request has waited ``route_lookup_max_wait_s``; then refuse it. Returns the new lookup or the refused
        request."""
        parked = await self.parked_by_lookup(txn.session, lookup_id)
        if parked is None:
            return None
        waited = (dt.datetime.now(dt.UTC) - (parked.parked_at or dt.datetime.now(dt.UTC))).total_seconds()
        request = parse_envelope(parked.body).envelope
        refusal: Refusal
        if waited < self._settings.route_lookup_max_wait_s:
            asked = self.lookup_request(iin=parked.applicant_iin, correlation_id=request.correlation_id,
                                        for_message=parked.message_id, trace=parked.headers,
                                        attempt=parked.attempts + 1)
            if isinstance(asked, Examined):
                parked.lookup_id, parked.attempts = asked.message_id, parked.attempts + 1
                txn.session.add(parked)
                if parked.attempts in (2, 10) or parked.attempts % 60 == 0:
                    log.warning("district_lookup_still_waiting", message_id=parked.message_id,
                                attempts=parked.attempts, waited_s=round(waited))
                return asked
            refusal = asked
        else:
            refusal = Refusal("Server.RouteLookupFailed", f"ГБД ФЛ did not tell the applicant's district in "
                              f"{waited:.0f} s ({parked.attempts} attempts); try again later or set routeId")
        self.resolve(txn, parked)
        return self.resumed(parked, Refused(refusal))


async def parked_count(sessions: Sessions) -> int:
    """Requests held while ГБД ФЛ is asked where their applicant lives: in flight for a settle, though no queue
    holds them (their lookup's answer may be on its way)."""
    async with sessions() as session:
        return int((await session.exec(select(func.count()).select_from(ParkedRequest)
                                       .where(col(ParkedRequest.state) == "PARKED"))).one())


# Built once (as ``Ledger``'s statements): every district answer asks it.
_PARKED_BY_LOOKUP = select(ParkedRequest).where(ParkedRequest.lookup_id == bindparam("lookup")).with_for_update()

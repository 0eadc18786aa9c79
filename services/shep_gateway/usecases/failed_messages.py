"""Dead-lettering a message nothing could process: one that failed every attempt (``shared.mesh.failures``) is
refused like any other — logged, copied to the dead-letter queue with the reason, its proven sender told — in a
transaction of its own."""

from __future__ import annotations

from services.shep_gateway.domain import Outcome, Refusal, Refused, Routed
from services.shep_gateway.store import ParkedRequest
from services.shep_gateway.usecases.district_lookup import DistrictLookups
from services.shep_gateway.usecases.examined import Examined, Txn
from services.shep_gateway.usecases.ingress_decision import IngressDecision
from services.shep_gateway.usecases.ledger import Ledger
from services.shep_gateway.usecases.outcomes import Outcomes
from services.shep_gateway.usecases.sync_calls import SyncCalls
from shared.mesh.bus import Delivery


class FailedMessages:
    def __init__(self, *, decision: IngressDecision, ledger: Ledger, outcomes: Outcomes, districts: DistrictLookups,
                 calls: SyncCalls) -> None:
        self._decision = decision
        self._ledger = ledger
        self._outcomes = outcomes
        self._districts = districts
        self._calls = calls

    async def refuse(self, delivery: Delivery, *, code: str, reason: str) -> None:
        """Refuse ``delivery`` with ``code``. When it is ГБД ФЛ's answer to the gateway's own lookup, what failed is
        routing the request parked on it: that request is refused instead (the answer itself is logged as it
        came), so it is not asked for again and again."""
        item = await self._decision.examine(delivery)
        refusal = Refusal(code, reason)
        item.checks["processing"] = "failed"
        async with self._ledger.lock:
            async with self._ledger.sessions() as session, session.begin():
                if item.message_id in await self._ledger.already_logged(session, [item.message_id]):
                    return
                txn = await self._ledger.open(session)
                parked = await self._lookup_answered(txn, item)
                if parked is not None:
                    self._districts.resolve(txn, parked)
                    await self._outcomes.apply(txn, item=self._districts.resumed(parked, Refused(refusal)))
                else:
                    item.decision = Refused(refusal)
                    await self._outcomes.apply(txn, item=item)
                rows = await self._ledger.write(txn)
            await self._ledger.publish(rows)

    async def _lookup_answered(self, txn: Txn, item: Examined) -> ParkedRequest | None:
        """If ``item`` is an answer to the gateway's own lookup: close the call, log the answer, and return the
        request parked on it."""
        routed = item.decision
        member_id = self._outcomes.member_id
        if not (isinstance(routed, Routed) and routed.destination.recipient == member_id and item.parsed):
            return None
        if not isinstance(await self._calls.answer_in_time(txn.session, item=item, routed=routed), Routed):
            return None
        self._ledger.log(txn, item, outcome=Outcome.ROUTED, recipient=member_id)
        return await self._districts.parked_by_lookup(txn.session, str(item.parsed.envelope.in_reply_to))

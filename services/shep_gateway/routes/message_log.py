"""The message log (admin token): a case's records or the latest, one record, the whole chain verified; and the
deliveries on members' queues with their receipts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.shep_gateway.routes.deps import ADMIN_ONLY, MessageLogDep
from services.shep_gateway.routes.models import ChainVerdictOut, DeliveriesOut, LogOut, LogRecordOut
from shared.web.openapi_errors import error_responses

router = APIRouter(tags=["message log"], dependencies=ADMIN_ONLY)


@router.get("/log", summary="Messages of one case (by correlationId), or the latest ones")
async def case_log(message_log: MessageLogDep,
                   correlation_id: Annotated[str | None, Query(alias="correlationId")] = None,
                   outcome: Annotated[str | None, Query(pattern="^(ROUTED|REFUSED|TIMEOUT|NOT_DELIVERED)$")] = None,
                   limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> LogOut:
    if correlation_id is not None:
        records = await message_log.case_log(correlation_id=correlation_id)
    else:
        records = await message_log.recent_log(limit=limit, outcome=outcome)
    return LogOut.model_validate({"records": [r.public() for r in records]})


@router.get("/deliveries", summary="Deliveries on members' queues: ON_DELIVERY until the member's receipt, DELIVERED, "
                                   "or NOT_DELIVERED after every attempt (newest first)")
async def deliveries(message_log: MessageLogDep,
                     correlation_id: Annotated[str | None, Query(alias="correlationId")] = None,
                     state: Annotated[str | None, Query(pattern="^(ON_DELIVERY|DELIVERED|NOT_DELIVERED)$")] = None,
                     limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> DeliveriesOut:
    found = await message_log.deliveries(correlation_id=correlation_id, state=state, limit=limit)
    return DeliveriesOut.model_validate({"deliveries": found})


@router.get("/log/verify", response_model=ChainVerdictOut, response_model_exclude_unset=True,
            summary="Verify the whole chain: hashes, links and the gateway's signature on every record")
async def verify(message_log: MessageLogDep) -> ChainVerdictOut:
    return ChainVerdictOut.model_validate(await message_log.verify_chain())


@router.get("/log/{message_id}", summary="One record by messageId", responses=error_responses("LOG_RECORD_NOT_FOUND"))
async def record(message_id: str, message_log: MessageLogDep) -> LogRecordOut:
    return LogRecordOut.model_validate((await message_log.log_record(message_id=message_id)).public())

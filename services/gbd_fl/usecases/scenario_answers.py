"""ГБД ФЛ under a scenario (issue 20): a look-up in a flow whose scenario says ``gbdfl:no-data`` is answered «нет
данных», as for an IIN nobody holds; ``gbdfl:timeout`` leaves it unanswered, so its caller gets ``Server.Timeout``
from the gateway at its deadline. Both for this flow only — the rules come with the request, as the gateway
delivered them (``shared.mesh.scenarios``), and nothing stored changes, so the same person's other flows see them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from services.gbd_fl.domain import NO_DATA
from shared.logging import get_logger
from shared.mesh.member import Incoming
from shared.mesh.scenarios import Withheld, current, current_rule

log = get_logger(__name__)
Answer = Callable[[Incoming], Awaitable[dict[str, Any]]]


def as_scenario_says(answer: Answer) -> Answer:
    """``answer``, unless the flow's scenario forces ГБД ФЛ's answer."""

    async def answered(incoming: Incoming) -> dict[str, Any]:
        if current_rule("gbdfl", "timeout") is not None:
            log.info("scenario_answer_withheld", scenario=_id())
            raise Withheld
        if current_rule("gbdfl", "no-data") is not None:
            log.info("scenario_answer_no_data", scenario=_id())
            return {"found": False, "message": NO_DATA}
        return await answer(incoming)

    return answered


def _id() -> str | None:
    scenario = current()
    return scenario.id if scenario else None

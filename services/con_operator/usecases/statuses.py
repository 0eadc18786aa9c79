"""The status notices ИС ЦОН heard from ИС МИО: an operator reads those of their branch's district (every channel
the seed routes there — the portal's and the office's too), the admin reads all."""

from __future__ import annotations

from services.con_operator.branches import BranchBook
from services.con_operator.store import OperatorAccount
from shared.db import Sessions
from shared.employment.case_tracking import CaseNotice, notices


async def branch_notices(sessions: Sessions, branches: BranchBook, who: OperatorAccount | None, *,
                         number: str | None) -> list[CaseNotice]:
    heard = await notices(sessions, number=number)
    if who is None:
        return heard
    district = branches.get(who.branch).district
    return [n for n in heard if n.district == district]

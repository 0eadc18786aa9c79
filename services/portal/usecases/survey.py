"""The quality survey of seed 003 appendix 3 («качество» и «доступность»: two questions, three answers each), once per
finished application of the citizen's."""

from __future__ import annotations

import datetime as dt

from sqlmodel import select

from services.portal.store import SurveyAnswer
from shared.clock import MeshClock
from shared.db import Sessions, insert_if_absent
from shared.employment.case_tracking import DECIDED, TrackedCase
from shared.errors import MeshError

ANSWERS = {1: {"ru": "не удовлетворен", "kk": "қанағаттанбаймын"},
           2: {"ru": "частично удовлетворен", "kk": "ішінара қанағаттанамын"},
           3: {"ru": "удовлетворен", "kk": "қанағаттанамын"}}
QUESTIONS = {
    "quality": {"ru": "Удовлетворены ли Вы качеством процесса и результатом оказания электронной государственной "
                      "услуги?",
                "kk": "Электрондық мемлекеттік қызмет көрсету процесінің сапасына және нәтижесіне қанағаттанасыз ба?"},
    "information": {"ru": "Удовлетворены ли Вы качеством информации о порядке оказания электронной государственной "
                          "услуги?",
                    "kk": "Электрондық мемлекеттік қызмет көрсету тәртібі туралы ақпараттың сапасына қанағаттанасыз "
                          "ба?"},
}
SOURCE = "приложение 3 к регламенту «Выдача справок безработным гражданам»"


class Survey:
    def __init__(self, *, sessions: Sessions, clock: MeshClock) -> None:
        self._sessions = sessions
        self._clock = clock

    async def answer(self, *, iin: str, correlation_id: str, quality: int, information: int) -> dt.datetime:
        """Record the citizen's answer for their decided application, once (the first stays); when it was taken."""
        async with self._sessions() as session:
            case = await session.get(TrackedCase, correlation_id)
        if case is None or case.applicant_iin != iin:
            raise MeshError("APPLICATION_NOT_FOUND", "no such application of yours")
        if case.status not in DECIDED:
            raise MeshError("SURVEY_NOT_YET", f"the survey follows the result; the application is {case.status}")
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            fresh = await insert_if_absent(session, SurveyAnswer.__table__, {  # type: ignore[attr-defined]
                "correlation_id": correlation_id, "iin": iin, "quality": quality, "information": information,
                "answered_at": now})
        if not fresh:
            raise MeshError("SURVEY_ALREADY_ANSWERED", "this application's survey was answered already")
        return now

    async def results(self) -> tuple[int, dict[str, dict[int, int]]]:
        """How many answers, and per question the count of each answer."""
        async with self._sessions() as session:
            rows = list((await session.exec(select(SurveyAnswer))).all())
        return len(rows), {q: {a: sum(1 for r in rows if getattr(r, q) == a) for a in ANSWERS} for q in QUESTIONS}

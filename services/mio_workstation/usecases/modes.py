"""Staff modes (test support): a district's, or one application's — auto (simulated staff act after their share of
each step's time) or manual (staff act through the API). An application's open step is rescheduled at once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlmodel import col

from services.mio_workstation.store import Application, DistrictMode
from services.mio_workstation.usecases.districts import Districts
from services.mio_workstation.usecases.steps import open_step, scheduled
from shared.db import Sessions, insert_if_absent
from shared.employment.regulations import RegulationBook
from shared.errors import MeshError


class Modes:
    def __init__(self, *, sessions: Sessions, book: RegulationBook, districts: Districts, default_mode: str,
                 default_share: float) -> None:
        self._sessions = sessions
        self._book = book
        self._districts = districts
        self._default_mode = default_mode
        self._default_share = default_share

    async def set_district(self, *, district: str, mode: str, share: float | None) -> None:
        self._districts.runtime(district)
        async with self._sessions() as session, session.begin():
            await insert_if_absent(session, DistrictMode.__table__, {  # type: ignore[attr-defined]
                "district": district, "mode": self._default_mode, "auto_share": self._default_share})
            changes: dict[str, Any] = {"mode": mode} | ({"auto_share": share} if share is not None else {})
            await session.exec(update(DistrictMode).where(col(DistrictMode.district) == district)
                               .values(**changes))
        self._districts.wake_runner()

    async def set_application(self, *, number: str, mode: str, share: float | None) -> None:
        async with self._sessions() as session, session.begin():
            app = await session.get(Application, number)
            if app is None:
                raise MeshError("APPLICATION_NOT_FOUND", f"no application {number}")
            app.mode, app.auto_share = mode, share if share is not None else app.auto_share
            session.add(app)
            step = await open_step(session, number)
            if step is not None:
                step.auto_at = scheduled(app, self._book.all[app.regulation_id], step_id=step.step_id,
                                         started=step.started_at, due=step.due_at)
                session.add(step)
        self._districts.wake_runner()

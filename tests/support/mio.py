"""Helpers for ИС МИО end-to-end tests: submitting through each channel, waiting, and an independent
reading of the Kazakh working calendar to check deadlines against."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import holidays

from meshkit.load import FORM_FIELDS
from meshkit.sdk import Citizen, Mesh, PortalSession

T = TypeVar("T")
KZ = dt.timezone(dt.timedelta(hours=5))


def until(fetch: Callable[[], T], done: Callable[[T], bool], *, what: str, timeout_s: float = 30.0) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        value = fetch()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last seen: {value!r}"[:2000])
        time.sleep(0.1)


def when(value: str | None) -> dt.datetime:
    assert value is not None
    return dt.datetime.fromisoformat(value)


# ---- the calendar, read straight from the holidays package (not through the project's WorkingCalendar) -----
_KZ_DAYS_OFF = holidays.country_holidays("KZ", years=range(2024, 2036))


def is_working(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in _KZ_DAYS_OFF


def working_days_after(day: dt.date, count: int) -> list[dt.date]:
    out: list[dt.date] = []
    while len(out) < count:
        day += dt.timedelta(days=1)
        if is_working(day):
            out.append(day)
    return out


def counted_days(*, start: dt.date, working_days: int, rule: str) -> list[dt.date]:
    """The working days a term counts: from the start day itself (include_acceptance, when it is a working
    day), or from the day after (exclude_acceptance_and_issue)."""
    if rule == "include_acceptance" and is_working(start):
        return [start, *working_days_after(start, working_days - 1)]
    return working_days_after(start, working_days)


def end_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=KZ)


def spans_weekend_and_holiday(first: dt.date, last: dt.date) -> bool:
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    return any(d.weekday() >= 5 for d in days) and any(d in _KZ_DAYS_OFF and d.weekday() < 5 for d in days)


# ---- submitting and following an application -----------------------------------------------------------
@dataclass
class PortalView:
    """The citizen's view at the portal, logging in afresh each time (logins expire on the mesh clock)."""

    kit: Mesh
    citizen: Citizen

    def _session(self) -> PortalSession:
        assert self.citizen.password is not None
        return self.kit.login(self.citizen.iin, self.citizen.password)

    def notifications(self) -> list[dict[str, Any]]:
        return self._session().notifications()

    def applications(self) -> list[dict[str, Any]]:
        return self._session().applications()


def submit(kit: Mesh, *, channel: str, district: str, citizen: Citizen, service: str,
           first_role: str) -> tuple[str, PortalView | None]:
    """Send an application through a channel; returns the application number and, for the portal channel,
    the citizen's view of it there."""
    request = citizen.signed_request(service, **FORM_FIELDS[service])
    if channel == "office":
        clerk = kit.staff_login(kit.staff(district, role=first_role))
        return clerk.enter(request)["number"], None
    if channel == "portal":
        assert citizen.password is not None
        session = kit.login(citizen.iin, citizen.password)
        session.apply(request)  # no district: the gateway routes by the registered address
        view = PortalView(kit=kit, citizen=citizen)
        apps = until(view.applications, lambda a: bool(a) and a[-1]["applicationNumber"] is not None,
                     what="the portal to hear the application number")
        return apps[-1]["applicationNumber"], view
    kit.con_submit(request, district=district)  # signed by the district's ЦОН operator
    cases = until(lambda: kit.con_cases(citizen.iin), lambda c: bool(c) and c[-1]["applicationNumber"] is not None,
                  what="ИС ЦОН to hear the application number")
    return cases[-1]["applicationNumber"], None

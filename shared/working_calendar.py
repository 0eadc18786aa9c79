"""Kazakhstan working days: weekends, public holidays, days off moved by Government decree.

Holidays and moved days come from the maintained ``holidays`` library (Law No. 267 "On holidays" and the
yearly decrees it tracks), never from a hand-typed list. Testers can add days off or working days on top.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from enum import StrEnum
from functools import lru_cache

import holidays


class CountingRule(StrEnum):
    """How a regulation counts a term of N working days from the day an application is accepted."""

    # seed "Выдача справок безработным гражданам": "день приема и день выдачи не входят в срок"
    EXCLUDE_ACCEPTANCE_AND_ISSUE = "exclude_acceptance_and_issue"
    # labour-exchange practice: the day of registration is day one when it is a working day
    INCLUDE_ACCEPTANCE = "include_acceptance"


@lru_cache(maxsize=64)
def _kz_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("KZ", years=[year])


class WorkingCalendar:
    def __init__(self, *, extra_days_off: Iterable[dt.date] = (), extra_working_days: Iterable[dt.date] = ()) -> None:
        self._extra_off = frozenset(extra_days_off)
        self._extra_working = frozenset(extra_working_days)

    def holiday_name(self, day: dt.date) -> str | None:
        return _kz_holidays(day.year).get(day)

    def is_working_day(self, day: dt.date) -> bool:
        if day in self._extra_working:
            return True
        if day in self._extra_off:
            return False
        table = _kz_holidays(day.year)
        if day in table:
            return False
        if day in getattr(table, "weekend_workdays", ()):  # a Saturday worked in exchange for a bridge day
            return True
        return day.weekday() < 5

    def next_working_day(self, day: dt.date) -> dt.date:
        """The first working day strictly after ``day``."""
        candidate = day + dt.timedelta(days=1)
        while not self.is_working_day(candidate):
            candidate += dt.timedelta(days=1)
        return candidate

    def add_working_days(self, day: dt.date, count: int) -> dt.date:
        """The ``count``-th working day strictly after ``day`` (``count`` >= 0; 0 returns ``day``)."""
        if count < 0:
            raise ValueError("count must be >= 0")
        for _ in range(count):
            day = self.next_working_day(day)
        return day

    def term_due_date(self, *, accepted: dt.date, working_days: int, rule: CountingRule) -> dt.date:
        """The last day on which the result may be issued for a term of ``working_days``.

        EXCLUDE_ACCEPTANCE_AND_ISSUE: the term's days lie strictly between acceptance and issue, so the
        result is due on the working day after the term's last day.
        INCLUDE_ACCEPTANCE: acceptance day is day one when it is a working day.
        """
        last = self.last_counted_day(accepted=accepted, working_days=working_days, rule=rule)
        if rule is CountingRule.EXCLUDE_ACCEPTANCE_AND_ISSUE:
            return self.next_working_day(last)
        return last

    def last_counted_day(self, *, accepted: dt.date, working_days: int, rule: CountingRule) -> dt.date:
        """The last working day the term counts: the end of a step that may take ``working_days``.

        It differs from the due date only under EXCLUDE_ACCEPTANCE_AND_ISSUE, where issue falls on the next
        working day.
        """
        if working_days < 1:
            raise ValueError("a term has at least one working day")
        if rule is CountingRule.EXCLUDE_ACCEPTANCE_AND_ISSUE or not self.is_working_day(accepted):
            return self.add_working_days(accepted, working_days)
        return self.add_working_days(accepted, working_days - 1)

    def working_days_between(self, *, start: dt.date, end: dt.date) -> int:
        """Working days in the half-open interval (start, end]."""
        count, day = 0, start
        while day < end:
            day += dt.timedelta(days=1)
            count += self.is_working_day(day)
        return count

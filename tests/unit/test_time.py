import datetime as dt

import pytest

from shared.clock import ClockState, MeshClock
from shared.working_calendar import CountingRule, WorkingCalendar


class FakeRealTime:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_mesh_clock_advances_and_runs_at_speed():
    real = FakeRealTime(1_800_000_000.0)
    clock = MeshClock(real_time=real)
    assert clock.timestamp() == real.now
    clock.apply(clock.advanced_by(seconds=3600))
    assert clock.timestamp() == real.now + 3600
    clock.apply(clock.with_speed(speed=600))
    real.now += 10
    assert clock.timestamp() == pytest.approx(1_800_000_000.0 + 3600 + 6000)
    assert clock.real_seconds_until(clock.now() + dt.timedelta(minutes=10)) == pytest.approx(1.0)


def test_older_clock_states_are_ignored_whatever_order_they_arrive_in():
    real = FakeRealTime(1_800_000_000.0)
    clock = MeshClock(real_time=real)
    first = clock.advanced_by(seconds=60)
    clock.apply(first)
    second = clock.advanced_by(seconds=60)
    assert clock.apply(second) is True
    assert clock.apply(first) is False
    assert clock.state.version == 2


def test_the_clock_never_goes_back():
    with pytest.raises(ValueError, match="forward"):
        MeshClock().advanced_by(seconds=-1)


def test_state_round_trips():
    state = ClockState(version=3, anchor_real=1.0, anchor_mesh=2.0, speed=5.0)
    assert ClockState.model_validate(state.model_dump()) == state


calendar = WorkingCalendar()


@pytest.mark.parametrize(("day", "working"), [
    (dt.date(2026, 12, 16), False),  # Independence Day, a Wednesday
    (dt.date(2026, 12, 19), False),  # Saturday
    (dt.date(2026, 12, 17), True),
    (dt.date(2026, 3, 23), False),   # Nauryz
    (dt.date(2025, 1, 3), False),    # day off moved by decree from Sunday 5 January
    (dt.date(2025, 1, 5), True),     # ... which became a working day
    (dt.date(2027, 3, 15), False),   # Constitution Day moves to 15 March from 2027
])
def test_kazakhstan_working_days(day, working):
    assert calendar.is_working_day(day) is working


def test_exclusive_rule_skips_acceptance_day_weekend_and_holiday():
    # Accepted Friday 11 Dec 2026; 3 working days not counting acceptance and issue: 14, 15, 17 (16 is a
    # holiday); the result is issued on the next working day, Friday 18.
    due = calendar.term_due_date(accepted=dt.date(2026, 12, 11), working_days=3,
                                 rule=CountingRule.EXCLUDE_ACCEPTANCE_AND_ISSUE)
    assert due == dt.date(2026, 12, 18)


def test_the_last_counted_day_precedes_the_exclusive_rules_issue_day():
    kwargs = {"accepted": dt.date(2026, 12, 11), "working_days": 3}
    assert calendar.last_counted_day(**kwargs, rule=CountingRule.EXCLUDE_ACCEPTANCE_AND_ISSUE) == dt.date(2026, 12, 17)
    assert calendar.last_counted_day(**kwargs, rule=CountingRule.INCLUDE_ACCEPTANCE) == dt.date(2026, 12, 15)


def test_inclusive_rule_counts_the_day_of_acceptance():
    due = calendar.term_due_date(accepted=dt.date(2026, 12, 11), working_days=3, rule=CountingRule.INCLUDE_ACCEPTANCE)
    assert due == dt.date(2026, 12, 15)  # 11, 14, 15


def test_inclusive_rule_on_a_day_off_starts_counting_at_the_next_working_day():
    due = calendar.term_due_date(accepted=dt.date(2026, 12, 12), working_days=1, rule=CountingRule.INCLUDE_ACCEPTANCE)
    assert due == dt.date(2026, 12, 14)


def test_extra_days_off_and_working_days_override_the_calendar():
    custom = WorkingCalendar(extra_days_off=[dt.date(2026, 12, 14)], extra_working_days=[dt.date(2026, 12, 12)])
    assert custom.is_working_day(dt.date(2026, 12, 12))
    assert not custom.is_working_day(dt.date(2026, 12, 14))
    assert custom.working_days_between(start=dt.date(2026, 12, 11), end=dt.date(2026, 12, 18)) == 4

import datetime as dt

import pytest

from conductor.scheduling.cron import CronError, CronSchedule, parse_field

UTC = dt.timezone.utc


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def test_fields_ranges_steps_and_names():
    assert parse_field("*/15", "minute", 0, 59) == {0, 15, 30, 45}
    assert parse_field("9-17/4", "hour", 0, 23) == {9, 13, 17}
    assert parse_field("1,15", "day", 1, 31) == {1, 15}
    assert CronSchedule.parse("0 0 * jan,jul *").months == {1, 7}
    assert CronSchedule.parse("0 0 * * mon-fri").weekdays == {1, 2, 3, 4, 5}
    assert CronSchedule.parse("0 0 * * 7").weekdays == {0}


def test_bad_expressions_are_refused():
    for bad in ("* * * *", "60 * * * *", "* 24 * * *", "*/0 * * * *", "5-1 * * * *", "x * * * *"):
        with pytest.raises(CronError):
            CronSchedule.parse(bad)


def test_next_after_walks_minutes_hours_days_and_months():
    every_quarter = CronSchedule.parse("*/15 * * * *")
    assert every_quarter.next_after(at(2026, 3, 1, 10, 7)) == at(2026, 3, 1, 10, 15)
    assert every_quarter.next_after(at(2026, 3, 1, 10, 45)) == at(2026, 3, 1, 11, 0)
    nightly = CronSchedule.parse("@daily")
    assert nightly.next_after(at(2026, 12, 31, 23, 59)) == at(2027, 1, 1, 0, 0)
    leap = CronSchedule.parse("0 12 29 2 *")
    assert leap.next_after(at(2026, 3, 1, 0, 0)) == at(2028, 2, 29, 12, 0)


def test_either_day_field_matches_when_both_are_restricted():
    schedule = CronSchedule.parse("0 9 1 * mon")
    assert schedule.matches(at(2026, 6, 1, 9, 0))   # the 1st (a Monday as well)
    assert schedule.matches(at(2026, 6, 8, 9, 0))   # a Monday
    assert schedule.matches(at(2026, 7, 1, 9, 0))   # the 1st, a Wednesday
    assert not schedule.matches(at(2026, 7, 2, 9, 0))


def test_upcoming_lists_consecutive_runs():
    runs = CronSchedule.parse("30 8 * * 1-5").upcoming(at(2026, 5, 29, 12, 0), count=3)  # a Friday
    assert runs == [at(2026, 6, 1, 8, 30), at(2026, 6, 2, 8, 30), at(2026, 6, 3, 8, 30)]

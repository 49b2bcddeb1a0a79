"""Five-field cron expressions (minute hour day-of-month month day-of-week) and the next time they fire.

Supports ``*``, lists (``1,15``), ranges (``9-17``), steps (``*/5``, ``10-50/10``) and the names of months and
weekdays. As in Vixie cron, when both day fields are restricted a day matches if either does.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day", 1, 31), ("month", 1, 12), ("weekday", 0, 6))
MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
                                      "dec"), 1)}
WEEKDAYS = {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
ALIASES = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *",
           "@yearly": "0 0 1 1 *"}


class CronError(ValueError):
    pass


def _number(text: str, names: dict[str, int], field: str) -> int:
    lowered = text.lower()
    if lowered in names:
        return names[lowered]
    if not text.isdigit():
        raise CronError(f"{field}: {text!r} is not a number")
    return int(text)


def parse_field(text: str, field: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    """The set of values one field allows."""
    names = names or {}
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise CronError(f"{field}: step must be positive")
        if body == "*":
            start, end = low, high
        elif "-" in body:
            a, b = body.split("-", 1)
            start, end = _number(a, names, field), _number(b, names, field)
        else:
            start = _number(body, names, field)
            end = high if step_text else start
        if field == "weekday" and end == 7:
            values.add(0)  # 7 is Sunday too
            if start == 7:
                continue
            end = 6
        if not (low <= start <= high and low <= end <= high) or start > end:
            raise CronError(f"{field}: {part!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class CronSchedule:
    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    day_restricted: bool
    weekday_restricted: bool

    @classmethod
    def parse(cls, expression: str) -> "CronSchedule":
        text = ALIASES.get(expression.strip(), expression.strip())
        parts = text.split()
        if len(parts) != 5:
            raise CronError(f"{expression!r}: expected 5 fields, got {len(parts)}")
        sets = []
        for part, (name, low, high) in zip(parts, FIELDS):
            names = MONTHS if name == "month" else WEEKDAYS if name == "weekday" else None
            sets.append(parse_field(part, name, low, high, names))
        return cls(expression, *sets, day_restricted=parts[2] != "*", weekday_restricted=parts[4] != "*")

    def day_matches(self, day: dt.date) -> bool:
        in_month = day.day in self.days
        in_week = (day.isoweekday() % 7) in self.weekdays
        if self.day_restricted and self.weekday_restricted:
            return in_month or in_week
        return in_month and in_week

    def matches(self, moment: dt.datetime) -> bool:
        return (moment.minute in self.minutes and moment.hour in self.hours and moment.month in self.months
                and self.day_matches(moment.date()))

    def next_after(self, moment: dt.datetime, horizon_days: int = 366 * 5) -> dt.datetime:
        """The first matching minute strictly after `moment` (seconds dropped)."""
        current = moment.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        limit = moment + dt.timedelta(days=horizon_days)
        while current <= limit:
            if current.month not in self.months:
                year, month = (current.year + 1, 1) if current.month == 12 else (current.year, current.month + 1)
                current = current.replace(year=year, month=month, day=1, hour=0, minute=0)
                continue
            if not self.day_matches(current.date()):
                current = (current + dt.timedelta(days=1)).replace(hour=0, minute=0)
                continue
            if current.hour not in self.hours:
                current = (current + dt.timedelta(hours=1)).replace(minute=0)
                continue
            if current.minute not in self.minutes:
                current += dt.timedelta(minutes=1)
                continue
            return current
        raise CronError(f"{self.expression!r} never fires within {horizon_days} days")

    def upcoming(self, moment: dt.datetime, count: int = 5) -> list[dt.datetime]:
        out = []
        for _ in range(count):
            moment = self.next_after(moment)
            out.append(moment)
        return out

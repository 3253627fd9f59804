"""Working days in Finland: weekends and Finnish public holidays, counted in Europe/Helsinki."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays

HELSINKI = ZoneInfo("Europe/Helsinki")
YEARS = range(1990, 2101)
"""The years a recorded fact may fall in; deadlines counted from them may run a century past."""
CALENDAR_YEARS = range(1900, 2201)

# Computed once, at import: the holidays package translates names lazily through gettext and
# locale, which a Temporal workflow may not touch. Midsummer Eve and Christmas Eve are included.
FINNISH_HOLIDAYS = frozenset(holidays.country_holidays("FI", years=CALENDAR_YEARS))


def is_working_day(day: date) -> bool:
    """A weekday that is no Finnish public holiday. Total: a stored fact must never make the
    journey or a view fail; outside CALENDAR_YEARS only weekends count (never met: facts are
    refused outside YEARS)."""
    return day.weekday() < 5 and day not in FINNISH_HOLIDAYS


def local_date(moment: datetime) -> date:
    """The calendar date in Helsinki at an aware moment."""
    return moment.astimezone(HELSINKI).date()


def add_working_days(start: datetime, count: int) -> datetime:
    """The moment `count` working days after `start`, at the same Helsinki wall-clock time."""
    local = start.astimezone(HELSINKI)
    day = local.date()
    remaining = count
    while remaining > 0:
        day += timedelta(days=1)
        if is_working_day(day):
            remaining -= 1
    wall = datetime.combine(day, local.time().replace(tzinfo=None), tzinfo=HELSINKI)
    return wall.astimezone(start.tzinfo)


def add_days(start: datetime, count: int) -> datetime:
    """The moment `count` calendar days after `start`, at the same Helsinki wall-clock time."""
    local = start.astimezone(HELSINKI)
    wall = datetime.combine(
        local.date() + timedelta(days=count), local.time().replace(tzinfo=None), tzinfo=HELSINKI
    )
    return wall.astimezone(start.tzinfo)

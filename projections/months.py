"""Calendar months in Europe/Helsinki, the months the indicators are counted in."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

HELSINKI = ZoneInfo("Europe/Helsinki")


def month_of(at: datetime) -> date:
    """The Helsinki month a moment falls in, as its first day."""
    return at.astimezone(HELSINKI).date().replace(day=1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def month_start(month: date) -> datetime:
    """The first instant of the month in Helsinki, as a UTC time."""
    return datetime(month.year, month.month, 1, tzinfo=HELSINKI).astimezone(UTC)

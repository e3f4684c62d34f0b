"""Time in one place: everything is stored as naive UTC and shown in WIB (Asia/Jakarta).

Operators read local time; the database, sync and reports compare instants. Keeping
the conversion here means no view or query ever mixes the two.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WIB = ZoneInfo("Asia/Jakarta")


def utcnow() -> datetime:
    """Current time as a naive UTC datetime (the storage convention), to the microsecond."""
    return datetime.now(UTC).replace(tzinfo=None)


def to_wib(value: datetime | None) -> datetime | None:
    """A stored naive-UTC datetime as an aware WIB datetime."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC).astimezone(WIB)


def format_wib(value: datetime | None, fmt: str = "%d-%m-%Y %H:%M:%S") -> str:
    """Stored time rendered for an operator, or an empty string."""
    local = to_wib(value)
    return local.strftime(fmt) + " WIB" if local else ""


def wib_day_bounds(day: date, start: time = time(0), hours: int = 24) -> tuple[datetime, datetime]:
    """UTC bounds (naive) of a WIB period starting at `start` on `day`, lasting `hours`."""
    local_start = datetime.combine(day, start, tzinfo=WIB)
    utc_start = local_start.astimezone(UTC).replace(tzinfo=None)
    return utc_start, utc_start + timedelta(hours=hours)


def wib_today() -> date:
    return datetime.now(WIB).date()


def iso_utc(value: datetime | None) -> str | None:
    """Stored time as ISO 8601 with an explicit Z, for the API."""
    return value.isoformat(timespec="microseconds") + "Z" if value else None  # strftime drops %Y's zero-padding

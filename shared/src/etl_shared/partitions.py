"""Partitions are flight dates: one partition = one day of 2013 (or any real date)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

from etl_shared.errors import InvalidPartitionError

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

FIRST_PARTITION = dt.date(2013, 1, 1)
LAST_PARTITION = dt.date(2013, 12, 31)


def parse_partition(value: str | dt.date | dt.datetime) -> dt.date:
    """Return the date a partition key names, or raise InvalidPartitionError.

    Only `YYYY-MM-DD` of a real calendar day is accepted, so a value like `../x`
    can never reach a path.
    """
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    if not _DATE.match(text):
        raise InvalidPartitionError(f"invalid partition {value!r}: expected a date as YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidPartitionError(f"invalid partition {value!r}: {exc}") from None


def partition_key(value: str | dt.date | dt.datetime) -> str:
    return parse_partition(value).isoformat()


def date_range(start: str | dt.date, end: str | dt.date) -> list[str]:
    """Partition keys from start to end, both included."""
    first, last = parse_partition(start), parse_partition(end)
    if last < first:
        raise InvalidPartitionError(f"invalid range: end {last} is before start {first}")
    return list(_days(first, last))


def _days(first: dt.date, last: dt.date) -> Iterator[str]:
    day = first
    while day <= last:
        yield day.isoformat()
        day += dt.timedelta(days=1)

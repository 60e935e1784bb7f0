"""Partitions are flight dates: one partition = one day of 2013, the days the data covers.

A date that is not a real day, or a day outside FIRST_PARTITION..LAST_PARTITION, is
refused with InvalidPartitionError before anything runs, with the same one-line message
on every platform (exit code 2).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

from etl_shared.errors import InvalidPartitionError

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

FIRST_PARTITION = dt.date(2013, 1, 1)
LAST_PARTITION = dt.date(2013, 12, 31)


def parse_date(value: str | dt.date | dt.datetime) -> dt.date:
    """Return the calendar date `value` names (`YYYY-MM-DD`), in the data or not;
    raise InvalidPartitionError when it is not a real day."""
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


def outside_message(day: dt.date | str) -> str:
    """The one line every entry point prints for a day outside the data."""
    return (
        f"invalid partition {str(day)!r}: outside the data "
        f"({FIRST_PARTITION.isoformat()}..{LAST_PARTITION.isoformat()})"
    )


def partition_json_schema() -> dict[str, object]:
    """A JSON schema a tool can check a partition argument with before it runs anything
    (Airflow's Param): a real date (`format: date`) of a year of the data (`pattern`).
    The data covers whole years, so the years pattern is exactly the bounds."""
    assert (FIRST_PARTITION.month, FIRST_PARTITION.day) == (1, 1)
    assert (LAST_PARTITION.month, LAST_PARTITION.day) == (12, 31)
    years = "|".join(str(y) for y in range(FIRST_PARTITION.year, LAST_PARTITION.year + 1))
    return {
        "type": "string",
        "format": "date",
        "pattern": rf"^({years})-\d{{2}}-\d{{2}}$",
        "description": (
            f"a flight date YYYY-MM-DD, {FIRST_PARTITION.isoformat()}..{LAST_PARTITION.isoformat()}"
        ),
    }


def parse_partition(value: str | dt.date | dt.datetime) -> dt.date:
    """Return the date a partition key names, or raise InvalidPartitionError.

    Only `YYYY-MM-DD` of a real calendar day between FIRST_PARTITION and LAST_PARTITION
    is accepted, so a value like `../x` can never reach a path and a day with no data
    never starts a run.
    """
    day = parse_date(value)
    if not FIRST_PARTITION <= day <= LAST_PARTITION:
        raise InvalidPartitionError(outside_message(day.isoformat()))
    return day


def partition_key(value: str | dt.date | dt.datetime) -> str:
    return parse_partition(value).isoformat()


def date_range(start: str | dt.date, end: str | dt.date) -> list[str]:
    """Partition keys from start to end, both included; a range reaching outside the data
    is refused as a whole (nothing of it runs)."""
    first, last = parse_date(start), parse_date(end)
    if last < first:
        raise InvalidPartitionError(f"invalid range: end {last} is before start {first}")
    parse_partition(first)
    parse_partition(last)
    return list(_days(first, last))


def _days(first: dt.date, last: dt.date) -> Iterator[str]:
    day = first
    while day <= last:
        yield day.isoformat()
        day += dt.timedelta(days=1)


# ----------------------------------------------------------------------------- months
# The monthly report's partitions are calendar months of the data, keyed `YYYY-MM`.
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def month_key(value: str | dt.date) -> str:
    """Return the month key `YYYY-MM` that `value` names (a month key, or any day of it),
    or raise InvalidPartitionError when it is not a month of the data."""
    if isinstance(value, dt.date):
        first = value.replace(day=1)
    else:
        text = str(value).strip()
        match = _MONTH.match(text)
        if match is None:
            if _DATE.match(text):
                return month_key(parse_date(text))
            raise InvalidPartitionError(f"invalid month {value!r}: expected YYYY-MM")
        year, month = int(match.group(1)), int(match.group(2))
        if not 1 <= month <= 12:
            raise InvalidPartitionError(f"invalid month {value!r}: month must be 01..12")
        first = dt.date(year, month, 1)
    if not FIRST_PARTITION.replace(day=1) <= first <= LAST_PARTITION.replace(day=1):
        raise InvalidPartitionError(
            f"invalid month {first:%Y-%m}: outside the data "
            f"({FIRST_PARTITION:%Y-%m}..{LAST_PARTITION:%Y-%m})"
        )
    return f"{first:%Y-%m}"


def month_bounds(month: str | dt.date) -> tuple[dt.date, dt.date]:
    """The month's first day and the first day of the next month (half-open)."""
    first = dt.date.fromisoformat(f"{month_key(month)}-01")
    return first, (first + dt.timedelta(days=32)).replace(day=1)


def month_days(month: str | dt.date) -> list[str]:
    """The partition keys of every day of the month."""
    first, after = month_bounds(month)
    return list(_days(first, after - dt.timedelta(days=1)))

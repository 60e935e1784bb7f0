"""The monthly carrier report: the downstream consumer of the daily loads.

Once every day of a month is in `carrier_daily`, :func:`write_carrier_report` sums the
month per carrier into `carrier_monthly` (one row per carrier; `month` is the month's
first day). Every platform runs this same step in its own idiom of "when the month's
daily partitions are done" (an Airflow partitioned asset schedule, a Dagster monthly
asset with a time-window partition mapping, a Prefect deployment trigger on the daily
flow's events, a Kubernetes CronJob); the rows are the same everywhere, and
`make compare` checks them with the daily tables.

A month with a day missing is refused with :class:`MonthIncompleteError`, naming the
month and the missing days, and `carrier_monthly` keeps what it held: a report of part
of a month would look complete to whoever reads it. Writing a month again replaces its
rows in one transaction (idempotent).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from etl_shared.errors import EtlError
from etl_shared.partitions import month_bounds, month_days, month_key

if TYPE_CHECKING:
    from etl_shared.warehouse import Warehouse

__all__ = [
    "REPORT_TABLE",
    "MonthIncompleteError",
    "ReportResult",
    "completed_month",
    "loaded_days",
    "missing_days",
    "write_carrier_report",
]

REPORT_TABLE = "carrier_monthly"


class MonthIncompleteError(EtlError):
    """The month still has days without a load; the report is not written."""

    reason = "month_incomplete"


@dataclass(frozen=True)
class ReportResult:
    month: str  # YYYY-MM
    carriers: int  # rows written to carrier_monthly
    flights: int  # the month's flights, summed over carriers


def loaded_days(wh: Warehouse, month: str | dt.date) -> list[str]:
    """The days of `month` that have rows in `carrier_daily`, in order."""
    first, after = month_bounds(month)
    rows = wh.query(
        "SELECT DISTINCT flight_date FROM carrier_daily "
        "WHERE flight_date >= ? AND flight_date < ? ORDER BY flight_date",
        [first, after],
    )
    return [_iso(day) for (day,) in rows]


def missing_days(wh: Warehouse, month: str | dt.date) -> list[str]:
    """The days of `month` not loaded yet (empty once the month is complete)."""
    loaded = set(loaded_days(wh, month))
    return [day for day in month_days(month) if day not in loaded]


def completed_month(wh: Warehouse, partition: str | dt.date) -> str | None:
    """The month key of `partition` when every day of its month is loaded, else None:
    what a daily run asks after publishing a day, to know whether the report is due."""
    month = month_key(partition)
    return None if missing_days(wh, month) else month


def write_carrier_report(wh: Warehouse, month: str | dt.date) -> ReportResult:
    """Replace `month`'s rows in `carrier_monthly` with the month's per-carrier sums of
    `carrier_daily`, in one transaction. Raise MonthIncompleteError (nothing written)
    when a day of the month is not loaded, and InvalidPartitionError for a bad month."""
    key = month_key(month)
    first, after = month_bounds(key)
    wh.ensure_schema()
    with wh.transaction():
        wh.lock(f"report:{key}")
        missing = missing_days(wh, key)
        if missing:
            raise MonthIncompleteError(
                f"month {key} is not complete: {len(missing)} of {len(month_days(key))} days "
                f"not loaded ({_ranges(missing)}); {REPORT_TABLE} is unchanged",
                partition=key,
            )
        wh.execute(f"DELETE FROM {REPORT_TABLE} WHERE month = ?", [first])
        wh.execute(
            f"""
            INSERT INTO {REPORT_TABLE}
            SELECT CAST(? AS DATE), carrier, max(carrier_name), count(*), sum(flights),
                   sum(cancelled), sum(arrived), sum(on_time),
                   CASE WHEN sum(arrived) > 0
                        THEN CAST(sum(on_time) AS DOUBLE PRECISION) / sum(arrived) END,
                   sum(total_distance)
            FROM carrier_daily
            WHERE flight_date >= ? AND flight_date < ?
            GROUP BY carrier
            """,
            [first, first, after],
        )
        carriers, flights = wh.query(
            f"SELECT count(*), coalesce(sum(flights), 0) FROM {REPORT_TABLE} WHERE month = ?",
            [first],
        )[0]
    return ReportResult(month=key, carriers=int(carriers), flights=int(flights))


def _iso(value: object) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)[:10]


def _ranges(days: list[str]) -> str:
    """`2013-02-03..2013-02-05, 2013-02-09`: consecutive days folded into ranges."""
    parts: list[str] = []
    start = prev = dt.date.fromisoformat(days[0])
    for text in [*days[1:], None]:
        day = dt.date.fromisoformat(text) if text else None
        if day is not None and day == prev + dt.timedelta(days=1):
            prev = day
            continue
        parts.append(start.isoformat() if start == prev else f"{start}..{prev}")
        if day is not None:
            start = prev = day
    return ", ".join(parts)

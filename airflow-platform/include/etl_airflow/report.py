"""The monthly carrier report: one CSV per month under `$ETL_DATA_DIR/reports/`.

It reads `carrier_daily` through the WarehouseHook (a common-sql DbApiHook), so it works
on DuckDB and PostgreSQL alike, and sums the month per carrier.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
from pathlib import Path
from typing import Any

COLUMNS = (
    "carrier",
    "carrier_name",
    "days",
    "flights",
    "cancelled",
    "arrived",
    "on_time",
    "on_time_rate",
    "total_distance",
)

_MONTH = re.compile(r"^2\d{3}-(0[1-9]|1[0-2])$")


def reports_dir() -> Path:
    data_dir = Path(os.environ.get("ETL_DATA_DIR") or "data").absolute()
    return Path(os.environ.get("ETL_REPORTS_DIR") or data_dir / "reports")


def report_path(month: str) -> Path:
    return reports_dir() / f"carrier_report_{month}.csv"


def month_of(partition: str) -> str:
    return partition[:7]


def months_to_report(context: Any, inlet_asset: Any) -> list[str]:
    """Which months to (re)write: conf `month`, else the months of the asset events that
    triggered the run, else the month of the latest event of the inlet asset."""
    conf = context["dag_run"].conf or {}
    if conf.get("month"):
        months = {str(conf["month"])}
    else:
        months = {
            month_of(str(event.extra["partition"]))
            for events in (context.get("triggering_asset_events") or {}).values()
            for event in events
            if event.extra and event.extra.get("partition")
        }
        if not months:
            latest = list(context["inlet_events"][inlet_asset])
            if not latest or not latest[-1].extra.get("partition"):
                raise ValueError(
                    "no month to report: pass conf {'month': 'YYYY-MM'} or publish a partition first"
                )
            months = {month_of(str(latest[-1].extra["partition"]))}
    bad = sorted(m for m in months if not _MONTH.match(m))
    if bad:
        raise ValueError(f"not a month (YYYY-MM): {bad}")
    return sorted(months)


def write_report(hook: Any, month: str) -> Path:
    """Query carrier_daily for `month` through `hook` and write the CSV; return its path."""
    first = dt.date.fromisoformat(f"{month}-01")
    after = (first + dt.timedelta(days=32)).replace(day=1)
    ph = hook.placeholder
    rows = hook.get_records(
        f"""
        SELECT carrier, max(carrier_name), count(*), sum(flights), sum(cancelled), sum(arrived),
               sum(on_time), sum(total_distance)
        FROM carrier_daily
        WHERE flight_date >= {ph} AND flight_date < {ph}
        GROUP BY carrier ORDER BY carrier
        """,
        parameters=[first, after],
    )
    path = report_path(month)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(COLUMNS)
        for carrier, name, days, flights, cancelled, arrived, on_time, distance in rows:
            rate = f"{int(on_time) / int(arrived):.4f}" if arrived else ""
            out.writerow(
                [carrier, name, days, flights, cancelled, arrived, on_time, rate, distance]
            )
    tmp.replace(path)  # readers never see half a report
    return path

"""Data-quality checks on one partition of the warehouse.

The same checks run twice: inside the load transaction as a gate (a failure rolls the
load back, so the warehouse keeps its previous state) and afterwards as the `check` step
or `etl verify`, against what was committed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from etl_shared.errors import CheckFailedError
from etl_shared.warehouse.base import Warehouse


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    detail: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


CHECK_NAMES = (
    "rows_reconcile",
    "partition_not_empty",
    "flight_id_unique",
    "carrier_daily_matches_flights",
)


def last_extracted(wh: Warehouse, partition: str) -> int | None:
    rows = wh.query(
        "SELECT rows_extracted FROM pipeline_runs WHERE partition_date = ? AND status = 'success' "
        "ORDER BY finished_at DESC LIMIT 1",
        [dt.date.fromisoformat(partition)],
    )
    return int(rows[0][0]) if rows else None


def run_checks(wh: Warehouse, partition: str, extracted: int | None) -> list[CheckResult]:
    return run_checks_many(wh, {partition: extracted})[partition]


def run_checks_many(
    wh: Warehouse, extracted: dict[str, int | None]
) -> dict[str, list[CheckResult]]:
    """The checks for several partitions at once (one query per check, grouped by date)."""
    days = [dt.date.fromisoformat(p) for p in extracted]
    marks = ", ".join("?" for _ in days)
    # Distinct 64-bit hashes of flight_id first where the warehouse hashes well (a set of
    # integers, not of strings): equal ids hash alike, so as many hashes as rows proves the
    # ids unique. Only a partition with fewer (a duplicate, or a hash collision) is counted
    # again on the strings.
    loaded = {
        str(d): (int(n), int(ids))
        for d, n, ids in wh.query(
            f"SELECT flight_date, count(*), count(DISTINCT {wh.distinct_sql('flight_id')}) "
            f"FROM flights WHERE flight_date IN ({marks}) GROUP BY flight_date",
            days,
        )
    }
    recount = [dt.date.fromisoformat(d) for d, (n, ids) in loaded.items() if ids < n]
    if recount:
        exact = ", ".join("?" for _ in recount)
        for d, n, ids in wh.query(
            f"SELECT flight_date, count(*), count(DISTINCT flight_id) FROM flights "
            f"WHERE flight_date IN ({exact}) GROUP BY flight_date",
            recount,
        ):
            loaded[str(d)] = (int(n), int(ids))
    quarantined = {
        str(d): int(n)
        for d, n in wh.query(
            f"SELECT partition_date, count(*) FROM quarantine "
            f"WHERE partition_date IN ({marks}) GROUP BY partition_date",
            days,
        )
    }
    mismatched = {
        str(d): int(n)
        for d, n in wh.query(
            f"""
            SELECT coalesce(f.flight_date, d.flight_date) AS day, count(*) FROM (
              SELECT flight_date, carrier, count(*) AS n, count(*) FILTER (WHERE cancelled) AS c
              FROM flights WHERE flight_date IN ({marks}) GROUP BY flight_date, carrier
            ) f FULL OUTER JOIN (
              SELECT flight_date, carrier, flights AS n, cancelled AS c
              FROM carrier_daily WHERE flight_date IN ({marks})
            ) d ON f.flight_date = d.flight_date AND f.carrier = d.carrier
            WHERE f.n IS DISTINCT FROM d.n OR f.c IS DISTINCT FROM d.c
            GROUP BY day
            """,
            days + days,
        )
    }
    results: dict[str, list[CheckResult]] = {}
    for partition, expected in extracted.items():
        rows, ids = loaded.get(partition, (0, 0))
        bad = quarantined.get(partition, 0)
        off = mismatched.get(partition, 0)
        if expected is None:
            reconcile = CheckResult(
                "rows_reconcile", False, "no successful run recorded for this partition"
            )
        else:
            reconcile = CheckResult(
                "rows_reconcile",
                rows + bad == expected,
                f"loaded {rows} + quarantined {bad} = {rows + bad}, extracted {expected}",
            )
        results[partition] = [
            reconcile,
            CheckResult("partition_not_empty", rows > 0, f"{rows} flights loaded"),
            CheckResult("flight_id_unique", rows == ids, f"{rows - ids} duplicate flight_id"),
            CheckResult(
                "carrier_daily_matches_flights",
                off == 0,
                f"{off} carriers where carrier_daily disagrees with flights",
            ),
        ]
    return results


def assert_checks(results: list[CheckResult], partition: str) -> None:
    failed = [r for r in results if not r.passed]
    if failed:
        detail = "; ".join(f"{r.name}: {r.detail}" for r in failed)
        raise CheckFailedError(f"data-quality check failed: {detail}", partition=partition)

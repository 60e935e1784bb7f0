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
    day = dt.date.fromisoformat(partition)
    ((loaded, distinct_ids),) = wh.query(
        "SELECT count(*), count(DISTINCT flight_id) FROM flights WHERE flight_date = ?", [day]
    )
    ((quarantined,),) = wh.query("SELECT count(*) FROM quarantine WHERE partition_date = ?", [day])
    ((mismatched,),) = wh.query(
        """
        SELECT count(*) FROM (
          SELECT carrier, count(*) AS n, count(*) FILTER (WHERE cancelled) AS c
          FROM flights WHERE flight_date = ? GROUP BY carrier
        ) f FULL OUTER JOIN (
          SELECT carrier, flights AS n, cancelled AS c FROM carrier_daily WHERE flight_date = ?
        ) d ON f.carrier = d.carrier
        WHERE f.n IS DISTINCT FROM d.n OR f.c IS DISTINCT FROM d.c
        """,
        [day, day],
    )
    loaded, distinct_ids, quarantined, mismatched = map(
        int, (loaded, distinct_ids, quarantined, mismatched)
    )
    if extracted is None:
        reconcile = CheckResult(
            "rows_reconcile", False, "no successful run recorded for this partition"
        )
    else:
        reconcile = CheckResult(
            "rows_reconcile",
            loaded + quarantined == extracted,
            f"loaded {loaded} + quarantined {quarantined} = {loaded + quarantined}, extracted {extracted}",
        )
    return [
        reconcile,
        CheckResult("partition_not_empty", loaded > 0, f"{loaded} flights loaded"),
        CheckResult(
            "flight_id_unique",
            loaded == distinct_ids,
            f"{loaded - distinct_ids} duplicate flight_id",
        ),
        CheckResult(
            "carrier_daily_matches_flights",
            mismatched == 0,
            f"{mismatched} carriers where carrier_daily disagrees with flights",
        ),
    ]


def assert_checks(results: list[CheckResult], partition: str) -> None:
    failed = [r for r in results if not r.passed]
    if failed:
        detail = "; ".join(f"{r.name}: {r.detail}" for r in failed)
        raise CheckFailedError(f"data-quality check failed: {detail}", partition=partition)

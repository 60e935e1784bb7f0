"""`make bench`: Prefect's start-up and marginal cost per partition, beside its floor.

Through the one harness (`etl_shared.bench`: fresh process per measurement, one warm-up,
`BENCH_REPEAT` interleaved rounds, min and median, each process's own peak memory):

* figure -- `flights_daily(date, refresh=True)` flow runs, one per partition, for 7 and
  for 31 partitions in one process;
* floor  -- `noop_daily` (bench/noop.py), the same flow shape whose tasks do nothing.

Start-up (process start, imports, the ephemeral API server on this folder's PREFECT_HOME,
whose database `make` migrates once) and the cost per partition come from the two
sizes: marginal = (t31 - t7) / 24. Then the 31-day `backfill` flow (its task runner's
workers) beside `noop_backfill`. Data goes to $ETL_DATA_DIR/bench.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

from etl_shared import bench

HERE = Path(__file__).resolve()
ROOT = HERE.parents[1]
DATA = Path(os.environ.get("ETL_DATA_DIR") or ROOT / "data").absolute() / "bench"
START = "2013-01-01"
SIZES = (7, 31)


def days(n: int) -> list[str]:
    first = dt.date.fromisoformat(START)
    return [(first + dt.timedelta(days=i)).isoformat() for i in range(n)]


def child(kind: str, n: int) -> None:
    """Run n partitions (or one backfill of n) of the real or the no-op flows here."""
    tmp = Path(tempfile.mkdtemp(prefix="prefect-bench-"))
    os.environ["WAREHOUSE_URL"] = f"duckdb://{tmp / 'warehouse.duckdb'}"
    os.environ["STAGING_DIR"] = str(tmp / "staging")
    try:
        from prefect_platform.cli import use_local_api

        use_local_api()
        sys.path.insert(0, str(HERE.parent))
        from noop import noop_backfill, noop_daily
        from prefect_platform.flows import backfill, flights_daily

        logging.getLogger("prefect").setLevel(logging.WARNING)
        if kind == "real":
            for day in days(n):
                flights_daily(date=day, refresh=True)
        elif kind == "noop":
            for day in days(n):
                noop_daily(date=day)
        elif kind == "backfill":
            backfill(start=START, end=days(n)[-1], refresh=True)
        elif kind == "noop_backfill":
            noop_backfill(dates=days(n))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    bench.report_peak()


def main() -> None:
    env = {
        "LANDING_DIR": str(DATA / "landing"),
        "ETL_ALERT_FILE": str(DATA / "alerts.jsonl"),
        "PREFECT_LOGGING_LEVEL": os.environ.get("PREFECT_LOGGING_LEVEL", "WARNING"),
    }
    from etl_shared.landing import flights_file, seed

    if not all(flights_file(DATA / "landing", d).exists() for d in days(max(SIZES))):
        seed(DATA / "landing", START, days(max(SIZES))[-1])

    def case(kind: str, n: int) -> bench.Case:
        return bench.python_case(f"{kind} x{n}", HERE, "--child", kind, str(n), env=env)

    bench.run(
        "prefect-platform",
        [
            bench.Slope(
                "Prefect: flights_daily flow runs vs noop_daily",
                {n: case("real", n) for n in SIZES},
                {n: case("noop", n) for n in SIZES},
            ),
            bench.Pair(
                f"backfill flow, {max(SIZES)} partitions (process wall time)",
                case("backfill", max(SIZES)),
                case("noop_backfill", max(SIZES)),
                "<= 1.2x the no-op backfill",
            ),
        ],
        note=f"Prefect home: {os.environ.get('PREFECT_HOME', '~/.prefect')}.",
    )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]))
    else:
        main()

"""`make bench`: what Prefect costs on top of the pipeline.

1. one partition: `flights_daily` (refresh, so every step runs) vs `noop_daily` (same
   shape, tasks do nothing: Prefect's floor) vs the bare `steps.run_partition`;
   also the cached rerun of `flights_daily`;
2. a 31-partition backfill (January 2013): `backfill` vs `noop_backfill` vs the bare
   in-process loop (`etl_shared.runner.run_partitions`).

All flow runs go to the same Prefect API (the ephemeral server on this folder's
PREFECT_HOME unless PREFECT_API_URL is set), started before anything is timed.
Data goes to $ETL_DATA_DIR/bench (its own landing zone and warehouses).
"""

from __future__ import annotations

import logging
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

REPEAT = int(os.environ.get("BENCH_REPEAT", "5"))
DAY = "2013-01-05"
START, END = "2013-01-01", "2013-01-31"


def timed(fn: Callable[[], object], repeat: int = REPEAT) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    root = Path(os.environ.get("ETL_DATA_DIR") or "data").absolute() / "bench"
    os.environ["LANDING_DIR"] = str(root / "landing")
    os.environ["STAGING_DIR"] = str(root / "staging")
    os.environ["ETL_ALERT_FILE"] = str(root / "alerts.jsonl")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from etl_shared.landing import flights_file, seed
    from etl_shared.partitions import date_range
    from etl_shared.runner import run_partitions
    from etl_shared.steps import run_partition

    if not all(flights_file(root / "landing", d).exists() for d in date_range(START, END)):
        seed(root / "landing", START, END)

    from prefect_platform.cli import use_local_api

    print(f"Prefect API: {use_local_api()}")
    from noop import noop_backfill, noop_daily
    from prefect_platform.config import backfill_max_workers
    from prefect_platform.flows import backfill, flights_daily

    logging.getLogger("prefect").setLevel(logging.WARNING)

    def warehouse(name: str) -> None:
        os.environ["WAREHOUSE_URL"] = f"duckdb:///{root / name}.duckdb"

    t0 = time.perf_counter()
    noop_daily(date=DAY)  # starts the API server (not timed below)
    print(f"API server start + first flow run: {time.perf_counter() - t0:.1f}s")

    warehouse("single")
    flights_daily(date=DAY, refresh=True)  # warm-up: imports, DuckDB, schema
    run_partition(DAY, platform="bench")
    t_flow = timed(lambda: flights_daily(date=DAY, refresh=True))
    t_cached = timed(lambda: flights_daily(date=DAY))
    t_noop = timed(lambda: noop_daily(date=DAY))
    t_bare = timed(lambda: run_partition(DAY, platform="bench"))

    warehouse("backfill")
    repeat = max(1, REPEAT // 3)
    workers = backfill_max_workers()
    t_back = timed(
        lambda: backfill(start=START, end=END, refresh=True, max_workers=workers), repeat
    )
    t_back_noop = timed(
        lambda: noop_backfill(dates=date_range(START, END), max_workers=workers), repeat
    )
    t_back_bare = timed(lambda: run_partitions(date_range(START, END), platform="bench"), repeat)

    rows = [
        ("one partition", "flights_daily (refresh)", t_flow),
        ("", "flights_daily (cached rerun)", t_cached),
        ("", "noop_daily (Prefect floor)", t_noop),
        ("", "steps.run_partition (bare)", t_bare),
        (f"backfill {START}..{END}", f"backfill (refresh, {workers} workers)", t_back),
        ("", "noop_backfill (Prefect floor)", t_back_noop),
        ("", "runner.run_partitions (bare)", t_back_bare),
    ]
    print(f"\nmedian wall time (one partition: {REPEAT} runs; backfill: {repeat})")
    for what, how, seconds in rows:
        print(f"  {what:32} {how:32} {seconds:8.3f}s")
    print("\nratios")
    print(f"  flights_daily / noop floor      {t_flow / t_noop:6.2f}x   (goal <= 1.2x)")
    print(f"  flights_daily / bare steps      {t_flow / t_bare:6.2f}x")
    print(f"  cached rerun / flights_daily    {t_cached / t_flow:6.2f}x")
    print(f"  Prefect overhead per partition  {t_flow - t_bare:6.3f}s (flow minus bare)")
    print(f"  backfill / noop floor           {t_back / t_back_noop:6.2f}x")
    print(f"  backfill / bare loop            {t_back / t_back_bare:6.2f}x")
    print(f"  backfill per partition          {t_back / 31:6.3f}s")


if __name__ == "__main__":
    main()

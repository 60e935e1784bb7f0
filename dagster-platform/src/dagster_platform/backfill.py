"""Backfill a range of partitions through Dagster: `python -m dagster_platform.backfill`.

    python -m dagster_platform.backfill --start 2013-01-01 --end 2013-01-07
    python -m dagster_platform.backfill --date 2013-01-05 [--check]

A date outside the data (2013-01-01..2013-12-31), a range reaching past it or an
unsupported WAREHOUSE_URL is refused before Dagster loads: one line, exit code 2.

Each partition is its own run of `flights_daily` in the DAGSTER_HOME instance (visible in
the UI, with its own retries, checks and `pipeline_runs` row), executed one after another
in this process: the code location is imported once for the whole range instead of once
per partition (`dagster asset materialize` per date pays ~5 s of start-up each time).
Concurrent runs would only queue on DuckDB's single writer anyway.
"""

from __future__ import annotations

import argparse
import sys
import time

from etl_shared.config import Settings, check_warehouse_url
from etl_shared.errors import EXIT_BAD_ARGS, EtlError, one_line
from etl_shared.partitions import date_range


def check_arguments(start: str, end: str) -> list[str]:
    """The partitions start..end, and the warehouse setting, checked before Dagster loads;
    raises InvalidPartitionError or ConfigError (one line, exit 2)."""
    partitions = date_range(start, end)
    check_warehouse_url(Settings.from_env().warehouse_url)
    return partitions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--date", help="one partition, YYYY-MM-DD (same as --start D --end D)")
    parser.add_argument("--start", help="first partition, YYYY-MM-DD")
    parser.add_argument("--end", help="last partition, YYYY-MM-DD (included)")
    parser.add_argument(
        "--check", action="store_true", help="only check the arguments and settings (make run)"
    )
    args = parser.parse_args(argv)
    start, end = (args.date, args.date) if args.date else (args.start, args.end)
    if not (start and end):
        parser.error("give --date, or --start and --end")
    try:
        partitions = check_arguments(start, end)
    except EtlError as exc:
        print(one_line(exc), file=sys.stderr)
        return EXIT_BAD_ARGS
    if args.check:
        return 0

    import dagster as dg

    from dagster_platform.runs import load_definitions, run_partitions

    defs = load_definitions()
    failed = 0
    started = time.perf_counter()
    with dg.DagsterInstance.get() as instance:
        for run in run_partitions(partitions, instance=instance, defs=defs, log_level="WARNING"):
            status = "ok" if run.ok else f"FAILED: {run.error}"
            print(f"{run.partition}  run {run.run_id}  {status}", flush=True)
            failed += not run.ok
    took = time.perf_counter() - started
    print(f"{len(partitions) - failed}/{len(partitions)} partitions succeeded in {took:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

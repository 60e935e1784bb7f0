"""Backfill a range of partitions through Dagster: `python -m dagster_platform.backfill`.

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

import dagster as dg

from dagster_platform.runs import load_definitions, run_partitions
from etl_shared.partitions import date_range


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", required=True, help="first partition, YYYY-MM-DD")
    parser.add_argument("--end", required=True, help="last partition, YYYY-MM-DD (included)")
    args = parser.parse_args(argv)
    partitions = date_range(args.start, args.end)
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

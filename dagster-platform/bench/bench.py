"""`make bench`: Dagster's start-up and marginal cost per partition, beside its floor.

Through the one harness (`etl_shared.bench`: fresh process per measurement, one warm-up,
`BENCH_REPEAT` interleaved rounds, min and median, each process's own peak memory):

* figure -- the real code location's `flights_daily` job, one `execute_in_process` run
  per partition (in_process executor), as `make backfill` does
  (`dagster_platform.runs.run_partitions`), for 7 and for 31 partitions in one process;
* floor  -- bench/noop_definitions.py: the same asset graph doing nothing, run the same way.

Start-up (process start, imports, loading the definitions, opening the instance) and the
cost per partition come from the two sizes: marginal = (t31 - t7) / 24. The instance is a
private DAGSTER_HOME under data/bench. Then, once, the multiprocess-executor trap: the
no-op graph for one partition with that executor, beside the same with in_process.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
import tempfile
from pathlib import Path

from etl_shared import bench

HERE = Path(__file__).resolve()
ROOT = HERE.parents[1]
DATA = ROOT / "data" / "bench"
START = "2013-01-01"
SIZES = (7, 31)
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def days(n: int) -> list[str]:
    first = dt.date.fromisoformat(START)
    return [(first + dt.timedelta(days=i)).isoformat() for i in range(n)]


def child(kind: str, n: int) -> None:
    """Run n partitions of the real or the no-op job in this (fresh) process."""
    tmp = Path(tempfile.mkdtemp(prefix="dagster-bench-"))
    os.environ["WAREHOUSE_URL"] = f"duckdb://{tmp / 'warehouse.duckdb'}"
    try:
        import dagster as dg

        if kind == "real":
            from dagster_platform.runs import load_definitions

            job = load_definitions().resolve_job_def("flights_daily")
        else:
            sys.path.insert(0, str(HERE.parent))
            import noop_definitions

            job = noop_definitions.defs.resolve_implicit_global_asset_job_def()
        with dg.DagsterInstance.get() as instance:
            for day in days(n):
                result = job.execute_in_process(
                    run_config=QUIET, partition_key=day, instance=instance
                )
                assert result.success, day
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    bench.report_peak()


def main() -> None:
    home = DATA / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "dagster.local.yaml", home / "dagster.yaml")
    env = {"DAGSTER_HOME": str(home), "ETL_DATA_DIR": str(DATA), "DAGSTER_DEPLOYMENT": "local"}
    for name in ("LANDING_DIR", "STAGING_DIR", "WAREHOUSE_URL"):
        os.environ.pop(name, None)
    os.environ.update(env)
    from etl_shared.landing import flights_file, seed

    if not all(flights_file(DATA / "landing", d).exists() for d in days(max(SIZES))):
        seed(DATA / "landing", START, days(max(SIZES))[-1])

    def case(kind: str, n: int) -> bench.Case:
        return bench.python_case(f"{kind} x{n}", HERE, "--child", kind, str(n), env=env)

    materialize = [Path(sys.executable).with_name("dagster"), "asset", "materialize"]
    materialize += [
        "--select",
        "*",
        "--partition",
        START,
        "-f",
        HERE.with_name("noop_definitions.py"),
    ]
    bench.run(
        "dagster-platform",
        [
            bench.Slope(
                "Dagster: flights_daily (execute_in_process) vs the no-op graph",
                {n: case("real", n) for n in SIZES},
                {n: case("noop", n) for n in SIZES},
            ),
            bench.Pair(
                "no-op graph, one partition: multiprocess vs in_process executor (CLI)",
                bench.Case(
                    "multiprocess", materialize, env={**env, "BENCH_EXECUTOR": "multiprocess"}
                ),
                bench.Case("in_process", materialize, env=env),
                "the multiprocess trap (not used here)",
            ),
        ],
    )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]))
    else:
        main()

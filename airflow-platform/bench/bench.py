"""`make bench`: Airflow's start-up and marginal cost per partition, beside its floor.

Through the one harness (`etl_shared.bench`: fresh process per measurement, one warm-up,
`BENCH_REPEAT` interleaved rounds, min and median, each process's own peak memory):

* figure -- `flights_daily` run with dag.test() for 7 and for 31 partitions in one process
  (Airflow's task runner, seven tasks, Parquet staging between them, the warehouse
  through the provider's connection), as `make backfill` does;
* floor  -- `flights_daily_noop` (bench/noop_flights_daily.py), the same DAG shape whose
  tasks do nothing, run the same way: what Airflow itself costs.

Start-up (process start, imports, DAG parsing, the in-process API server) and the cost
per partition come from the two sizes: marginal = (t31 - t7) / 24. The metadata DB of
the private home (airflow_home/bench) is migrated once, before anything is timed.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from etl_shared import bench

HERE = Path(__file__).resolve()
PLATFORM_DIR = HERE.parents[1]
HOME = PLATFORM_DIR / "airflow_home" / "bench"
DATA = PLATFORM_DIR / "data" / "bench"
DAGS = HOME / "dags"
START = "2013-01-01"
SIZES = (7, 31)


def environment() -> dict[str, str]:
    return {
        "AIRFLOW_HOME": str(HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
        "ETL_DATA_DIR": str(DATA),
    }


def days(n: int) -> list[str]:
    first = dt.date.fromisoformat(START)
    return [(first + dt.timedelta(days=i)).isoformat() for i in range(n)]


def child(kind: str, n: int) -> None:
    """Run n partitions of the real or the no-op DAG in this (fresh) process."""
    tmp = Path(tempfile.mkdtemp(prefix="airflow-bench-"))
    os.environ["WAREHOUSE_URL"] = f"duckdb://{tmp / 'warehouse.duckdb'}"
    os.environ.pop("AIRFLOW_CONN_ETL_WAREHOUSE", None)
    try:
        from etl_airflow.local import get_dag, run_partition

        if kind == "real":
            for day in days(n):
                result = run_partition(day)
                assert result.ok, result.error
        else:
            noop = get_dag("flights_daily_noop")
            for day in days(n):
                logical = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)
                assert noop.test(logical_date=logical).state == "success"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    bench.report_peak()


def prepare() -> str:
    import airflow

    os.environ.update(environment())
    HOME.mkdir(parents=True, exist_ok=True)
    DAGS.mkdir(exist_ok=True)
    for source in (
        *sorted((PLATFORM_DIR / "dags").glob("*.py")),
        HERE.with_name("noop_flights_daily.py"),
    ):
        shutil.copy(source, DAGS / source.name)
    note = ""
    stamp = HOME / ".migrated"
    if not stamp.exists() or stamp.read_text() != airflow.__version__:
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        stamp.write_text(airflow.__version__)
        note = f"Metadata DB migration (once per home): {time.perf_counter() - started:.1f} s."
    from etl_shared.landing import flights_file, seed

    if not all(flights_file(DATA / "landing", d).exists() for d in days(max(SIZES))):
        seed(DATA / "landing", START, days(max(SIZES))[-1])
    return note


def main() -> None:
    note = prepare()
    env = environment()

    def case(kind: str, n: int) -> bench.Case:
        return bench.python_case(f"{kind} x{n}", HERE, "--child", kind, str(n), env=env)

    bench.run(
        "airflow-platform",
        [
            bench.Slope(
                "Airflow: flights_daily via dag.test vs flights_daily_noop",
                {n: case("real", n) for n in SIZES},
                {n: case("noop", n) for n in SIZES},
            )
        ],
        note=note,
    )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1:] == ["--prepare"]:  # the bench home alone (make demo's no-op floor)
        print(prepare() or "bench home ready")
    else:
        main()

"""Benchmark: one partition through Airflow vs a no-op DAG of the same shape vs bare steps.

* airflow -- `flights_daily` via dag.test(): Airflow's task runner, seven tasks, Parquet
  staging between them, the warehouse through the provider's connection;
* noop    -- `flights_daily_noop`, the same DAG shape whose tasks do nothing, run the same
  way: what Airflow itself costs per partition (the floor);
* bare    -- `etl_shared.steps.run_partition`, the step functions in one process.

Each is warmed up once, then timed REPEAT times; the median is reported. Everything runs
in a private Airflow home (airflow_home/bench) and a temporary data folder.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

PLATFORM_DIR = Path(__file__).resolve().parents[1]
HOME = PLATFORM_DIR / "airflow_home" / "bench"
DAY = os.environ.get("BENCH_DATE", "2013-02-08")
REPEAT = int(os.environ.get("BENCH_REPEAT", "7"))

work = Path(tempfile.mkdtemp(prefix="airflow-bench-"))
dags = work / "dags"
dags.mkdir()
for source in (
    *sorted((PLATFORM_DIR / "dags").glob("*.py")),
    Path(__file__).with_name("noop_flights_daily.py"),
):
    shutil.copy(source, dags / source.name)
os.environ.update(
    {
        "AIRFLOW_HOME": str(HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
        "ETL_DATA_DIR": str(work / "data"),
        "WAREHOUSE_URL": f"duckdb://{work / 'data' / 'warehouse.duckdb'}",
    }
)
os.environ.pop("AIRFLOW_CONN_ETL_WAREHOUSE", None)


def timed(runs: dict[str, Callable[[], None]], repeat: int = REPEAT) -> dict[str, list[float]]:
    """Time each callable `repeat` times, interleaved so machine noise hits all alike."""
    for fn in runs.values():
        fn()  # warm-up
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def main() -> int:
    import datetime as dt

    import airflow

    HOME.mkdir(parents=True, exist_ok=True)
    stamp = HOME / ".migrated"
    if not stamp.exists() or stamp.read_text() != airflow.__version__:
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        stamp.write_text(airflow.__version__)

    from etl_airflow.local import get_dag, run_partition

    from etl_shared import steps
    from etl_shared.landing import seed

    seed(work / "data" / "landing", DAY, DAY)
    logical = dt.datetime.fromisoformat(DAY).replace(tzinfo=dt.UTC)
    noop = get_dag("flights_daily_noop")

    def airflow_run() -> None:
        result = run_partition(DAY)
        assert result.ok, result.error

    def noop_run() -> None:
        assert noop.test(logical_date=logical).state == "success"

    def bare_run() -> None:
        steps.run_partition(DAY, platform="bench")

    first = time.perf_counter()
    airflow_run()
    cold = time.perf_counter() - first
    times = timed(
        {
            "airflow (flights_daily, dag.test)": airflow_run,
            "noop DAG, same shape (floor)": noop_run,
            "bare steps.run_partition": bare_run,
        }
    )
    medians = {name: statistics.median(t) for name, t in times.items()}
    a, n, b = medians.values()
    print(
        f"\none partition ({DAY}), median of {REPEAT} warm runs each (interleaved); "
        f"first Airflow run in the process: {cold:.2f} s"
    )
    for name, median in medians.items():
        print(f"  {name:<36} {median:7.3f} s   ({', '.join(f'{t:.2f}' for t in times[name])})")
    print(f"  airflow / noop floor = {a / n:.2f}x   (goal <= 1.2x)")
    print(f"  airflow / bare steps = {a / b:.2f}x")
    print(f"  noop / bare steps    = {n / b:.2f}x")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        shutil.rmtree(work, ignore_errors=True)

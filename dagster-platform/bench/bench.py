"""`make bench`: one partition through Dagster vs the tool's floor vs the bare steps.

Three ways to process one partition, each measured in two settings:

* as a command (`dagster asset materialize --select '*' --partition D`, what `make run`
  does): a fresh process that imports Dagster, loads the code location and runs;
* warm, in one process (`execute_in_process`, what the backfill does per partition).

  dagster   the real code location (in_process executor)
  noop      bench/noop_definitions.py: the same graph shape doing nothing (the floor)
  bare      etl_shared.steps.run_partition, no orchestrator

Plus the multiprocess-executor trap, once, on the no-op graph.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DAY = os.environ.get("BENCH_DATE", "2013-01-05")
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _cli(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(args, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def _best(fns: dict[str, object], n: int = REPEAT) -> dict[str, float]:
    """Interleaved rounds (a, b, c, a, b, c, ...), best of n each: the machine is shared,
    so the minimum is the figure least disturbed by other work."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(n):
        for name, fn in fns.items():
            times[name].append(fn())
    return {name: min(ts) for name, ts in times.items()}


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="dagster-bench-"))
    home = work / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.local.yaml", home / "dagster.yaml")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "ETL_DATA_DIR": str(work / "data"),
        "DAGSTER_DEPLOYMENT": "local",
    }
    for name in ("LANDING_DIR", "STAGING_DIR", "WAREHOUSE_URL"):
        env.pop(name, None)
    os.environ.clear()
    os.environ.update(env)
    bindir = Path(sys.executable).parent

    from etl_shared.config import Settings
    from etl_shared.landing import seed

    seed(Settings.from_env().landing_dir, DAY, DAY)
    materialize = [str(bindir / "dagster"), "asset", "materialize", "--select", "*"]
    materialize += ["--partition", DAY]

    print(f"one partition ({DAY}), best of {REPEAT} interleaved rounds")
    cli = _best(
        {
            "dagster": lambda: _cli([*materialize, "-m", "dagster_platform.definitions"], env),
            "noop": lambda: _cli([*materialize, "-f", str(HERE / "noop_definitions.py")], env),
            "bare": lambda: _cli([str(bindir / "etl"), "run", "--date", DAY], env),
        }
    )

    # warm, in this process
    import dagster as dg

    sys.path.insert(0, str(HERE))
    import noop_definitions
    from dagster_platform.runs import load_definitions

    from etl_shared import steps

    real_job = load_definitions().resolve_job_def("flights_daily")
    noop_job = noop_definitions.defs.resolve_implicit_global_asset_job_def()
    with dg.DagsterInstance.get() as instance:

        def in_process(job):
            def run() -> float:
                started = time.perf_counter()
                result = job.execute_in_process(
                    run_config=QUIET, partition_key=DAY, instance=instance
                )
                assert result.success
                return time.perf_counter() - started

            return run

        def bare() -> float:
            started = time.perf_counter()
            steps.run_partition(DAY, platform="bench")
            return time.perf_counter() - started

        fns = {"dagster": in_process(real_job), "noop": in_process(noop_job), "bare": bare}
        for fn in fns.values():
            fn()  # warm-up: imports, first DuckDB connection
        warm = _best(fns, max(REPEAT, 5))

    env_mp = {**env, "BENCH_EXECUTOR": "multiprocess"}
    multiprocess = _cli([*materialize, "-f", str(HERE / "noop_definitions.py")], env_mp)

    print(
        f"{'':28}{'dagster':>10}{'noop floor':>12}{'bare steps':>12}"
        f"{'dagster/floor':>15}{'dagster/bare':>14}"
    )
    for label, t in (("command (make run)", cli), ("warm, in process", warm)):
        print(
            f"{label:28}{t['dagster']:>9.2f}s{t['noop']:>11.2f}s{t['bare']:>11.2f}s"
            f"{t['dagster'] / t['noop']:>14.2f}x{t['dagster'] / t['bare']:>13.2f}x"
        )
    print(
        f"{'noop, multiprocess executor':28}{'':>10}{multiprocess:>11.2f}s"
        f"   ({multiprocess / cli['noop']:.1f}x the in_process floor)"
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""`make bench`: the Kubernetes Job path's start-up and marginal cost per partition.

Through the one harness (`etl_shared.bench`: fresh process per measurement, one warm-up,
`BENCH_REPEAT` interleaved rounds, min and median, each process's own peak memory):

* figure -- the operator's Indexed backfill Job for 7 and for 31 days, run locally by
  `etl-k8s-local` (one process per completion index, as one pod per day would be);
* floor  -- the same Job with a container that does nothing (`python -c pass`): what one
  more index costs without the pipeline (here a process start; on a cluster, a pod).

Then the same range through the plain `etl backfill` (one process, batches) beside the
Job path. Start-up and cost per partition come from the two sizes: marginal =
(t31 - t7) / 24. A cluster adds image pull and pod scheduling, which no local bench shows.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
from pathlib import Path

from etl_shared import bench

HERE = Path(__file__).resolve()
ROOT = HERE.parents[1]
DATA = ROOT / "data" / "bench"
BIN = Path(sys.executable).parent
START = "2013-01-01"
SIZES = (7, 31)


def days(n: int) -> list[str]:
    first = dt.date.fromisoformat(START)
    return [(first + dt.timedelta(days=i)).isoformat() for i in range(n)]


def child(kind: str, n: int) -> None:
    """Run the Job for n days with the real or a no-op container (fresh warehouse)."""
    from k8s_platform import builders, localrun

    with tempfile.TemporaryDirectory(prefix="k8s-bench-") as tmp:
        os.environ["WAREHOUSE_URL"] = f"duckdb://{tmp}/warehouse.duckdb"
        job = builders.build_backfill_job(localrun.pipeline_for_range(START, days(n)[-1]))
        assert job is not None
        if kind == "noop":
            container = localrun.container_of(job)
            container["command"], container["args"] = [sys.executable, "-c", "pass"], []
        failed = [r for r in localrun.run_job(job) if not r.ok]
        assert not failed, failed[0].stderr[-2000:]


def main() -> None:
    env = {"ETL_DATA_DIR": str(DATA), "LANDING_DIR": str(DATA / "landing")}
    os.environ.update(env)
    from etl_shared.landing import flights_file, seed

    if not all(flights_file(DATA / "landing", d).exists() for d in days(max(SIZES))):
        seed(DATA / "landing", START, days(max(SIZES))[-1])

    def case(kind: str, n: int) -> bench.Case:
        return bench.python_case(f"{kind} x{n}", HERE, "--child", kind, str(n), env=env)

    with tempfile.TemporaryDirectory(prefix="k8s-bench-cli-") as tmp:
        cli = [BIN / "etl", "backfill", "--start", START, "--end", days(max(SIZES))[-1]]
        bench.run(
            "k8s-platform",
            [
                bench.Slope(
                    "Kubernetes: Indexed Job (local, 1 process/day) vs a no-op container",
                    {n: case("real", n) for n in SIZES},
                    {n: case("noop", n) for n in SIZES},
                ),
                bench.Pair(
                    f"{max(SIZES)} days: Job path vs plain `etl backfill` (process wall time)",
                    case("real", max(SIZES)),
                    bench.Case(
                        "etl backfill",
                        cli,
                        env={**env, "WAREHOUSE_URL": f"duckdb://{tmp}/cli.duckdb"},
                    ),
                    "what one process per day costs",
                ),
            ],
        )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]))
    else:
        main()

"""`make bench-year`: the full year (365 partitions) through Prefect's own backfill flow.

What runs is what `make backfill` runs: `prefect-platform backfill --start --end
--max-workers 2 --refresh`, a subprocess with the harness' environment (fresh DuckDB
warehouse, the cached landing zone) and this folder's PREFECT_HOME, whose SQLite database
`make` migrates once (`PREFECT_API_DATABASE_MIGRATE_ON_START=false`). The CLI starts
Prefect's ephemeral API server on that database (or uses the server of `make ui` / the
PREFECT_API_URL it is given), runs one `backfill` flow run whose task runner maps one
`flights_daily` subflow per date, and stops the server when it exits. The process group
is killed if it outlives the timeout, so nothing is left behind.

Workers: 2, Prefect's local default (BACKFILL_MAX_WORKERS): on 2 cores the API server,
the client's threads and the loads (which queue for the one DuckDB file) share the CPU;
4 workers were slower in `make bench` (62 s vs 42 s for 31 days). `--refresh`: every
partition runs its steps (the warehouse is new, so a cached result would only be
checked, found missing and run anyway). PREFECT_CLIENT_MAX_RETRIES=10 unless set
(Prefect's default is 5): when the ephemeral server's SQLite is busy the API answers 503
and the client retries with exponential backoff; in one year at load ~16, two of 365
partitions ran out of 5 retries while creating a task run and failed (the backfill went
on and named them, as it should).

Seeding, timing, peak memory, parity with the bare steps and the report are
`etl_shared.bench_year`'s. BENCH_YEAR_START/END narrow the range, BENCH_YEAR_OUT moves
the JSON, BENCH_YEAR_TIMEOUT (seconds, default 3600) bounds the backfill.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from etl_shared import bench_year

ROOT = Path(__file__).resolve().parents[1]
WORKERS = 2


def backfill(partitions: list[str], env: dict[str, str]) -> None:
    """One `prefect-platform backfill` over the partitions; raises when it fails."""
    env = {
        **env,
        "PREFECT_HOME": env.get("PREFECT_HOME") or str(ROOT / "prefect_home"),
        "PREFECT_CLIENT_MAX_RETRIES": env.get("PREFECT_CLIENT_MAX_RETRIES") or "10",
    }
    log = Path(env["ETL_DATA_DIR"]) / "prefect-backfill.log"
    argv = [
        str(Path(sys.executable).with_name("prefect-platform")),
        "backfill",
        "--start",
        partitions[0],
        "--end",
        partitions[-1],
        "--max-workers",
        str(WORKERS),
        "--refresh",
    ]
    timeout = float(os.environ.get("BENCH_YEAR_TIMEOUT") or 3600)
    with log.open("w") as out:
        proc = subprocess.Popen(
            argv, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            rc = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            rc = None
        finally:
            # the CLI stops its ephemeral server on exit; a timed-out run is killed whole
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if rc != 0:
        lines = log.read_text(errors="replace").splitlines()
        errors = [line for line in lines if "| ERROR" in line][:5]
        tail = "\n".join([*errors, *lines[-3:]])
        what = f"timed out after {timeout:.0f} s" if rc is None else f"exit {rc}"
        raise RuntimeError(f"{' '.join(argv[1:])}: {what} (log {log}):\n{tail}")


def main(cwd: Path = ROOT) -> int:
    """The harness over `backfill`; its data under `cwd`/data (bench-cache, bench-year)."""
    return bench_year.main(
        "prefect",
        backfill,
        how=f"backfill flow, ThreadPoolTaskRunner({WORKERS}), ephemeral API server",
        cwd=cwd,
    )


if __name__ == "__main__":
    sys.exit(main())

"""`make bench-year`: the full year through Airflow's own backfill, its scheduler and the
LocalExecutor (the harness, the figures and the parity check: etl_shared.bench_year).

What runs, as an Airflow user backfills on one machine, all local processes against a
fresh AIRFLOW_HOME under data/bench-year/airflow/airflow-home:

* `airflow api-server` (the REST API, and the Execution API the task processes call),
  `airflow dag-processor` (parses dags/ into the metadata DB) and `airflow scheduler`
  with the **LocalExecutor**; the metadata DB is SQLite (Airflow 3.3 accepts it with the
  LocalExecutor), copied from a migrated template kept in the bench cache
  ($ETL_BENCH_CACHE, default data/bench-cache: `airflow db migrate` once per version,
  an install step, not part of the figures);
* once flights_daily is parsed: it is unpaused, the backfill's runs are checked by
  Airflow's dry run (`POST /api/v2/backfills/dry_run`: the partition keys must be
  exactly the requested days), then the backfill is created (`POST /api/v2/backfills`,
  what the UI's backfill dialog and `airflow backfill create --dag-id flights_daily
  --from-date … --to-date …` do, without a CLI process start); the scheduler runs it;
* the range: a backfill of a partitioned timetable (CronPartitionTimetable) iterates
  partition dates, not run dates: `--from-date` / `--to-date` are read as wall-clock
  times in the timetable's zone, both inclusive, and each 06:00 New York tick of day D
  is the partition D (run_offset=-1 only shifts scheduled runs: the 06:00 run of D+1
  loads D). So the range is first 00:00 .. last 23:59:59; the dry run proves it;
* the warehouse reaches the tasks as the `etl_warehouse` connection
  (AIRFLOW_CONN_ETL_WAREHOUSE), as the deployment gives it; WAREHOUSE_URL is not set;
* done when every backfill run is success or failed (polled through the REST API,
  bounded); then the three components are stopped (SIGTERM, bounded wait, SIGKILL to
  their process groups: nothing is left behind). A failed run raises, naming the runs
  and the log folder.

Settings, chosen for 2 cores:

* `[core] parallelism` 2: the LocalExecutor's two worker processes, one task each, one
  per core (the steps are CPU-bound DuckDB work; a third worker might fill the
  scheduler's gaps between a chain's tasks, not measured on this shared machine);
* the backfill's `max_active_runs` 4 (= flights_daily's own): the seven tasks of a run
  are a chain, so a few runs side by side keep both workers busy while the scheduler
  moves one run's next task along; more only queues task instances;
* `[scheduler] use_job_schedule` False: the scheduler makes no scheduled (catchup) runs
  of its own, only the backfill's (flights_daily has catchup=True over the year; so
  carrier_report_monthly, asset-triggered, is not started either);
* `[scheduler] scheduler_idle_sleep_time` 0.2 s (default 1): the loop that queues a
  run's next task sleeps this long when it found nothing to do, the latency between
  two tasks of a chain;
* `[workers] min_heartbeat_interval` 1 s (default 5, whole seconds): the task
  supervisor's select() wakes at least this often; when a task process's pipes close
  before it can be reaped, the supervisor notices its exit only at that wake-up, so at
  the default about half the tasks held their worker ~5 s after they were done;
* `[dag_processor] min_file_process_interval` / `refresh_interval` 3600 s: the DAG files
  are parsed once, not every 30 s on the cores the tasks need;
* one API-server worker (`[api] workers` 1);
* the scheduler preloads the modules flights_daily's tasks import (etl_airflow.preload,
  from the home's `airflow_local_settings.py`): each task process is forked from a
  LocalExecutor worker, itself forked from the scheduler, and would otherwise import
  them again (~1 s of a ~1.5 s task).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

from etl_airflow import preload
from etl_airflow.services import Services, airflow_cli, free_port

from etl_shared import bench_year

PLATFORM_DIR = Path(__file__).resolve().parents[1]
DAG_ID = "flights_daily"
PARALLELISM = 2
MAX_ACTIVE_RUNS = 4
START_TIMEOUT = 300  # the three components up and flights_daily parsed
RUN_TIMEOUT_PER_PARTITION = 30  # bounded wait for the backfill: generous per partition
POLL_SECONDS = 2.0
HOW = f"airflow backfill (REST), scheduler + LocalExecutor x{PARALLELISM}, SQLite"


def cache_dir() -> Path:
    return Path(os.environ.get("ETL_BENCH_CACHE") or PLATFORM_DIR / "data" / "bench-cache")


def migrated_template() -> Path:
    """A migrated SQLite metadata DB for this Airflow version (migrated once, then copied)."""
    template = cache_dir() / f"airflow-{version('apache-airflow')}.db"
    if template.exists():
        return template
    work = cache_dir() / "airflow-migrate"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env |= {
        "AIRFLOW_HOME": str(work),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{work / 'airflow.db'}",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    done = subprocess.run(
        [airflow_cli(), "db", "migrate"], env=env, capture_output=True, text=True, cwd=work
    )
    if done.returncode:
        raise SystemExit(f"airflow db migrate failed:\n{done.stdout}{done.stderr}")
    shutil.move(work / "airflow.db", template)
    shutil.rmtree(work, ignore_errors=True)
    return template


def bounds(first: str, last: str) -> tuple[str, str]:
    """The backfill's from/to dates for the partitions first..last: Airflow's backfill of a
    partitioned timetable takes partition dates, as wall-clock times in the timetable's
    zone, both ends inclusive; the tick of day D (06:00 New York) is the partition D."""
    return f"{first}T00:00:00Z", f"{last}T23:59:59Z"


def airflow_env(env: dict[str, str], home: Path, port: int) -> dict[str, str]:
    """The components' environment: the harness's data folders, the warehouse as the
    `etl_warehouse` connection, and the settings of the module docstring."""
    out = {k: v for k, v in env.items() if not k.startswith("AIRFLOW") and k != "WAREHOUSE_URL"}
    return out | {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": str(PARALLELISM),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PLATFORM_DIR / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLATFORM_DIR / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.2",
        "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "3600",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "3600",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AIRFLOW_CONN_ETL_WAREHOUSE": env["WAREHOUSE_URL"],
    }


def _count(services: Services, state: str) -> int:
    runs = services.call(
        "GET", f"/api/v2/dags/{DAG_ID}/dagRuns?run_type=backfill&state={state}&limit=100"
    )
    return int(runs["total_entries"])


def backfill(
    partitions: list[str], env: dict[str, str], *, metadata_db: Path | None = None
) -> None:
    """The partitions through Airflow's backfill, its scheduler and the LocalExecutor, into
    env's warehouse; `metadata_db`: a migrated SQLite DB to copy (default: the cached
    template). Raises when a component exits, a wait times out or a run failed."""
    start, end = bounds(partitions[0], partitions[-1])
    home = Path(env["ETL_DATA_DIR"]) / "airflow-home"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    shutil.copy(metadata_db or migrated_template(), home / "airflow.db")
    (home / "config").mkdir()
    (home / "config" / "airflow_local_settings.py").write_text(preload.LOCAL_SETTINGS)
    began = time.perf_counter()

    def note(what: str) -> None:
        print(f"  {time.perf_counter() - began:6.1f} s  {what}", flush=True)

    port = free_port()
    services = Services(airflow_env(env, home, port), home / "logs", port, PLATFORM_DIR)
    with services:
        services.wait(
            lambda: services.get_or_none(f"/api/v2/dags/{DAG_ID}"),
            START_TIMEOUT,
            f"the API server to serve the parsed {DAG_ID}",
        )
        note(f"api-server, scheduler, dag-processor up; {DAG_ID} parsed (logs: {home / 'logs'})")
        services.call("PATCH", f"/api/v2/dags/{DAG_ID}", {"is_paused": False})
        body = {
            "dag_id": DAG_ID,
            "from_date": start,
            "to_date": end,
            "max_active_runs": MAX_ACTIVE_RUNS,
            "reprocess_behavior": "none",
        }
        dry = services.call("POST", "/api/v2/backfills/dry_run", body)
        keys = sorted(r["partition_key"] for r in dry["backfills"])
        if keys != sorted(partitions):
            raise RuntimeError(
                f"Airflow's backfill of {body['from_date']}..{body['to_date']} would run the "
                f"partitions {keys[:3]}..{keys[-3:]} ({len(keys)}), not "
                f"{partitions[0]}..{partitions[-1]} ({len(partitions)})"
            )
        created = services.call("POST", "/api/v2/backfills", body)
        note(f"backfill {created['id']} created: {len(keys)} runs, {keys[0]}..{keys[-1]}")
        n = len(partitions)

        def finished() -> tuple[int, int] | None:
            try:
                done = _count(services, "success"), _count(services, "failed")
            except (OSError, RuntimeError):
                return None  # a busy API server: ask again
            return done if sum(done) >= n else None

        succeeded, failed = services.wait(
            finished,
            START_TIMEOUT + RUN_TIMEOUT_PER_PARTITION * n,
            f"the {n} runs of backfill {created['id']}",
            POLL_SECONDS,
        )
        note(f"runs finished: {succeeded} success, {failed} failed; stopping the components")
        if failed:
            runs = services.call(
                "GET", f"/api/v2/dags/{DAG_ID}/dagRuns?run_type=backfill&state=failed&limit=100"
            )
            names = ", ".join(
                f"{r['dag_run_id']} (partition {r.get('partition_key')})" for r in runs["dag_runs"]
            )
            raise RuntimeError(
                f"{failed} of {n} backfill runs failed: {names}; task logs under {home / 'logs'}"
            )
        assert succeeded == n, (succeeded, n)
    note("components stopped")


def main() -> int:
    started = time.perf_counter()
    template = migrated_template()
    took = time.perf_counter() - started
    if took > 1:
        print(f"migrated Airflow's metadata DB template once: {template} ({took:.0f} s)")
    return bench_year.main("airflow", backfill, how=HOW, cwd=PLATFORM_DIR)


if __name__ == "__main__":
    sys.exit(main())

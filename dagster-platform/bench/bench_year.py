"""`make bench-year`: the full year (365 partitions) through a Dagster backfill.

The harness (`etl_shared.bench_year`) seeds the year, makes a fresh DuckDB warehouse, times
:func:`backfill`, samples the peak memory of this process and all its descendants and
checks the warehouse equal to the bare steps'. :func:`backfill` runs the partitions the
way Dagster users backfill from the UI's "Materialize selected -> backfill":

1. a fresh instance, DAGSTER_HOME = data/bench-year/dagster_home (SQLite storage), whose
   dagster.yaml is :data:`INSTANCE_YAML`;
2. an **asset backfill** of the `flights_daily` group (landing_file, validated_rows and the
   three warehouse tables, with their asset checks) over the partitions, submitted with
   the GraphQL mutation the UI sends, `launchPartitionBackfill`, through Dagster's own
   `dagster-graphql` CLI against the instance and the code location;
3. `dagster-daemon run -m dagster_platform.definitions` started: it serves the code
   location from one gRPC code server and runs the backfill daemon and the queued run
   coordinator (started after the submission: the backfill daemon looks for backfills
   every 30 s, and this way its first iteration finds it);
4. the backfill daemon requests one run per partition; the QueuedRunCoordinator dequeues
   them and the DefaultRunLauncher starts each in its own process (spawned by the code
   server) that executes the run with the job's executor;
5. this process polls the instance until the backfill is no longer in progress (bounded
   by :data:`TIMEOUT`; the backfill daemon marks it complete on its first iteration after
   the last run, up to 30 s later), stops the daemon with SIGINT (its code server and any run process
   left are then ended with their process group: nothing outlives the call) and raises,
   naming the partitions, when a run failed or a partition was not materialized.

Settings, chosen for a 2-core machine and one DuckDB file (what a run costs: the code
server *spawns* a Python process per run, which imports Dagster and loads the code
location before its first step, ~3-5 s of CPU a run with its five steps and two checks):

* run_queue.max_concurrent_runs = 4 (BENCH_YEAR_CONCURRENT_RUNS; the local instance's is
  1). The code server's StartRun returns only once the spawned process has started, and
  the coordinator refills free slots once per dequeue iteration, so with 1-2 slots the
  launches run one after another and the two cores idle between them; 4 keeps a launch
  and a run overlapping. The warehouse takes one writer at a time and a run waiting on it
  retries its attach (etl-shared, ETL_LOCK_TIMEOUT), so concurrent runs never fail on the
  lock; they only wait a moment for it.
* dequeue_interval_seconds = 1, dequeue_use_threads with one worker per slot: a finished
  run's slot is refilled within a second and the launches of one iteration run together.
* backfills.use_threads with num_submit_workers = 4: the backfill daemon submits the
  365 runs (an execution plan from the code server each, ~1 s) from 4 threads while the
  first runs already execute.
* the executor per run is in-process (the code location's default executor,
  defs/jobs.py): the five steps are sequential, and the multiprocess executor would start
  one more process per step (~24 s a run).
* no BackfillPolicy (one run per partition, Dagster's default): each run writes its own
  partition, `pipeline_runs` row and checks through the same assets as `make run`.
  `BackfillPolicy.multi_run(max_partitions_per_run=31)` is Dagster's answer to the per-run
  start-up, but it needs assets that process a partition range (steps.run_batch) and record
  one `pipeline_runs` row per day; the assets do neither today, so a year pays the run
  start-up 365 times (the figures in README.md).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()
ROOT = HERE.parents[1]
MODULE = "dagster_platform.definitions"
# The flights_daily group: what `make run` materializes for one day.
ASSETS = ("landing_file", "validated_rows", "flights", "carrier_daily", "quarantine")
# The bound on the wait for the backfill to complete, seconds.
TIMEOUT = float(os.environ.get("BENCH_YEAR_TIMEOUT", "3600"))
MAX_CONCURRENT_RUNS = int(os.environ.get("BENCH_YEAR_CONCURRENT_RUNS", "4"))
HOW = (
    "asset backfill (launchPartitionBackfill) run by dagster-daemon, "
    f"one run per partition, {MAX_CONCURRENT_RUNS} at a time"
)

INSTANCE_YAML = f"""\
# Written by bench/bench_year.py for one make bench-year (the local instance is
# dagster.local.yaml): SQLite storage under this folder.
telemetry:
  enabled: false
run_queue:
  max_concurrent_runs: {MAX_CONCURRENT_RUNS}
  dequeue_interval_seconds: 1
  dequeue_use_threads: true
  dequeue_num_workers: {MAX_CONCURRENT_RUNS}
backfills:
  use_threads: true
  num_workers: 1
  num_submit_workers: 4
"""

LAUNCH = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
    ... on Error { message }
  }
}
"""


def launch_backfill(partitions: list[str], env: dict[str, str]) -> str:
    """Submit the asset backfill through `dagster-graphql`; its backfill id."""
    params = {
        "assetSelection": [{"path": [name]} for name in ASSETS],
        "partitionNames": partitions,
        "title": f"bench-year {partitions[0]}..{partitions[-1]}",
    }
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("dagster-graphql")),
            "-m",
            MODULE,
            "-t",
            LAUNCH,
            "-v",
            json.dumps({"params": params}),
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    try:
        # the response is the line that starts `{"data"` (the code server logs to stdout too)
        line = next(x for x in done.stdout.splitlines() if x.startswith('{"data"'))
        result = json.loads(line)["data"]["launchPartitionBackfill"]
    except (StopIteration, KeyError, TypeError, ValueError):
        raise RuntimeError(
            f"dagster-graphql launchPartitionBackfill failed (exit {done.returncode}):\n"
            f"{done.stdout[-2000:]}{done.stderr[-4000:]}"
        ) from None
    if result["__typename"] != "LaunchBackfillSuccess":
        raise RuntimeError(f"launchPartitionBackfill: {result['__typename']}: {result}")
    return result["backfillId"]


def wait_for_backfill(home: Path, backfill_id: str, daemon: subprocess.Popen[bytes]) -> None:
    """Poll the instance until the backfill leaves REQUESTED; raise on failure, timeout or
    a daemon that died."""
    import dagster as dg
    from dagster._core.execution.backfill import BulkActionStatus

    deadline = time.monotonic() + TIMEOUT
    with dg.DagsterInstance.from_config(str(home)) as instance:
        while True:
            backfill = instance.get_backfill(backfill_id)
            if backfill is None:
                raise RuntimeError(f"backfill {backfill_id} is not in the instance {home}")
            if backfill.status not in (BulkActionStatus.REQUESTED, BulkActionStatus.CANCELING):
                break
            if daemon.poll() is not None:
                raise RuntimeError(f"dagster-daemon exited ({daemon.returncode}) mid-backfill")
            if time.monotonic() > deadline:
                raise TimeoutError(f"backfill {backfill_id} still running after {TIMEOUT:.0f} s")
            time.sleep(1.0)
        failed = []
        records = instance.get_run_records(
            dg.RunsFilter(tags={"dagster/backfill": backfill_id}), ascending=True
        )
        for record in records:
            if record.dagster_run.status != dg.DagsterRunStatus.SUCCESS:
                partition = record.dagster_run.tags.get("dagster/partition")
                failed.append(
                    f"{partition} (run {record.dagster_run.run_id}: "
                    f"{record.dagster_run.status.value})"
                )
        if failed or backfill.status != BulkActionStatus.COMPLETED_SUCCESS:
            error = backfill.error.message.strip() if backfill.error else ""
            raise RuntimeError(
                f"backfill {backfill_id} ended {backfill.status.value}; "
                f"{len(failed)} run(s) did not succeed: {', '.join(failed[:20]) or '-'}"
                + (f"; {error}" if error else "")
                + f" (DAGSTER_HOME={home}: `dagster-webserver` shows each run's events)"
            )


def stop(daemon: subprocess.Popen[bytes], grace: float = 30.0) -> None:
    """SIGINT to dagster-daemon (it stops its daemons and its code server), then whatever
    is left of its process group is ended."""
    if daemon.poll() is None:
        daemon.send_signal(signal.SIGINT)
        try:
            daemon.wait(grace)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
    with contextlib.suppress(ProcessLookupError):  # nothing left in the group
        os.killpg(daemon.pid, signal.SIGKILL)  # the group of this daemon only


def backfill(partitions: list[str], env: dict[str, str]) -> None:
    home = Path(env["ETL_DATA_DIR"]) / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(INSTANCE_YAML)
    env = {**env, "DAGSTER_HOME": str(home), "DAGSTER_DEPLOYMENT": "local"}
    # Submitted before the daemon starts: its backfill daemon then finds the backfill on
    # its first iteration instead of 30 s later (it evaluates backfills every 30 s).
    backfill_id = launch_backfill(partitions, env)
    log = (home / "daemon.log").open("wb")
    daemon = subprocess.Popen(
        [str(Path(sys.executable).with_name("dagster-daemon")), "run", "-m", MODULE],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stop() ends all of it
    )
    try:
        wait_for_backfill(home, backfill_id, daemon)
    finally:
        stop(daemon)
        log.close()


def main() -> int:
    from etl_shared.bench_year import main as bench_year

    return bench_year("dagster", backfill, how=HOW, cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main())

"""The shared contract suite (etl_shared.testing.contract), run through Airflow itself.

Each partition is one DAG run of `flights_daily` via `dag.test()` with the day as its
partition key, and a report one run of `carrier_report_monthly` with the month as its key:
Airflow's own task runner, retry policy and callbacks, with the warehouse reached through the `etl_warehouse`
connection of our provider (the runner turns WAREHOUSE_URL into AIRFLOW_CONN_ETL_WAREHOUSE).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from etl_shared.testing.contract import *  # noqa: F403  the shared contract tests
from etl_shared.testing.contract import PlatformRunner, RunOutcome


class AirflowRunner:
    platform = "airflow"

    def run(self, partitions: list[str]) -> list[RunOutcome]:
        from etl_airflow.local import run_partition

        outcomes = []
        for partition in partitions:
            result = run_partition(partition)
            outcomes.append(RunOutcome(result.partition, result.ok, result.error))
        return outcomes

    def report(self, month: str) -> RunOutcome:
        """One DAG run of carrier_report_monthly with the partition key `month`
        (`make report MONTH=` runs the same through `python -m etl_airflow.local`)."""
        from etl_airflow.local import run_report

        result = run_report(month)
        return RunOutcome(result.partition, result.ok, result.error)

    def command(self, args: list[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
        """`python -m etl_airflow.local` as `make run` / `make backfill` call it."""
        argv = [sys.executable, "-m", "etl_airflow.local"]
        argv += [args[1]] if args[0] == "run" else ["--start", args[1], "--end", args[2]]
        return subprocess.run(argv, env=dict(env), capture_output=True, text=True, check=False)


@pytest.fixture(scope="session")
def platform_runner(airflow_db: Path) -> PlatformRunner:
    return AirflowRunner()


def test_a_dag_run_in_which_no_task_ran_is_a_failure(
    platform_runner: PlatformRunner, monkeypatch: pytest.MonkeyPatch, duckdb_warehouse: str
) -> None:
    """Past the DAG's end_date Airflow schedules no task and calls the run a success; the
    platform's runner reports it as a failure (here with the up-front check switched off)."""
    from etl_airflow import local

    monkeypatch.setenv("WAREHOUSE_URL", duckdb_warehouse)
    monkeypatch.setattr(local, "partition_key", lambda day: day)
    result = local.run_partition("2014-01-01")
    assert not result.ok
    assert result.state == "incomplete"
    assert "tasks that never ran" in (result.error or "")

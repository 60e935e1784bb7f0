"""The shared contract suite (etl_shared.testing.contract), run through Airflow itself.

Each partition is one DAG run of `flights_daily` via `dag.test()`: Airflow's own task
runner, retry policy and callbacks, with the warehouse reached through the `etl_warehouse`
connection of our provider (the runner turns WAREHOUSE_URL into AIRFLOW_CONN_ETL_WAREHOUSE).
"""

from __future__ import annotations

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


@pytest.fixture(scope="session")
def platform_runner(airflow_db: Path) -> PlatformRunner:
    return AirflowRunner()

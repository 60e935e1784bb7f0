"""The etl-shared contract suite, every partition materialized through Dagster's runtime.

Each partition is one run of the `flights_daily` asset job (`execute_in_process` with a
partition key), with the code location's own resources, IO managers, checks, hooks and
retry policy; the environment the contract tests set is read when the run executes.
"""

import dagster as dg
import pytest
from dagster_platform.runs import run_partitions

from etl_shared.testing.contract import *  # noqa: F403  the shared contract tests
from etl_shared.testing.contract import PlatformRunner, RunOutcome


class DagsterRunner:
    platform = "dagster"

    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance) -> None:
        self.defs = defs
        self.instance = instance

    def run(self, partitions: list[str]) -> list[RunOutcome]:
        return [
            RunOutcome(run.partition, run.ok, run.error)
            for run in run_partitions(partitions, instance=self.instance, defs=self.defs)
        ]


@pytest.fixture(scope="session")
def platform_runner(defs: dg.Definitions, instance: dg.DagsterInstance) -> PlatformRunner:
    return DagsterRunner(defs, instance)

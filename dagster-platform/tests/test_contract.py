"""The etl-shared contract suite, every partition materialized through Dagster's runtime.

Each partition is one run of the `flights_daily` asset job (`execute_in_process` with a
partition key), with the code location's own resources, IO managers, checks, hooks and
retry policy; the environment the contract tests set is read when the run executes. The
monthly report is one run of `carrier_report_monthly` for the month's partition of
`carrier_monthly` (its input read through the warehouse IO manager's `load_input`).
"""

import subprocess
import sys
from collections.abc import Mapping

import dagster as dg
import pytest
from dagster_platform.runs import run_partitions, run_report

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

    def report(self, month: str) -> RunOutcome:
        """The month's partition of `carrier_monthly`, materialized in this process."""
        run = run_report(month, instance=self.instance, defs=self.defs)
        return RunOutcome(run.partition, run.ok, run.error)

    def command(self, args: list[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
        """`python -m dagster_platform.backfill` as `make run` / `make backfill` call it."""
        argv = [sys.executable, "-m", "dagster_platform.backfill"]
        argv += ["--date", args[1]] if args[0] == "run" else ["--start", args[1], "--end", args[2]]
        return subprocess.run(argv, env=dict(env), capture_output=True, text=True, check=False)


@pytest.fixture(scope="session")
def platform_runner(defs: dg.Definitions, instance: dg.DagsterInstance) -> PlatformRunner:
    return DagsterRunner(defs, instance)

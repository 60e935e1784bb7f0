"""The etl-shared contract suite, each partition run as a real `flights_daily` flow run."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest
from prefect_platform.flows import carrier_report_monthly, flights_daily

from etl_shared.testing.contract import *  # noqa: F403  the shared contract tests
from etl_shared.testing.contract import PlatformRunner, RunOutcome


class PrefectRunner:
    """Runs each partition as a `flights_daily` flow run, and each month's report as a
    `carrier_report_monthly` flow run, against the session's Prefect API.

    `refresh=True`: the contract asks for real runs (a rerun must reload, a fault must be
    hit), so the partition cache is bypassed here; the cache has its own tests.
    """

    platform = "prefect"

    def run(self, partitions: list[str]) -> list[RunOutcome]:
        outcomes = []
        for partition in partitions:
            state = flights_daily(date=partition, refresh=True, return_state=True)
            if state.is_completed():
                outcomes.append(RunOutcome(partition, True))
            else:
                error = state.result(raise_on_failure=False)
                outcomes.append(RunOutcome(partition, False, str(error)))
        return outcomes

    def command(self, args: list[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
        """`prefect-platform run|backfill` as `make run` / `make backfill` call it."""
        argv = [str(Path(sys.executable).parent / "prefect-platform"), args[0]]
        argv += ["--date", args[1]] if args[0] == "run" else ["--start", args[1], "--end", args[2]]
        return subprocess.run(argv, env=dict(env), capture_output=True, text=True, check=False)

    def report(self, month: str) -> RunOutcome:
        """The month as a `carrier_report_monthly` flow run (what the trigger and `make
        report` start); a failed run's error is the exception Prefect recorded."""
        state = carrier_report_monthly(month=month, return_state=True)
        if state.is_completed():
            return RunOutcome(month, True)
        return RunOutcome(month, False, str(state.result(raise_on_failure=False)))


@pytest.fixture(scope="session")
def platform_runner() -> PlatformRunner:
    return PrefectRunner()

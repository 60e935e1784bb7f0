"""The etl-shared contract suite, run through the Job command path.

For each partition the runner builds the Indexed Job the operator would create for that
day (`builders.build_backfill_job`, a range of one day) and runs its container command
as a subprocess with the container's environment (`localrun.run_job`), the way the
kubelet would start the pod, plus the test's environment (warehouse, landing zone,
fault switches) in place of the Secret and the data volume. The monthly report is a Job
from the template of the report's CronJob (`builders.build_report_cronjob`) with
`--month M` (`localrun.report_job_for`), run the same way: what `make report` runs.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest
from k8s_platform import builders, localrun

from etl_shared.testing.contract import *  # noqa: F403  the shared contract tests
from etl_shared.testing.contract import PlatformRunner, RunOutcome


class JobCommandRunner:
    platform = "k8s"

    def run(self, partitions: list[str]) -> list[RunOutcome]:
        outcomes = []
        for day in partitions:
            job = builders.build_backfill_job(localrun.pipeline_for_range(day, day))
            assert job is not None
            (result,) = localrun.run_job(job)
            error = None if result.ok else (result.stderr.strip() or f"exit {result.returncode}")
            outcomes.append(RunOutcome(day, result.ok, error))
        return outcomes

    def report(self, month: str) -> RunOutcome:
        """`etl-k8s-job --month M` from the report CronJob's template, in a subprocess."""
        result = localrun.run_report_job(localrun.report_job_for(month))
        error = None if result.ok else (result.stderr.strip() or f"exit {result.returncode}")
        return RunOutcome(month, result.ok, error)

    def command(self, args: list[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
        """`etl-k8s-local run|backfill` as `make run` / `make backfill` call it."""
        argv = [str(Path(sys.executable).parent / "etl-k8s-local"), args[0]]
        argv += ["--date", args[1]] if args[0] == "run" else ["--start", args[1], "--end", args[2]]
        return subprocess.run(argv, env=dict(env), capture_output=True, text=True, check=False)


@pytest.fixture(scope="session")
def platform_runner() -> PlatformRunner:
    return JobCommandRunner()

"""shared/ runs the contract suite with the plain-Python runner (the `etl` CLI's code path)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from etl_shared.runner import run_partitions
from etl_shared.testing.contract import RunOutcome


class PythonRunner:
    """Runs partitions the way `etl backfill` does: in-process, in batches, retrying
    transient errors (a failing batch is rerun one partition at a time)."""

    platform = "cli"

    def run(self, partitions: list[str]) -> list[RunOutcome]:
        return [
            RunOutcome(r.partition, r.ok, None if r.error is None else str(r.error))
            for r in run_partitions(partitions, platform=self.platform, batch_size=31)
        ]

    def command(self, args: list[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
        """`etl run --date D` or `etl backfill --start S --end E` (what make run/backfill call)."""
        etl = str(Path(sys.executable).parent / "etl")
        argv = (
            [etl, "run", "--date", args[1]]
            if args[0] == "run"
            else [etl, "backfill", "--start", args[1], "--end", args[2]]
        )
        return subprocess.run(argv, env=dict(env), capture_output=True, text=True, check=False)

    def report(self, month: str) -> RunOutcome:
        """`etl report --month M` (what make report calls), in a subprocess."""
        etl = str(Path(sys.executable).parent / "etl")
        proc = subprocess.run(
            [etl, "report", "--month", month], capture_output=True, text=True, check=False
        )
        return RunOutcome(month, proc.returncode == 0, proc.stderr.strip() or None)


@pytest.fixture(scope="session")
def platform_runner() -> PythonRunner:
    return PythonRunner()

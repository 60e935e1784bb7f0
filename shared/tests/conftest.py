"""shared/ runs the contract suite with the plain-Python runner (the `etl` CLI's code path)."""

from __future__ import annotations

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


@pytest.fixture(scope="session")
def platform_runner() -> PythonRunner:
    return PythonRunner()

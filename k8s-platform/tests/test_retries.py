"""Retries and run records of the Job's pods, under the names every platform's suite uses.

Each test builds the operator's Job for one day and runs its pod command as a local
process (`localrun.run_job`), with the faults switched on through the environment.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from k8s_platform import builders, localrun

from etl_shared import policy
from etl_shared.testing.landing import GOLDEN_DAYS, MISSING_DAY
from etl_shared.warehouse import open_warehouse

DAY = GOLDEN_DAYS[0]


@pytest.fixture
def warehouse(landing_zone: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    monkeypatch.setenv("WAREHOUSE_URL", url)
    monkeypatch.setenv(policy.RETRY_DELAY_ENV, "0.01")
    return url


def _run(day: str):  # type: ignore[no-untyped-def]
    (result,) = localrun.run_job(builders.build_backfill_job(localrun.pipeline_for_range(day, day)))
    return result


def _runs(url: str, day: str) -> list[tuple]:
    with open_warehouse(url) as wh:
        return wh.query(
            "SELECT platform, status, error FROM pipeline_runs WHERE partition_date = ?",
            [dt.date.fromisoformat(day)],
        )


def test_transient_error_is_retried_then_succeeds(warehouse: str, fault_injection) -> None:  # type: ignore[no-untyped-def]
    fault_injection.transient_source(times=2)
    result = _run(DAY)
    assert result.returncode == 0, result.stderr
    assert "attempts 3" in result.stdout  # two failed attempts, then success
    assert fault_injection.remaining_transient() == 0
    assert [(p, s) for p, s, _ in _runs(warehouse, DAY)] == [("k8s", "success")]


def test_transient_errors_beyond_the_attempts_fail_the_run(warehouse: str, fault_injection) -> None:  # type: ignore[no-untyped-def]
    fault_injection.transient_source(times=policy.ATTEMPTS + 2)
    result = _run(DAY)
    # the pod spent the policy's attempts: it fails the Job for good (no more pods)
    assert result.returncode == builders.EXIT_NOT_RETRYABLE
    assert f"after {policy.ATTEMPTS} attempt(s)" in result.stderr
    assert fault_injection.remaining_transient() == 2


def test_data_error_is_not_retried(warehouse: str) -> None:
    result = _run(MISSING_DAY)
    assert result.returncode == builders.EXIT_NOT_RETRYABLE
    assert "after 1 attempt(s)" in result.stderr
    assert "no landing file" in result.stderr


def test_failure_hook_records_failed_run(warehouse: str, fault_injection) -> None:  # type: ignore[no-untyped-def]
    """No hook on Kubernetes: the pod records its failed run itself (etl_shared.steps)."""
    fault_injection.inside_load()
    result = _run(DAY)
    assert result.returncode == builders.EXIT_NOT_RETRYABLE
    ((platform, status, error),) = _runs(warehouse, DAY)
    assert (platform, status) == ("k8s", "failed")
    assert "inside the transaction" in error


def test_retry_delay_comes_from_the_environment() -> None:
    body = localrun.pipeline_for_range(DAY, DAY)
    body["spec"]["retryDelaySeconds"] = 7
    job = builders.build_backfill_job(body)
    assert job is not None
    (container,) = job["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env[policy.RETRY_DELAY_ENV] == "7"
    assert policy.retry_policy(env).delays() == [7.0, 14.0, 28.0]

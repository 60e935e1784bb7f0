"""The shared policy: schedules, retries, yesterday, staging, run ids, Secret, run records."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path

import pytest

from etl_shared import policy
from etl_shared.errors import (
    ConfigError,
    MissingPartitionError,
    TransientSourceError,
    WarehouseUnavailableError,
)

NY = zoneinfo.ZoneInfo("America/New_York")


def test_daily_and_monthly_schedules_are_cron_in_the_pipelines_time_zone() -> None:
    assert policy.TIMEZONE == "America/New_York"
    for schedule in (policy.DAILY, policy.MONTHLY_REPORT):
        assert schedule.timezone == policy.TIMEZONE
        assert schedule.tzinfo == NY
    # minute hour day-of-month month day-of-week: 06:00 daily, 07:00 on the 1st
    assert policy.DAILY.cron.split() == ["0", "6", "*", "*", "*"]
    assert policy.MONTHLY_REPORT.cron.split() == ["0", "7", "1", "*", "*"]


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (dt.datetime(2013, 1, 6, 6, 0, tzinfo=NY), "2013-01-05"),
        # 03:00 UTC on the 6th is still the evening of the 5th in New York
        (dt.datetime(2013, 1, 6, 3, 0, tzinfo=dt.UTC), "2013-01-04"),
        (dt.datetime(2013, 1, 6, 11, 0, tzinfo=dt.UTC), "2013-01-05"),
        (dt.datetime(2013, 3, 1, 6, 0, tzinfo=NY), "2013-02-28"),
        (dt.datetime(2014, 1, 1, 6, 0, tzinfo=NY), "2013-12-31"),
    ],
)
def test_yesterday_partition_is_the_day_before_in_new_york(now: dt.datetime, expected: str) -> None:
    assert policy.yesterday_partition(now) == expected


def test_yesterday_partition_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError, match="aware datetime"):
        policy.yesterday_partition(dt.datetime(2013, 1, 6, 6, 0))


def test_retry_policy_is_four_attempts_doubling_from_the_first_delay() -> None:
    retry = policy.retry_policy({})
    assert (retry.attempts, retry.retries) == (4, 3)
    assert retry.first_delay_seconds == policy.DEFAULT_RETRY_DELAY_SECONDS == 30
    assert retry.delays() == [30, 60, 120]
    assert retry.max_delay_seconds == 120
    assert retry.is_retryable(TransientSourceError("x"))
    assert not retry.is_retryable(MissingPartitionError("x"))


def test_retry_delay_is_overridden_from_the_environment_only_with_a_number() -> None:
    assert policy.retry_policy({"ETL_RETRY_DELAY_SECONDS": "0.5"}).delays() == [0.5, 1.0, 2.0]
    assert policy.retry_policy({"ETL_RETRY_DELAY_SECONDS": " "}).first_delay_seconds == 30
    for bad in ("soon", "-1", "nan"):
        with pytest.raises(ConfigError, match="ETL_RETRY_DELAY_SECONDS"):
            policy.retry_policy({"ETL_RETRY_DELAY_SECONDS": bad})


def test_the_in_process_runner_follows_the_retry_policy(
    landing_zone: Path, duckdb_warehouse: str, fault_injection, monkeypatch: pytest.MonkeyPatch
) -> None:
    from etl_shared.runner import run_partitions
    from etl_shared.testing.landing import GOLDEN_DAYS

    monkeypatch.setenv("WAREHOUSE_URL", duckdb_warehouse)
    monkeypatch.setenv("ETL_RETRY_DELAY_SECONDS", "0.01")
    fault_injection.transient_source(times=policy.ATTEMPTS + 2)
    (result,) = run_partitions([GOLDEN_DAYS[0]])
    assert not result.ok
    assert result.attempts == policy.ATTEMPTS
    from etl_shared.warehouse import open_warehouse

    with open_warehouse(duckdb_warehouse) as wh:  # every attempt updates one row
        assert wh.query("SELECT status FROM pipeline_runs") == [("failed",)]


def test_run_ids_are_platform_prefixed_and_path_safe() -> None:
    assert policy.sanitize_run_id("scheduled__2013-01-05T06:00:00+00:00") == (
        "scheduled__2013-01-05T06_00_00_00_00"
    )
    assert policy.run_id_for("airflow", "manual__a b/../c") == "airflow-manual__a_b_.._c"
    fresh = policy.new_run_id("cli")
    assert fresh.startswith("cli-")
    assert policy.sanitize_run_id(fresh) == fresh


def test_staging_path_is_partition_then_run(tmp_path: Path) -> None:
    assert policy.staging_path(tmp_path, "2013-01-05", "k8s-1") == tmp_path / "2013-01-05" / "k8s-1"


def test_warehouse_secret_has_one_name_and_key() -> None:
    assert (policy.WAREHOUSE_SECRET, policy.WAREHOUSE_SECRET_KEY) == (
        "etl-warehouse",
        "WAREHOUSE_URL",
    )


def test_failed_run_is_recorded_unless_the_warehouse_is_down(
    duckdb_warehouse: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from etl_shared.warehouse import open_warehouse

    monkeypatch.setenv("WAREHOUSE_URL", duckdb_warehouse)
    started = dt.datetime(2013, 1, 6, 11, 0, tzinfo=dt.UTC)
    common = dict(platform="cli", partition="2013-01-05", started_at=started)
    assert policy.record_failed_run(run_id="cli-a", error=MissingPartitionError("gone"), **common)
    assert not policy.record_failed_run(
        run_id="cli-b", error=WarehouseUnavailableError("down"), **common
    )
    with open_warehouse(duckdb_warehouse) as wh:
        rows = wh.query("SELECT run_id, status, error FROM pipeline_runs ORDER BY run_id")
    assert [(r[0], r[1]) for r in rows] == [("cli-a", "failed")]
    assert "gone" in rows[0][2]

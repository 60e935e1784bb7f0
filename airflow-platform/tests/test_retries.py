"""Airflow retries what another attempt can cure, and fails fast on the rest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from etl_shared.testing.landing import GOLDEN_DAYS, MISSING_DAY

DAY = GOLDEN_DAYS[0]


@pytest.fixture
def duckdb_env(landing_zone: Path, duckdb_warehouse: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("WAREHOUSE_URL", duckdb_warehouse)
    return duckdb_warehouse


def test_transient_error_is_retried_then_succeeds(
    airflow_db: Path, duckdb_env: str, fault_injection: Any
) -> None:
    from etl_airflow.local import run_partition

    fault_injection.transient_source(times=2)
    result = run_partition(DAY)
    assert result.ok, result.error
    assert result.tries["extract"] == 3  # two failed attempts, then success
    assert fault_injection.remaining_transient() == 0


def test_transient_errors_beyond_the_attempts_fail_the_run(
    airflow_db: Path, duckdb_env: str, fault_injection: Any
) -> None:
    from etl_airflow.local import run_partition

    from etl_shared.policy import ATTEMPTS

    fault_injection.transient_source(times=ATTEMPTS + 5)
    result = run_partition(DAY)
    assert not result.ok
    assert result.tries["extract"] == ATTEMPTS
    assert "injected transient fault" in (result.error or "")


def test_data_error_is_not_retried(airflow_db: Path, duckdb_env: str) -> None:
    from etl_airflow.local import run_partition

    result = run_partition(MISSING_DAY)
    assert not result.ok
    assert result.tries["extract"] == 1
    assert "no landing file" in (result.error or "")


def test_failed_load_is_not_retried(
    airflow_db: Path, duckdb_env: str, fault_injection: Any
) -> None:
    from etl_airflow.local import run_partition

    fault_injection.inside_load()
    result = run_partition(DAY)
    assert not result.ok
    assert result.tries["publish.load"] == 1
    assert result.tries["extract"] == 1


def test_retry_delay_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from etl_airflow.policy import default_args

    monkeypatch.setenv("ETL_RETRY_DELAY_SECONDS", "7")
    args = default_args()
    assert args["retry_delay"].total_seconds() == 7
    assert args["retry_exponential_backoff"] > 1
    assert args["retries"] >= 2


def test_failure_hook_records_failed_run(
    airflow_db: Path, duckdb_env: str, fault_injection: Any, landing_zone: Path
) -> None:
    """The on_failure_callback writes the failed run's pipeline_runs row and drops its
    staging folder."""
    from etl_airflow.local import run_partition

    from etl_shared.warehouse import open_warehouse

    fault_injection.inside_load()
    result = run_partition(DAY)
    assert not result.ok
    with open_warehouse(duckdb_env) as wh:
        rows = wh.query(
            "SELECT status, error FROM pipeline_runs WHERE platform = 'airflow' "
            "AND partition_date = CAST(? AS DATE) ORDER BY finished_at DESC",
            [DAY],
        )
    assert rows
    assert rows[0][0] == "failed"
    assert "injected" in rows[0][1]
    staging = Path(landing_zone).parent / "staging" / DAY
    assert not staging.exists() or not any(staging.iterdir())

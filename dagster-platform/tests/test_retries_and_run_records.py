"""RetryPolicy retries transient source errors only; every run leaves one pipeline_runs row."""

import dagster as dg
from dagster_platform.defs.hooks import pipeline_run_id
from dagster_platform.runs import run_partitions

from etl_shared.policy import ATTEMPTS
from etl_shared.testing.landing import GOLDEN_DAYS, MISSING_DAY
from tests.helpers import runs_of

DAY = GOLDEN_DAYS[0]


def _run(defs: dg.Definitions, instance: dg.DagsterInstance, partition: str):
    (run,) = run_partitions([partition], instance=instance, defs=defs)
    return run, instance.get_records_for_run(run.run_id).records


def _types(records, event_type: str, step_key: str) -> int:
    return sum(
        1
        for r in records
        if r.event_log_entry.dagster_event is not None
        and r.event_log_entry.dagster_event.event_type_value == event_type
        and r.event_log_entry.step_key == step_key
    )


def test_transient_error_is_retried_then_succeeds(
    defs, instance, landing_zone, duckdb_warehouse, fault_injection, monkeypatch
) -> None:
    monkeypatch.setenv("WAREHOUSE_URL", duckdb_warehouse)
    fault_injection.transient_source(times=2)
    run, records = _run(defs, instance, DAY)
    assert run.ok, run.error
    assert _types(records, "STEP_UP_FOR_RETRY", "landing_file") == 2
    assert fault_injection.remaining_transient() == 0
    # retried attempts do not record a failure: one row, success, with the Dagster run id
    assert [(r[0], r[1], r[2]) for r in runs_of(duckdb_warehouse, DAY)] == [
        (pipeline_run_id(run.run_id), "dagster", "success")
    ]


def test_data_error_is_not_retried(
    defs, instance, landing_zone, duckdb_warehouse, monkeypatch
) -> None:
    monkeypatch.setenv("WAREHOUSE_URL", duckdb_warehouse)
    run, records = _run(defs, instance, MISSING_DAY)
    assert not run.ok
    assert _types(records, "STEP_UP_FOR_RETRY", "landing_file") == 0
    assert _types(records, "STEP_FAILURE", "landing_file") == 1
    ((run_id, platform, status, error),) = runs_of(duckdb_warehouse, MISSING_DAY)
    assert (run_id, platform, status) == (pipeline_run_id(run.run_id), "dagster", "failed")
    assert "no landing file" in error
    assert MISSING_DAY in error


def test_transient_errors_beyond_the_attempts_fail_the_run(
    defs, instance, landing_zone, duckdb_warehouse, fault_injection, monkeypatch
) -> None:
    monkeypatch.setenv("WAREHOUSE_URL", duckdb_warehouse)
    fault_injection.transient_source(times=10)
    run, records = _run(defs, instance, DAY)
    assert not run.ok
    assert _types(records, "STEP_UP_FOR_RETRY", "landing_file") == ATTEMPTS - 1
    ((_, platform, status, error),) = runs_of(duckdb_warehouse, DAY)
    assert (platform, status) == ("dagster", "failed")
    assert "transient" in error


def test_failure_hook_records_failed_run(
    defs, instance, landing_zone, duckdb_warehouse, fault_injection, monkeypatch, tmp_path
) -> None:
    monkeypatch.setenv("WAREHOUSE_URL", duckdb_warehouse)
    fault_injection.inside_load()
    run, _records = _run(defs, instance, DAY)
    assert not run.ok
    assert "inside the transaction" in run.error
    ((_, platform, status, error),) = runs_of(duckdb_warehouse, DAY)
    assert (platform, status) == ("dagster", "failed")
    assert "inside the transaction" in error
    staging = tmp_path / "staging" / DAY
    assert not staging.exists() or not any(staging.iterdir())


def test_retry_delay_comes_from_the_environment(monkeypatch) -> None:
    from dagster_platform.retries import source_retry_policy

    monkeypatch.setenv("ETL_RETRY_DELAY_SECONDS", "7")
    retry_policy = source_retry_policy()
    assert retry_policy.delay == 7
    assert retry_policy.max_retries == ATTEMPTS - 1
    assert retry_policy.backoff == dg.Backoff.EXPONENTIAL

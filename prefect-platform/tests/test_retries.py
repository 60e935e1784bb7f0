"""Retries: Prefect retries a transient source error with backoff, and nothing else."""

from __future__ import annotations

from helpers import query, task_runs
from prefect.states import Failed
from prefect_platform import tasks
from prefect_platform.flows import flights_daily

from etl_shared.errors import MissingPartitionError, SchemaDriftError, TransientSourceError
from etl_shared.policy import ATTEMPTS
from etl_shared.testing.landing import GOLDEN_DAYS

DAY = GOLDEN_DAYS[0]


def test_transient_error_is_retried_then_succeeds(warehouse: str, fault_injection) -> None:  # type: ignore[no-untyped-def]
    fault_injection.transient_source(times=2)
    state = flights_daily(date=DAY, refresh=True, return_state=True)
    assert state.is_completed(), state.message
    assert fault_injection.remaining_transient() == 0
    runs = task_runs(state.state_details.flow_run_id, expect={"extract", "load"})
    assert runs["extract"].run_count == 3  # two failed attempts, then success
    assert runs["load"].run_count == 1
    assert query(warehouse, "SELECT count(*) FROM flights")[0][0] > 0


def test_transient_errors_beyond_the_attempts_fail_the_run(warehouse: str, fault_injection) -> None:  # type: ignore[no-untyped-def]
    fault_injection.transient_source(times=ATTEMPTS + 2)
    state = flights_daily(date=DAY, refresh=True, return_state=True)
    assert state.is_failed()
    assert isinstance(state.result(raise_on_failure=False), TransientSourceError)
    runs = task_runs(state.state_details.flow_run_id, expect={"extract"})
    assert runs["extract"].run_count == ATTEMPTS
    assert fault_injection.remaining_transient() == 2


def test_data_error_is_not_retried(warehouse: str, bad_landing_file) -> None:  # type: ignore[no-untyped-def]
    bad_landing_file(DAY, [], header=["year", "month", "day"], keep_original=False)
    state = flights_daily(date=DAY, refresh=True, return_state=True)
    assert state.is_failed()
    assert isinstance(state.result(raise_on_failure=False), SchemaDriftError)
    runs = task_runs(state.state_details.flow_run_id, expect={"extract"})
    assert runs["extract"].run_count == 1
    assert "validate" not in runs


def test_retry_condition_accepts_only_transient_errors() -> None:
    def failed(exc: Exception) -> Failed:
        return Failed(data=exc)

    assert tasks.retry_transient_only(tasks.extract, None, failed(TransientSourceError("x")))  # type: ignore[arg-type]
    for exc in (MissingPartitionError("x"), SchemaDriftError("x"), ValueError("x")):
        assert not tasks.retry_transient_only(tasks.extract, None, failed(exc))  # type: ignore[arg-type]


def test_retry_delay_comes_from_the_environment(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ETL_RETRY_DELAY_SECONDS", "2")
    configured = tasks.configured(tasks.extract)
    assert configured.retries == 3
    assert configured.retry_delay_seconds == [2.0, 4.0, 8.0]
    assert configured.retry_condition_fn is tasks.retry_transient_only
    assert tasks.extract.retry_delay_seconds == [30.0, 60.0, 120.0]  # the production default

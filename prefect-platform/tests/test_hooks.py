"""The flow's state hooks: every run leaves a pipeline_runs row; a failed run an alert."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from helpers import query
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect_platform import config
from prefect_platform.flows import flights_daily
from prefect_platform.hooks import partition_of

from etl_shared.testing.landing import GOLDEN_DAYS, MISSING_DAY

DAY = GOLDEN_DAYS[0]


def test_success_hook_records_run(warehouse: str) -> None:
    state = flights_daily(date=DAY, return_state=True)
    assert state.is_completed(), state.message
    flow_run_id = state.state_details.flow_run_id
    rows = query(
        warehouse,
        "SELECT run_id, platform, status, rows_extracted, rows_loaded, rows_quarantined, error "
        "FROM pipeline_runs",
    )
    counts = state.result()["counts"]
    assert rows == [
        (f"prefect-{flow_run_id}", "prefect", "success", counts["extracted"], counts["loaded"],
         counts["quarantined"], None)
    ]  # fmt: skip
    assert counts["loaded"] > 0


def test_failure_hook_records_failed_run(warehouse: str) -> None:
    state = flights_daily(date=MISSING_DAY, return_state=True)
    assert state.is_failed()
    flow_run_id = state.state_details.flow_run_id

    # on_failure hook 1: the pipeline_runs row, with the error
    ((run_id, platform, status, error),) = query(
        warehouse, "SELECT run_id, platform, status, error FROM pipeline_runs"
    )
    assert (run_id, platform, status) == (f"prefect-{flow_run_id}", "prefect", "failed")
    assert MISSING_DAY in error
    assert "no landing file" in error

    # on_failure hook 2: the alert line and the UI artifact
    lines = config.alert_file().read_text().splitlines()
    alert = json.loads(lines[-1])
    assert alert["flow_run"] == str(flow_run_id)
    assert alert["partition"] == MISSING_DAY
    assert alert["error_type"] == "MissingPartitionError"
    assert "no landing file" in alert["error"]
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["flights-daily-alert"]))
        )
    assert any(a.flow_run_id == flow_run_id and MISSING_DAY in str(a.data) for a in artifacts)


def test_alert_file_location_comes_from_the_environment(
    warehouse: str, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "elsewhere" / "alerts.jsonl"
    monkeypatch.setenv("ETL_ALERT_FILE", str(target))
    assert flights_daily(date=MISSING_DAY, return_state=True).is_failed()
    assert json.loads(target.read_text().splitlines()[-1])["partition"] == MISSING_DAY


def test_scheduled_run_without_date_loads_the_previous_day() -> None:
    scheduled = dt.datetime(2013, 1, 6, 11, 0, tzinfo=dt.UTC)  # 06:00 New York
    assert partition_of(None, scheduled) == "2013-01-05"
    assert partition_of("2013-03-01", scheduled) == "2013-03-01"


def test_refused_date_parameter_records_nothing_and_raises_no_alert(
    warehouse: str, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "alerts.jsonl"
    monkeypatch.setenv("ETL_ALERT_FILE", str(target))
    state = flights_daily(date="2013-02-30", return_state=True)
    assert state.is_failed()
    assert "invalid parameters" in str(state.result(raise_on_failure=False))
    assert not target.exists()
    assert query(warehouse, "SELECT count(*) FROM pipeline_runs") == [(0,)]


def test_a_deployment_without_warehouse_url_fails_naming_it(
    landing_zone: Path, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """No silent fallback to a DuckDB file inside the flow-run pod."""
    monkeypatch.delenv("ETL_LOCAL_MODE", raising=False)
    monkeypatch.delenv("WAREHOUSE_URL", raising=False)
    monkeypatch.setenv("ETL_ALERT_FILE", str(tmp_path / "alerts.jsonl"))
    state = flights_daily(date=DAY, refresh=True, return_state=True)
    assert state.is_failed()
    error = str(state.result(raise_on_failure=False))
    assert "no warehouse configured: set WAREHOUSE_URL" in error
    assert not list(tmp_path.rglob("*.duckdb"))

"""The asset-scheduled report DAG runs after the daily DAG publishes, through Airflow."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from etl_airflow.assets import CARRIER_DAILY, FLIGHTS


@pytest.fixture
def duckdb_env(landing_zone: Path, duckdb_warehouse: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("WAREHOUSE_URL", duckdb_warehouse)
    return duckdb_warehouse


def _unpause(dag_id: str) -> None:
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        session.query(DagModel).filter(DagModel.dag_id == dag_id).update({"is_paused": False})


def test_publish_emits_asset_events_and_queues_the_report(
    airflow_db: Path, duckdb_env: str
) -> None:
    from airflow.models.asset import AssetDagRunQueue, AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from etl_airflow.local import REPORT, run_partition

    assert run_partition("2013-01-01").ok  # registers both DAGs in the metadata DB
    _unpause(REPORT)
    result = run_partition("2013-02-08")
    assert result.ok, result.error

    with create_session() as session:
        events = (
            session.query(AssetModel.uri, AssetEvent.extra, AssetEvent.source_task_id)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .filter(AssetEvent.source_run_id == result.run_id)
            .all()
        )
        queued = {
            uri
            for (uri,) in session.query(AssetModel.uri)
            .join(AssetDagRunQueue, AssetDagRunQueue.asset_id == AssetModel.id)
            .filter(AssetDagRunQueue.target_dag_id == REPORT)
        }
    assert sorted((uri, extra["partition"], task) for uri, extra, task in events) == [
        (CARRIER_DAILY.uri, "2013-02-08", "publish.check"),
        (FLIGHTS.uri, "2013-02-08", "publish.check"),
    ]
    # what the scheduler reads to start carrier_report_monthly: both assets updated
    assert queued == {FLIGHTS.uri, CARRIER_DAILY.uri}


def test_report_dag_writes_the_month_after_daily_runs(
    airflow_db: Path,
    duckdb_env: str,
    landing_zone: Path,
    golden_carrier_daily: dict[str, list[dict[str, Any]]],
) -> None:
    from etl_airflow.local import run_partition, run_report
    from etl_airflow.report import report_path

    assert run_partition("2013-01-01").ok
    assert run_partition("2013-02-08").ok

    dr = run_report()  # no conf: the month of the latest carrier_daily asset event
    assert dr.state == "success"
    path = report_path("2013-02")
    assert path.parent.parent == landing_zone.parent / "data"  # under ETL_DATA_DIR
    with path.open() as fh:
        rows = list(csv.DictReader(fh))
    golden = golden_carrier_daily["2013-02-08"]
    assert [r["carrier"] for r in rows] == [g["carrier"] for g in golden]
    for row, expected in zip(rows, golden, strict=True):
        assert row["days"] == "1"
        for col in ("flights", "cancelled", "arrived", "on_time", "total_distance"):
            assert int(row[col]) == int(expected[col]), (row["carrier"], col)
    assert not report_path("2013-01").exists()

    dr = run_report("2013-01")  # by hand, with conf
    assert dr.state == "success"
    with report_path("2013-01").open() as fh:
        january = {r["carrier"]: int(r["flights"]) for r in csv.DictReader(fh)}
    assert january == {g["carrier"]: int(g["flights"]) for g in golden_carrier_daily["2013-01-01"]}

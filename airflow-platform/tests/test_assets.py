"""Partitioned runs: the daily DAG's asset events carry the day, Airflow maps them onto the
month, and its scheduler starts carrier_report_monthly once every day of the month is in.

The scheduler part is Airflow's own: `SchedulerJobRunner._create_dagruns_for_partitioned_asset_dags`
(what every scheduler loop calls first) over the session's real metadata DB, called once,
so no scheduler loop is started. The days before the last are loaded with the bare steps
and their asset events registered through Airflow's AssetManager (as an external producer
would through the REST API); the last day is a real DAG run of flights_daily.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from etl_airflow.assets import CARRIER_DAILY, FLIGHTS, PUBLISHED

from etl_shared.partitions import month_bounds
from etl_shared.runner import run_partitions
from etl_shared.testing.landing import GOLDEN_MONTH, land_month
from etl_shared.warehouse import open_warehouse

REPORT_TASK = "carrier_report"


@pytest.fixture
def duckdb_env(landing_zone: Path, duckdb_warehouse: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("WAREHOUSE_URL", duckdb_warehouse)
    return duckdb_warehouse


@pytest.fixture
def report_listening(airflow_db: Path) -> Iterator[None]:
    """carrier_report_monthly registered and unpaused (a paused DAG gets no asset partition
    runs queued), with no partition runs pending from earlier tests; paused again after."""
    from airflow.models.asset import AssetPartitionDagRun, PartitionedAssetKeyLog
    from airflow.models.dag import DagModel
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from etl_airflow.local import REPORT

    _register_dags()
    with create_session() as session:
        session.query(PartitionedAssetKeyLog).delete()
        session.query(AssetPartitionDagRun).delete()
        for dr in session.query(DagRun).filter(
            DagRun.dag_id == REPORT, DagRun.run_type == "asset_triggered"
        ):
            session.delete(dr)
        session.query(DagModel).filter(DagModel.dag_id == REPORT).update({"is_paused": False})
    yield
    with create_session() as session:
        session.query(DagModel).filter(DagModel.dag_id == REPORT).update({"is_paused": True})


def _register_dags() -> None:
    """Write both DAGs to the metadata DB, as the DAG processor (and dag.test) does."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db

    manager = DagBundlesManager()
    manager.sync_bundles_to_db()
    for bundle in manager.get_all_dag_bundles():
        bundle.initialize()
        bag = BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path, bundle_name=bundle.name)
        sync_bag_to_db(bag, bundle.name, bundle.version)


def _land_month(landing_zone: Path, golden_month_landing: Path) -> list[str]:
    return land_month(landing_zone, golden_month_landing)


def _publish_elsewhere(days: list[str]) -> None:
    """Asset events with these days' partition keys on both assets, registered through
    Airflow's AssetManager (what the REST API's POST /assets/events does)."""
    from airflow.assets.manager import AssetManager
    from airflow.models.asset import AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        for asset in PUBLISHED:
            model = session.query(AssetModel).filter(AssetModel.uri == asset.uri).one()
            for day in days:
                AssetManager.register_asset_change(
                    asset=model, extra={"partition": day}, partition_key=day, session=session
                )


def _scheduler_tick() -> list[Any]:
    """Airflow's scheduler step that turns satisfied asset partitions into DAG runs, once;
    returns the report's DAG runs it created."""
    from airflow.jobs.job import Job
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from etl_airflow.local import REPORT

    runner = SchedulerJobRunner(job=Job())
    with create_session() as session:
        created = runner._create_dagruns_for_partitioned_asset_dags(session=session)
        session.flush()
        runs = session.query(DagRun).filter(
            DagRun.dag_id == REPORT, DagRun.run_type == "asset_triggered"
        )
        result = [
            (dr.partition_key, dr.state, sorted(e.partition_key for e in dr.consumed_asset_events))
            for dr in runs
        ]
    assert (REPORT in created) == bool(result)
    return result


def _pending_partitions() -> dict[str, set[str]]:
    """The report's queued month partitions and the day keys received for each (what the
    UI's pending partitioned runs view shows)."""
    from airflow.models.asset import AssetPartitionDagRun, PartitionedAssetKeyLog
    from airflow.utils.session import create_session
    from etl_airflow.local import REPORT

    with create_session() as session:
        rows = (
            session.query(
                AssetPartitionDagRun.partition_key, PartitionedAssetKeyLog.source_partition_key
            )
            .join(
                PartitionedAssetKeyLog,
                PartitionedAssetKeyLog.asset_partition_dag_run_id == AssetPartitionDagRun.id,
            )
            .filter(
                AssetPartitionDagRun.target_dag_id == REPORT,
                AssetPartitionDagRun.created_dag_run_id.is_(None),
            )
            .all()
        )
    pending: dict[str, set[str]] = {}
    for month, day in rows:
        pending.setdefault(month, set()).add(day)
    return pending


def _month_rows(url: str, month: str) -> list[tuple[Any, ...]]:
    first, _after = month_bounds(month)
    with open_warehouse(url) as wh:
        return wh.query(
            "SELECT carrier, flights FROM carrier_monthly WHERE month = ? ORDER BY carrier", [first]
        )


def test_publish_emits_asset_events_with_the_partition_key(
    duckdb_env: str, report_listening: None
) -> None:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from etl_airflow.local import DAILY, run_partition

    result = run_partition("2013-02-08")
    assert result.ok, result.error

    with create_session() as session:
        dr = (
            session.query(DagRun)
            .filter(DagRun.dag_id == DAILY, DagRun.run_id == result.run_id)
            .one()
        )
        assert dr.partition_key == "2013-02-08"
        events = (
            session.query(
                AssetModel.uri,
                AssetEvent.partition_key,
                AssetEvent.extra,
                AssetEvent.source_task_id,
            )
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .filter(AssetEvent.source_run_id == result.run_id)
            .all()
        )
    assert sorted((uri, key, extra["partition"], task) for uri, key, extra, task in events) == [
        (CARRIER_DAILY.uri, "2013-02-08", "2013-02-08", "publish.check"),
        (FLIGHTS.uri, "2013-02-08", "2013-02-08", "publish.check"),
    ]
    # Airflow mapped the day onto the report's month partition, which waits for the rest
    assert _pending_partitions() == {"2013-02": {"2013-02-08"}}
    assert _scheduler_tick() == []


def test_report_runs_when_the_month_is_complete(
    duckdb_env: str,
    report_listening: None,
    landing_zone: Path,
    golden_month_landing: Path,
    golden_carrier_monthly: list[dict[str, Any]],
) -> None:
    from etl_airflow.local import run_partition, run_report

    days = _land_month(landing_zone, golden_month_landing)
    loaded = run_partitions(days[:-1], platform="bare", batch_size=31)
    assert all(r.ok for r in loaded), [r.error for r in loaded if not r.ok]
    _publish_elsewhere(days[:-1])
    assert _scheduler_tick() == []  # the month's last day is not in yet

    result = run_partition(days[-1])  # the 1st's 06:00 run publishes the last day
    assert result.ok, result.error
    (created,) = _scheduler_tick()
    month, state, consumed = created
    assert (month, state) == (GOLDEN_MONTH, "queued")
    assert consumed == sorted(days * len(PUBLISHED))  # every day of both assets
    assert _pending_partitions() == {}

    # the run of that partition writes the month (dag.test, with the same partition key)
    report = run_report(month)
    assert report.ok, report.error
    assert _month_rows(duckdb_env, GOLDEN_MONTH) == [
        (g["carrier"], g["flights"]) for g in golden_carrier_monthly
    ]


def test_report_waits_for_an_incomplete_month(
    duckdb_env: str,
    report_listening: None,
    landing_zone: Path,
    golden_month_landing: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from etl_airflow import local

    days = _land_month(landing_zone, golden_month_landing)
    _publish_elsewhere(days[:-2])  # the day before the last never arrives
    result = local.run_partition(days[-1])
    assert result.ok, result.error

    assert _scheduler_tick() == []  # no report run: Airflow waits for the missing day
    assert _pending_partitions() == {GOLDEN_MONTH: set(days) - {days[-2]}}

    # Run by hand anyway (`make report MONTH=`), the report fails at once, without
    # retries, names the missing days and writes nothing.
    assert local.main(["--month", GOLDEN_MONTH]) == 1
    out = capsys.readouterr().out
    assert f"month {GOLDEN_MONTH} is not complete" in out
    assert days[-2] in out
    report = local.run_report(GOLDEN_MONTH)
    assert (report.ok, report.state, report.tries) == (False, "failed", {REPORT_TASK: 1})
    assert _month_rows(duckdb_env, GOLDEN_MONTH) == []


@pytest.mark.parametrize("bad", ["2013-13", "2014-01", "x"])
def test_make_report_refuses_a_bad_month_before_airflow_starts(
    bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from etl_airflow import local

    assert local.main(["--month", bad]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: invalid month"), err
    assert "\n" not in err, err

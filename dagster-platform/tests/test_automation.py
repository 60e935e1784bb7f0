"""The schedule and the landing-file sensor ask for the right partitions; the monthly
report's automation condition requests a month once every day of it is loaded."""

import datetime as dt
import os
import zoneinfo
from pathlib import Path

import dagster as dg
import pytest
from dagster_platform.runs import run_partitions, run_report

from etl_shared.landing import flights_file
from etl_shared.partitions import month_bounds, month_days
from etl_shared.runner import run_partitions as bare_run
from etl_shared.testing.landing import GOLDEN_DAYS, GOLDEN_MONTH, land_month
from etl_shared.warehouse import open_warehouse

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
REPORT = dg.AssetKey("carrier_monthly")


@pytest.fixture
def test_instance():
    """A persistent (temporary SQLite) instance: sensor contexts refuse ephemeral ones."""
    with dg.instance_for_test() as inst:
        yield inst


def _tick(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None):
    sensor = defs.resolve_sensor_def("landing_file_sensor")
    with dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources=defs.resources,
        definitions=defs,
        sensor_name=sensor.name,
    ) as context:
        data = sensor.evaluate_tick(context)
    return [r.partition_key for r in data.run_requests], data.cursor


def test_sensor_requests_a_run_for_each_new_landing_file_and_none_for_old_ones(
    defs: dg.Definitions, test_instance: dg.DagsterInstance, landing_zone: Path
) -> None:
    # first tick: every landing file is new
    partitions, cursor = _tick(defs, test_instance, None)
    assert sorted(partitions) == sorted(GOLDEN_DAYS)
    assert cursor is not None

    # nothing new since: no run requests, same cursor
    partitions, again = _tick(defs, test_instance, cursor)
    assert (partitions, again) == ([], cursor)

    # a new day is delivered: exactly that partition
    new_day = "2013-03-10"
    source = flights_file(landing_zone, GOLDEN_DAYS[0])
    target = flights_file(landing_zone, new_day)
    target.parent.mkdir(parents=True)
    target.write_bytes(source.read_bytes())
    later = int(cursor) + 1_000_000_000
    os.utime(target, ns=(later, later))
    partitions, newer = _tick(defs, test_instance, cursor)
    assert partitions == [new_day]
    assert int(newer) == later

    # an old day redelivered (its file rewritten) runs again
    redelivered = flights_file(landing_zone, GOLDEN_DAYS[1])
    os.utime(redelivered, ns=(later + 1, later + 1))
    partitions, _ = _tick(defs, test_instance, newer)
    assert partitions == [GOLDEN_DAYS[1]]


def test_daily_schedule_runs_the_previous_day(defs: dg.Definitions) -> None:
    schedule = defs.resolve_schedule_def("flights_daily_schedule")
    context = dg.build_schedule_context(
        scheduled_execution_time=dt.datetime(2013, 3, 11, 6, 0, tzinfo=NEW_YORK),
        repository_def=defs.get_repository_def(),
    )
    (request,) = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == "2013-03-10"
    # a tick whose yesterday is outside the data requests nothing
    late = dg.build_schedule_context(
        scheduled_execution_time=dt.datetime(2014, 1, 2, 6, 0, tzinfo=NEW_YORK),
        repository_def=defs.get_repository_def(),
    )
    result = schedule.evaluate_tick(late)
    assert not result.run_requests
    assert "outside the data" in (result.skip_message or "")


# --- the monthly carrier report: declarative automation ---------------------------------------
def _prepare_month(landing_zone: Path, golden_month_landing: Path) -> list[str]:
    """GOLDEN_MONTH's landing files in the test's landing zone; return its days."""
    return land_month(landing_zone, golden_month_landing)


def _published_elsewhere(instance: dg.DagsterInstance, days: list[str]) -> None:
    """Days loaded outside Dagster (the bare steps), recorded in the instance the documented
    way for data Dagster did not write: runless materializations of carrier_daily."""
    for day in days:
        instance.report_runless_asset_event(dg.AssetMaterialization("carrier_daily", partition=day))


def _requested_months(result) -> set[str]:
    return set(result.get_requested_partitions(REPORT))


def test_report_runs_when_the_month_is_complete(
    defs: dg.Definitions,
    test_instance: dg.DagsterInstance,
    landing_zone: Path,
    golden_month_landing: Path,
    duckdb_warehouse: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The month's last day materialized through Dagster completes the month: the next
    evaluation of the automation condition requests that month's report, which writes
    carrier_monthly; once handled, it is not requested again."""
    monkeypatch.setenv("WAREHOUSE_URL", duckdb_warehouse)
    days = _prepare_month(landing_zone, golden_month_landing)
    loaded = bare_run(days[:-1], platform="bare", batch_size=31)
    assert all(r.ok for r in loaded), [r.error for r in loaded if not r.ok]
    _published_elsewhere(test_instance, days[:-1])

    result = dg.evaluate_automation_conditions(defs=defs, instance=test_instance)
    assert _requested_months(result) == set()  # a day is still missing

    (run,) = run_partitions([days[-1]], instance=test_instance, defs=defs)  # the last day
    assert run.ok, run.error
    result = dg.evaluate_automation_conditions(
        defs=defs, instance=test_instance, cursor=result.cursor
    )
    assert _requested_months(result) == {GOLDEN_MONTH}
    assert result.total_requested == 1  # only the report, no daily partition

    # What the sensor launches: the requested partition of carrier_monthly.
    report = run_report(GOLDEN_MONTH, instance=test_instance, defs=defs)
    assert report.ok, report.error
    with open_warehouse(duckdb_warehouse) as wh:
        ((carriers, flights),) = wh.query(
            "SELECT count(*), sum(flights) FROM carrier_monthly WHERE month = ?",
            [month_bounds(GOLDEN_MONTH)[0]],
        )
    assert (carriers, flights) == (report.metadata["carriers"], report.metadata["flights"])
    assert carriers > 0
    assert report.metadata["days"] == len(days)  # load_input: every day of the month

    result = dg.evaluate_automation_conditions(
        defs=defs, instance=test_instance, cursor=result.cursor
    )
    assert _requested_months(result) == set()  # handled


def test_report_waits_for_an_incomplete_month(
    defs: dg.Definitions, test_instance: dg.DagsterInstance
) -> None:
    """The month's last day arrives but the day before it never did: no evaluation
    requests the report, before or after the last day, however often it is evaluated."""
    days = month_days(GOLDEN_MONTH)
    _published_elsewhere(test_instance, days[:-2])
    result = dg.evaluate_automation_conditions(defs=defs, instance=test_instance)
    assert _requested_months(result) == set()

    _published_elsewhere(test_instance, days[-1:])  # the last day arrives
    for _ in range(2):
        result = dg.evaluate_automation_conditions(
            defs=defs, instance=test_instance, cursor=result.cursor
        )
        assert result.total_requested == 0, _requested_months(result)

    _published_elsewhere(test_instance, days[-2:-1])  # the missing day: now it runs
    result = dg.evaluate_automation_conditions(
        defs=defs, instance=test_instance, cursor=result.cursor
    )
    assert _requested_months(result) == {GOLDEN_MONTH}

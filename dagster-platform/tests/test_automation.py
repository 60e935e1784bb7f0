"""The schedule and the landing-file sensor ask for the right partitions."""

import datetime as dt
import os
import zoneinfo
from pathlib import Path

import dagster as dg
import pytest

from etl_shared.landing import flights_file
from etl_shared.testing.landing import GOLDEN_DAYS

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


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

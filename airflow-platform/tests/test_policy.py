"""Airflow's configuration equals etl-shared's policy (the same tests run on every platform).

Schedule, retries, "yesterday" and the warehouse Secret are declared once in
`etl_shared.policy`; these tests read them back from the objects Airflow itself uses:
the parsed DAGs' timetables (as the scheduler deserializes them) and task defaults, and
the Helm values.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from etl_shared import policy
from etl_shared.errors import InvalidPartitionError
from etl_shared.partitions import FIRST_PARTITION, LAST_PARTITION

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def daily_dag():  # type: ignore[no-untyped-def]
    from etl_airflow.local import DAILY, get_dag

    return get_dag(DAILY)


def test_schedule_matches_shared_policy(daily_dag) -> None:  # type: ignore[no-untyped-def]
    from airflow.sdk import CronPartitionTimetable
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import TimeRestriction
    from etl_airflow.assets import DAY_KEY_FORMAT
    from etl_airflow.local import scheduled_run_time

    timetable = daily_dag.timetable
    assert isinstance(timetable, CronPartitionTimetable)
    assert timetable.expression == policy.DAILY.cron
    assert str(getattr(timetable.timezone, "name", timetable.timezone)) == policy.DAILY.timezone
    assert (timetable.run_offset, timetable.key_format) == (-1, DAY_KEY_FORMAT)
    # What the scheduler makes of it: the first catch-up run, at 06:00 New York time on
    # the day after the first day of the data, has that day as its partition key (the
    # shared "yesterday"); the last run loads the last day.
    scheduler = coerce_to_core_timetable(timetable)
    first = scheduler.next_dagrun_info_v2(
        last_dagrun_info=None,
        restriction=TimeRestriction(daily_dag.start_date, daily_dag.end_date, catchup=True),
    )
    assert first is not None
    assert first.run_after == scheduled_run_time(FIRST_PARTITION.isoformat())
    assert first.run_after.astimezone(policy.DAILY.tzinfo).hour == 6
    assert first.partition_key == FIRST_PARTITION.isoformat()
    assert policy.yesterday_partition(first.run_after) == first.partition_key
    # ... and so on around the daylight-saving changes of 2013
    info = first
    while info is not None and info.partition_key < "2013-03-12":
        info = scheduler.next_dagrun_info_v2(
            last_dagrun_info=info,
            restriction=TimeRestriction(daily_dag.start_date, daily_dag.end_date, catchup=True),
        )
        assert info is not None
        assert info.partition_key == policy.yesterday_partition(info.run_after)
    last = scheduled_run_time(LAST_PARTITION.isoformat())
    assert last <= daily_dag.end_date < last + dt.timedelta(days=1)


def test_report_schedule_matches_shared_policy() -> None:
    """The report is event-driven: Airflow maps each day's partition key onto its month
    (etl_shared's month key) and waits for every day of it; the run that publishes a
    month's last day comes before the shared MONTHLY_REPORT tick of that month."""
    from airflow.sdk import PartitionedAssetTimetable
    from airflow.serialization.encoders import coerce_to_core_timetable
    from etl_airflow.assets import CARRIER_DAILY, FLIGHTS
    from etl_airflow.local import REPORT, get_dag, report_run_time, scheduled_run_time

    from etl_shared.partitions import month_days, month_key

    report = get_dag(REPORT)
    assert isinstance(report.timetable, PartitionedAssetTimetable)
    assert {a.uri for a in report.timetable.asset_condition.objects} == {
        FLIGHTS.uri,
        CARRIER_DAILY.uri,
    }
    scheduler = coerce_to_core_timetable(report.timetable)
    assert scheduler.partitioned
    for asset in (FLIGHTS, CARRIER_DAILY):
        mapper = scheduler.get_partition_mapper(name=asset.name, uri=asset.uri)
        assert type(mapper.wait_policy).__name__ == "WaitForAll"
        for month in ("2013-01", "2013-02", "2013-03", "2013-11", "2013-12"):
            days = month_days(month)
            assert {mapper.to_downstream(day) for day in days} == {month_key(days[0])} == {month}
            assert mapper.to_upstream(month) == frozenset(days)
            last_run = scheduled_run_time(days[-1])
            tick = report_run_time(month)
            assert last_run < tick <= last_run + dt.timedelta(hours=1)
            assert policy.previous_month(tick) == month
            assert (tick.minute, tick.hour, tick.day) == (0, 7, 1)
            assert str(tick.tzinfo) == policy.MONTHLY_REPORT.timezone


def test_retry_policy_matches_shared_policy(daily_dag) -> None:  # type: ignore[no-untyped-def]
    retry = policy.retry_policy()  # the session sets ETL_RETRY_DELAY_SECONDS=1
    for task in daily_dag.tasks:
        assert task.retries == retry.attempts - 1, task.task_id
        assert task.retry_delay == dt.timedelta(seconds=retry.first_delay_seconds)
        assert task.retry_exponential_backoff == retry.backoff_factor
        assert task.max_retry_delay == dt.timedelta(seconds=retry.max_delay_seconds)
        assert task.retry_policy is not None


def test_yesterday_partition_matches_shared_policy() -> None:
    from etl_airflow.runs import partition_of

    def context(
        logical: dt.datetime | None, conf: dict | None = None, key: str | None = None
    ) -> dict:
        return {"dag_run": SimpleNamespace(conf=conf, logical_date=logical, partition_key=key)}

    # 02:00 UTC on Jan 6 is still Jan 5 in New York: yesterday is Jan 4 there.
    late = dt.datetime(2013, 1, 6, 2, 0, tzinfo=dt.UTC)
    assert partition_of(context(late)) == policy.yesterday_partition(late) == "2013-01-04"
    scheduled = dt.datetime(2013, 1, 6, 11, 0, tzinfo=dt.UTC)  # 06:00 New York
    assert partition_of(context(scheduled)) == "2013-01-05"
    assert partition_of(context(scheduled, {"partition": "2013-03-01"})) == "2013-03-01"
    # A scheduled partitioned run has no logical date: its partition key is the day.
    assert partition_of(context(None, key="2013-01-05")) == "2013-01-05"
    assert (
        partition_of(context(scheduled, {"partition": "2013-01-05"}, "2013-01-05")) == "2013-01-05"
    )
    with pytest.raises(InvalidPartitionError, match="disagree"):
        partition_of(context(None, {"partition": "2013-03-01"}, "2013-01-05"))
    with pytest.raises(InvalidPartitionError, match="outside the data"):
        partition_of(context(None, key="2014-01-01"))


def test_warehouse_secret_matches_shared_policy() -> None:
    values = yaml.safe_load((ROOT / "deploy" / "values.yaml").read_text())
    (secret,) = [s for s in values["secret"] if s["envName"] == "AIRFLOW_CONN_ETL_WAREHOUSE"]
    assert (secret["secretName"], secret["secretKey"]) == (
        policy.WAREHOUSE_SECRET,
        policy.WAREHOUSE_SECRET_KEY,
    )
    # the task pods (podTemplate) read the same connection from the same Secret
    (container,) = yaml.safe_load(values["podTemplate"])["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env[secret["envName"]]["valueFrom"]["secretKeyRef"] == {
        "name": policy.WAREHOUSE_SECRET,
        "key": policy.WAREHOUSE_SECRET_KEY,
    }
    header = (ROOT / "deploy" / "values.yaml").read_text().split("\n\n")[0]
    assert (
        f"create secret generic {policy.WAREHOUSE_SECRET} \\\n"
        f"#     --from-literal={policy.WAREHOUSE_SECRET_KEY}="
    ) in header


def test_run_id_and_staging_follow_shared_policy(tmp_path: Path) -> None:
    from etl_airflow.runs import PLATFORM, pipeline_run_id

    dag_run = SimpleNamespace(run_id="scheduled__2013-01-06T11:00:00+00:00", clear_number=0)
    run_id = pipeline_run_id({"dag_run": dag_run})
    assert run_id == policy.run_id_for(PLATFORM, dag_run.run_id)
    dag_run.clear_number = 2
    assert pipeline_run_id({"dag_run": dag_run}) == f"{run_id}-r2"

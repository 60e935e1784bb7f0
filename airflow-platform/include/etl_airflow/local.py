"""Run partitions through Airflow on this machine: `dag.test()` per partition, in one process.

`make run`, `make backfill` and `make report` use this, and so does the test suite: each
partition is a real DAG run in the metadata DB carrying its partition key (the day, or the
month for the report), its tasks run by Airflow's task runner (retries, retry policy,
callbacks, XCom, asset events with the partition key), without a scheduler or worker to
start. The first run of a process pays for Airflow's in-process API server (~7 s); later
ones are fast.

    python -m etl_airflow.local 2013-01-05 [2013-01-06 ...]
    python -m etl_airflow.local --start 2013-01-01 --end 2013-01-07
    python -m etl_airflow.local --month 2013-02
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from etl_shared.config import Settings, check_warehouse_url
from etl_shared.errors import EXIT_BAD_ARGS, EtlError, InvalidPartitionError, one_line
from etl_shared.partitions import date_range, month_bounds, month_key, partition_key
from etl_shared.policy import DAILY as DAILY_SCHEDULE
from etl_shared.policy import MONTHLY_REPORT

DAILY = "flights_daily"
REPORT = "carrier_report_monthly"


@dataclass
class DagRunResult:
    partition: str  # the day (flights_daily) or the month (carrier_report_monthly)
    ok: bool
    run_id: str
    state: str
    error: str | None
    seconds: float
    tries: dict[str, int]


def dags_folder() -> Path:
    from airflow.configuration import conf

    return Path(conf.get("core", "dags_folder"))


_DAGS: dict[str, Any] = {}


def get_dag(dag_id: str) -> Any:
    """The DAG object parsed from the dags folder (once per process)."""
    if dag_id not in _DAGS:
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=str(dags_folder()))
        if bag.import_errors:
            raise RuntimeError(f"DAG import errors: {bag.import_errors}")
        _DAGS.update(bag.dags)
    return _DAGS[dag_id]


@contextmanager
def warehouse_connection() -> Iterator[str]:
    """Route the warehouse through the Airflow connection `etl_warehouse`, as a deployment does.

    WAREHOUSE_URL (or the local DuckDB default) becomes AIRFLOW_CONN_ETL_WAREHOUSE for the
    run, and WAREHOUSE_URL is hidden meanwhile, so the tasks can only find the warehouse
    through the provider's WarehouseHook. An AIRFLOW_CONN_ETL_WAREHOUSE already set wins.
    """
    saved = {k: os.environ.get(k) for k in ("WAREHOUSE_URL", "AIRFLOW_CONN_ETL_WAREHOUSE")}
    url = saved["AIRFLOW_CONN_ETL_WAREHOUSE"] or local_warehouse_url()
    os.environ["AIRFLOW_CONN_ETL_WAREHOUSE"] = url
    os.environ.pop("WAREHOUSE_URL", None)
    try:
        yield url
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def partition_key_of_test_run(key: str) -> Iterator[None]:
    """Give the DAG run `dag.test()` creates the partition key `key`.

    `dag.test()` (and `airflow dags test`) in Airflow 3.3 take no partition key, unlike a
    scheduled run, a backfill or a trigger from the UI or the REST API. This sets the key
    (and the partition date the DAG's timetable derives from it, as a trigger does) on
    the run right after dag.test() creates it, before any task starts, so the tasks and
    the asset events they emit see a partitioned run.
    """
    from airflow.models import dagrun

    create = dagrun.get_or_create_dagrun

    def create_with_key(**kwargs: Any) -> Any:
        dr = create(**kwargs)
        dr.partition_key = key
        dr.partition_date = kwargs["dag"].timetable.resolve_partition_date(key)
        kwargs["session"].commit()
        return dr

    dagrun.get_or_create_dagrun = create_with_key
    try:
        yield
    finally:
        dagrun.get_or_create_dagrun = create


def local_warehouse_url() -> str:
    """WAREHOUSE_URL (or the local-mode default), checked: ConfigError when unsupported."""
    return check_warehouse_url(Settings.from_env().warehouse_url)


def run_partition(partition: str) -> DagRunResult:
    """One DAG run of flights_daily for `partition`; never raises for a failed run.

    A day outside the data is refused before any DAG run (a failed result): a DAG run in
    which no task ran is never reported as a success.
    """
    try:
        day = partition_key(partition)
    except InvalidPartitionError as exc:
        return DagRunResult(str(partition), False, "", "refused", str(exc), 0.0, {})
    dag = get_dag(DAILY)
    logical = scheduled_run_time(day)
    started = time.perf_counter()
    with warehouse_connection() as url, partition_key_of_test_run(day):
        dr = dag.test(logical_date=logical)
        state = str(getattr(dr.state, "value", dr.state))
        tries = {ti.task_id: ti.try_number for ti in dr.get_task_instances()}
        ran = {ti.task_id for ti in dr.get_task_instances() if ti.state == "success"}
        ok = state == "success" and ran == set(dag.task_ids)
        if state == "success" and not ok:
            state = "incomplete"
            error: str | None = (
                f"partition {day}: DAG run {dr.run_id} ended with tasks that never ran: "
                f"{sorted(set(dag.task_ids) - ran)}"
            )
        else:
            error = None if ok else _failure_reason(dr, day, url)
    return DagRunResult(day, ok, dr.run_id, state, error, time.perf_counter() - started, tries)


def scheduled_run_time(partition: str) -> dt.datetime:
    """The logical date of the scheduled run that loads `partition`: the first time the
    shared daily schedule fires after that day ends in the pipeline's time zone (06:00
    New York on the next day), so a local run and a catch-up run are the same DAG run."""
    from croniter import croniter

    day_after = dt.date.fromisoformat(partition) + dt.timedelta(days=1)
    midnight = dt.datetime.combine(day_after, dt.time(), DAILY_SCHEDULE.tzinfo)
    return croniter(DAILY_SCHEDULE.cron, midnight - dt.timedelta(seconds=1)).get_next(dt.datetime)


def report_run_time(month: str) -> dt.datetime:
    """The logical date of a local run of carrier_report_monthly for `month`: the tick of
    the shared monthly report schedule after the month ends (07:00 New York on the 1st),
    so a rerun of the same month replaces its earlier local run."""
    from croniter import croniter

    _first, after = month_bounds(month)
    midnight = dt.datetime.combine(after, dt.time(), MONTHLY_REPORT.tzinfo)
    return croniter(MONTHLY_REPORT.cron, midnight - dt.timedelta(seconds=1)).get_next(dt.datetime)


def run_report(month: str) -> DagRunResult:
    """One DAG run of carrier_report_monthly with the partition key `month`; never raises
    for a failed run (a bad month is refused before any run)."""
    try:
        key = month_key(month)
    except InvalidPartitionError as exc:
        return DagRunResult(str(month), False, "", "refused", str(exc), 0.0, {})
    dag = get_dag(REPORT)
    started = time.perf_counter()
    with warehouse_connection(), partition_key_of_test_run(key):
        dr = dag.test(logical_date=report_run_time(key))
        state = str(getattr(dr.state, "value", dr.state))
        tis = dr.get_task_instances()
        tries = {ti.task_id: ti.try_number for ti in tis}
        ok = state == "success" and {ti.task_id for ti in tis if ti.state == "success"} == set(
            dag.task_ids
        )
        error = None if ok else _report_failure_reason(dr, key)
    return DagRunResult(key, ok, dr.run_id, state, error, time.perf_counter() - started, tries)


def _report_failure_reason(dr: Any, month: str) -> str:
    """Why the report run failed: the error its task raised (the `error` XCom its
    failure callback leaves), else the failed tasks."""
    failed = [ti for ti in dr.get_task_instances() if ti.state == "failed"]
    for ti in failed:
        error = ti.xcom_pull(task_ids=ti.task_id, key="error")
        if error:
            return f"{error} (failed task: {ti.task_id})"
    names = ", ".join(ti.task_id for ti in failed) or "?"
    return f"month {month}: DAG run {dr.run_id} failed (failed task: {names})"


def _failure_reason(dr: Any, day: str, url: str) -> str:
    """The error the failed run recorded in pipeline_runs (Airflow keeps it in the logs only)."""
    from etl_airflow.runs import PLATFORM
    from etl_shared import policy
    from etl_shared.warehouse import open_warehouse

    run_id = policy.run_id_for(PLATFORM, dr.run_id)
    try:
        with open_warehouse(url) as wh:
            rows = wh.query(
                "SELECT error FROM pipeline_runs WHERE run_id LIKE ? ORDER BY finished_at DESC",
                [run_id + "%"],  # a cleared and rerun DAG run appends -r<clear number>
            )
    except Exception as exc:  # the warehouse itself may be what failed
        return f"partition {day}: DAG run {dr.run_id} failed ({exc})"
    failed = [ti.task_id for ti in dr.get_task_instances() if ti.state == "failed"]
    detail = rows[0][0] if rows and rows[0][0] else "no pipeline_runs row"
    return f"{detail} (failed task: {', '.join(failed) or '?'})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("partitions", nargs="*", help="flight dates YYYY-MM-DD")
    parser.add_argument("--start")
    parser.add_argument("--end")
    parser.add_argument("--month", help="run carrier_report_monthly for this month, YYYY-MM")
    args = parser.parse_args(argv)
    # Bad arguments and settings are refused before Airflow starts: one line, exit 2.
    try:
        days = [partition_key(day) for day in args.partitions]
        if args.start:
            days += date_range(args.start, args.end or args.start)
        month = month_key(args.month) if args.month is not None else None
        if not days and month is None:
            parser.error("give partitions, --start/--end or --month")
        if not os.environ.get("AIRFLOW_CONN_ETL_WAREHOUSE"):
            local_warehouse_url()
    except EtlError as exc:
        print(one_line(exc), file=sys.stderr)
        return EXIT_BAD_ARGS
    results = [run_partition(day) for day in days]
    if month is not None and all(r.ok for r in results):
        results.append(run_report(month))
    print(f"\n{'partition':<12} {'state':<8} {'seconds':>8}  dag run")
    for r in results:
        print(f"{r.partition:<12} {r.state:<8} {r.seconds:8.2f}  {r.run_id}")
        if r.error:
            print(f"{'':<12} error: {r.error}")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

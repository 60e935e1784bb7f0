"""The monthly carrier report: `carrier_monthly`, one partition per month of the data.

    carrier_daily (daily) --TimeWindowPartitionMapping--> carrier_monthly (monthly)

The report's input is every day of its month of `carrier_daily`, read through the
WarehouseIOManager's `load_input` (a summary of the days the warehouse holds, never rows);
the asset then writes the month with `etl_shared.report.write_carrier_report`, which
refuses a month with a day missing (naming the days) and leaves `carrier_monthly` as it
was. Rows go straight from `carrier_daily` to `carrier_monthly` inside the warehouse.

What starts it is declarative automation, evaluated by the automation condition sensor
(`defs/sensors.py`):

* `~any_deps_missing()`: every day of the month is materialized (Dagster's view;
  `TimeWindowPartitionMapping` makes the month's days its dependencies), and
* `any_deps_updated()` (or the month newly missing) since the month was last handled:
  the tick after the month's last day lands, or after any of its days is loaded again,
  requests that month once; not while a day or the report itself is in progress.

That is `AutomationCondition.eager()` without `in_latest_time_window()`: eager's default
only ever looks at the latest month (December 2013 for these dates), while a day of any
month can complete it. Not `on_cron` with the policy's MONTHLY_REPORT cron: on_cron waits
for every day to be updated *after* the tick, so a month loaded before the 1st would wait
a month, and it too only looks at the latest window. `make report MONTH=` (and the
contract suite) materialize a month directly, whatever Dagster's event log holds.
"""

from typing import Any

import dagster as dg

from dagster_platform.defs.partitions import monthly_partitions
from dagster_platform.resources import EtlResource
from dagster_platform.retries import fail_fast_unless_retryable
from etl_shared.report import REPORT_TABLE, write_carrier_report

GROUP = "carrier_report_monthly"

# Eager on every month, not only the latest one (Dagster's documented customization).
MONTH_COMPLETE = (
    dg.AutomationCondition.eager()
    .without(dg.AutomationCondition.in_latest_time_window())
    .with_label("every day of the month loaded")
)


@dg.asset(
    name=REPORT_TABLE,
    group_name=GROUP,
    partitions_def=monthly_partitions,
    ins={
        "carrier_daily": dg.AssetIn(
            partition_mapping=dg.TimeWindowPartitionMapping(),
            input_manager_key="warehouse_io_manager",
        )
    },
    automation_condition=MONTH_COMPLETE,
    kinds={"table"},
    description="Flights, cancellations, on-time rate and distance per carrier and month, "
    "written once every day of the month is loaded.",
)
def carrier_monthly(
    context: dg.AssetExecutionContext, etl: EtlResource, carrier_daily: dict[str, Any]
) -> dg.MaterializeResult:
    with fail_fast_unless_retryable(), etl.warehouse() as wh:
        result = write_carrier_report(wh, context.partition_key)
    return dg.MaterializeResult(
        metadata={
            "month": result.month,
            "carriers": dg.MetadataValue.int(result.carriers),
            "flights": dg.MetadataValue.int(result.flights),
            "days": dg.MetadataValue.int(len(carrier_daily["loaded"])),
            "carrier_daily_rows": dg.MetadataValue.int(carrier_daily["rows"]),
        }
    )

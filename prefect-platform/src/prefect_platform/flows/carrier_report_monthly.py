"""The `carrier_report_monthly` flow: a month's carrier report, once every day is loaded."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from prefect_platform import tasks
from prefect_platform.params import PartitionMonth


@flow(name="carrier_report_monthly", flow_run_name="carrier_report_monthly-{month}")
def carrier_report_monthly(month: PartitionMonth) -> dict[str, Any]:
    """Write `month`'s rows of `carrier_monthly` (one per carrier) from `carrier_daily`.

    Started by the deployment trigger on `etl.partition.published` events whose month is
    complete (`prefect_platform.events.REPORT_TRIGGER`), or by hand (`make report
    MONTH=2013-02`, `prefect deployment run carrier_report_monthly/carrier-report-monthly
    -p month=2013-02`). `month` is a `YYYY-MM` of the data: Prefect refuses anything else
    when it validates the parameters. A month with a day not loaded fails naming the
    missing days, and `carrier_monthly` keeps what it held; writing a month again
    replaces its rows (idempotent).
    """
    result = tasks.carrier_report(month)
    get_run_logger().info(
        "carrier report %s: %d carriers, %d flights",
        result["month"], result["carriers"], result["flights"],
    )  # fmt: skip
    return result

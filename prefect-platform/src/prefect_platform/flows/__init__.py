"""One module per flow: `flights_daily` (one partition), `backfill` (a range) and
`carrier_report_monthly` (a month's report)."""

from prefect_platform.flows.backfill import backfill
from prefect_platform.flows.carrier_report_monthly import carrier_report_monthly
from prefect_platform.flows.flights_daily import flights_daily

__all__ = ["backfill", "carrier_report_monthly", "flights_daily"]

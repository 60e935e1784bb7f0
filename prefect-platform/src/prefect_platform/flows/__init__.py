"""One module per flow: `flights_daily` (one partition) and `backfill` (a range)."""

from prefect_platform.flows.backfill import backfill
from prefect_platform.flows.flights_daily import flights_daily

__all__ = ["backfill", "flights_daily"]

"""Serve the flows from this process (local use, no work pool): `python -m prefect_platform.serve`.

`flights_daily` runs on etl-shared's daily schedule (06:00 America/New_York) for the
previous day; `carrier_report_monthly` runs when a published day completes its month
(the deployment trigger `events.REPORT_TRIGGER`); `backfill` runs on
demand (`prefect deployment run backfill/backfill-local -p start=... -p end=...`).
Point PREFECT_API_URL at a server (`make ui`) to see and trigger the runs in the UI.
"""

from __future__ import annotations

from prefect import serve
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron

from etl_shared import policy
from prefect_platform.events import REPORT_TRIGGER
from prefect_platform.flows import backfill, carrier_report_monthly, flights_daily


def deployments() -> list[RunnerDeployment]:
    return [
        flights_daily.to_deployment(
            name="flights-daily-local",
            schedules=[Cron(policy.DAILY.cron, timezone=policy.DAILY.timezone)],
            tags=["nycflights13", "local"],
        ),
        backfill.to_deployment(name="backfill-local", tags=["nycflights13", "local"]),
        carrier_report_monthly.to_deployment(
            name="carrier-report-monthly-local",
            triggers=[REPORT_TRIGGER],
            tags=["nycflights13", "local"],
        ),
    ]


def main() -> None:
    serve(*deployments())


if __name__ == "__main__":
    main()

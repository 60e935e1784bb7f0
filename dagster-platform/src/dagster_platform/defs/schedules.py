"""A daily run of yesterday's partition (the partition that closed most recently)."""

import dagster as dg

from dagster_platform.defs.jobs import flights_daily

flights_daily_schedule = dg.build_schedule_from_partitioned_job(
    flights_daily,
    hour_of_day=6,
    minute_of_hour=0,
    description="Each morning at 06:00, materialize the previous day's partition.",
)

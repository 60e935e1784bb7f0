"""A daily run of yesterday's partition, on etl-shared's daily schedule.

The cron and its time zone are `etl_shared.policy.DAILY` (06:00 America/New_York), and
the partition is `etl_shared.policy.yesterday_partition` of the tick: the run at 06:00 on
2013-01-06 New York time materializes 2013-01-05. A tick whose yesterday is outside the
data requests nothing and says why.
"""

import dagster as dg

from dagster_platform.defs.jobs import flights_daily
from dagster_platform.defs.partitions import daily_partitions
from etl_shared import policy


@dg.schedule(
    name="flights_daily_schedule",
    job=flights_daily,
    cron_schedule=policy.DAILY.cron,
    execution_timezone=policy.DAILY.timezone,
    description=f"{policy.DAILY.description} ({policy.DAILY.cron}, {policy.DAILY.timezone}).",
)
def flights_daily_schedule(context: dg.ScheduleEvaluationContext):
    partition = policy.yesterday_partition(context.scheduled_execution_time)
    if not daily_partitions.has_partition_key(partition):
        return dg.SkipReason(f"yesterday ({partition}) is outside the data")
    return dg.RunRequest(run_key=partition, partition_key=partition)

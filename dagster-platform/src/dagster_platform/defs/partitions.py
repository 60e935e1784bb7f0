"""The partitions: one flight date of the data (2013) for the daily pipeline, and one
calendar month of it for the monthly carrier report.

Both are New York time (`etl_shared.policy.TIMEZONE`, the time zone of the schedules and
of "yesterday"), so a day's window lies inside its month's window and the report's
`TimeWindowPartitionMapping` maps a month to exactly its days.
"""

import dagster as dg

from etl_shared import policy
from etl_shared.partitions import FIRST_PARTITION, LAST_PARTITION, month_bounds

# The same days etl-shared accepts; end_date is exclusive: the last partition is LAST_PARTITION.
daily_partitions = dg.DailyPartitionsDefinition(
    start_date=FIRST_PARTITION.isoformat(),
    end_date=month_bounds(LAST_PARTITION)[1].isoformat(),
    timezone=policy.TIMEZONE,
)

# Keyed YYYY-MM like etl_shared.partitions.month_key; end_date is exclusive.
monthly_partitions = dg.MonthlyPartitionsDefinition(
    start_date=f"{FIRST_PARTITION:%Y-%m}",
    end_date=f"{month_bounds(LAST_PARTITION)[1]:%Y-%m}",
    fmt="%Y-%m",
    timezone=policy.TIMEZONE,
)

"""One partition = one flight date of the data (2013), for every asset and check."""

import datetime as dt

import dagster as dg

from etl_shared.partitions import FIRST_PARTITION, LAST_PARTITION

# The same days etl-shared accepts; end_date is exclusive: the last partition is LAST_PARTITION.
daily_partitions = dg.DailyPartitionsDefinition(
    start_date=FIRST_PARTITION.isoformat(),
    end_date=(LAST_PARTITION + dt.timedelta(days=1)).isoformat(),
)

"""One partition = one flight date of 2013, for every asset and check."""

import dagster as dg

# end_date is exclusive: the last partition is 2013-12-31.
daily_partitions = dg.DailyPartitionsDefinition(start_date="2013-01-01", end_date="2014-01-01")

"""Assets and partitions: what `flights_daily` publishes and `carrier_report_monthly` waits for.

A run of `flights_daily` carries the flight date as its partition key (`YYYY-MM-DD`, a
date of New York, `etl_shared.policy.DAILY`), and `publish.check` emits one event per
asset with that key. `carrier_report_monthly` maps each day key onto its month key
(`YYYY-MM`, `etl_shared.partitions.month_key`) and runs once every day of the month has an
event on both assets (Airflow's `RollupMapper` over a `MonthWindow`, waiting for all).
"""

from __future__ import annotations

from airflow.sdk import Asset, MonthWindow, RollupMapper, StartOfMonthMapper, WaitForAll

from etl_shared.policy import DAILY

FLIGHTS = Asset("warehouse://flights", group="warehouse")
CARRIER_DAILY = Asset("warehouse://carrier_daily", group="warehouse")
PUBLISHED = [FLIGHTS, CARRIER_DAILY]

# The partition keys: a flight date and a month, as etl-shared writes them.
DAY_KEY_FORMAT = "%Y-%m-%d"
MONTH_KEY_FORMAT = "%Y-%m"

# Day -> month: `2013-02-28` belongs to `2013-02`, which needs every day of February.
DAY_TO_MONTH = RollupMapper(
    upstream_mapper=StartOfMonthMapper(
        timezone=DAILY.timezone, input_format=DAY_KEY_FORMAT, output_format=MONTH_KEY_FORMAT
    ),
    window=MonthWindow(),
    wait_policy=WaitForAll(),
)

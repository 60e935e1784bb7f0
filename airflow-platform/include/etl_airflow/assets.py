"""Assets: what `flights_daily` publishes and `carrier_report_monthly` is scheduled on."""

from __future__ import annotations

from airflow.sdk import Asset

FLIGHTS = Asset("warehouse://flights", group="warehouse")
CARRIER_DAILY = Asset("warehouse://carrier_daily", group="warehouse")
PUBLISHED = [FLIGHTS, CARRIER_DAILY]

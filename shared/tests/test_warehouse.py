"""Warehouse behaviour on both backends: atomic replace, concurrent loads, same results."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from etl_shared import steps
from etl_shared.config import Settings
from etl_shared.errors import CheckFailedError
from etl_shared.testing.landing import GOLDEN_DAYS, read_lines
from etl_shared.warehouse import open_warehouse

DAY = GOLDEN_DAYS[0]


@pytest.fixture(params=["duckdb", "postgres"])
def settings(
    request: pytest.FixtureRequest, landing_zone: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    monkeypatch.setenv("WAREHOUSE_URL", request.getfixturevalue(f"{request.param}_warehouse"))
    return Settings.from_env()


def test_two_runs_of_one_partition_at_once_never_double_load(
    settings: Settings, landing_zone: Path
) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        try:
            barrier.wait()
            steps.run_partition(DAY, settings=settings)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    expected = len(read_lines(landing_zone, DAY)) - 1
    with open_warehouse(settings.warehouse_url) as wh:
        assert wh.query("SELECT count(*), count(DISTINCT flight_id) FROM flights")[0] == (
            expected,
            expected,
        )
        assert wh.query("SELECT sum(flights) FROM carrier_daily")[0][0] == expected
        assert wh.query("SELECT count(*) FROM pipeline_runs WHERE status = 'success'")[0][0] == 2


def test_step_by_step_with_staging_folder_equals_in_process_run(settings: Settings) -> None:
    """The orchestrators' path (Parquet staging between steps) gives the same rows."""
    ref = steps.extract(GOLDEN_DAYS[1], settings=settings)
    assert ref.stage_dir
    assert Path(ref.stage_dir, "raw.parquet").is_file()
    for step in (steps.validate, steps.transform, steps.load):
        ref = steps.StageRef.coerce(step(ref.to_dict(), settings=settings).to_dict())
    assert [r.name for r in steps.check(ref, settings=settings)] == [
        "rows_reconcile",
        "partition_not_empty",
        "flight_id_unique",
        "carrier_daily_matches_flights",
    ]
    steps.cleanup(ref)
    assert not Path(ref.stage_dir).exists()
    with open_warehouse(settings.warehouse_url) as wh:
        staged = {t: wh.table_rows(t, GOLDEN_DAYS[1]) for t in ("flights", "carrier_daily")}
    steps.run_partition(GOLDEN_DAYS[1], settings=settings)
    with open_warehouse(settings.warehouse_url) as wh:
        assert {t: wh.table_rows(t, GOLDEN_DAYS[1]) for t in ("flights", "carrier_daily")} == staged


def test_check_fails_when_flights_and_carrier_daily_disagree(settings: Settings) -> None:
    steps.run_partition(DAY, settings=settings)
    with open_warehouse(settings.warehouse_url) as wh:
        wh.execute("UPDATE carrier_daily SET flights = flights + 1 WHERE carrier = 'UA'")
        with pytest.raises(CheckFailedError, match="carrier_daily_matches_flights"):
            steps.check(DAY, settings=settings, warehouse=wh)


def test_duckdb_and_postgres_hold_identical_rows(
    landing_zone: Path,
    duckdb_warehouse: str,
    postgres_warehouse: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tables = {}
    for url in (duckdb_warehouse, postgres_warehouse):
        monkeypatch.setenv("WAREHOUSE_URL", url)
        for day in GOLDEN_DAYS:
            steps.run_partition(day)
        with open_warehouse(url) as wh:
            tables[url] = {t: wh.table_rows(t) for t in ("flights", "carrier_daily")}
    duck, pg = tables[duckdb_warehouse], tables[postgres_warehouse]
    assert len(duck["flights"]) > 2000
    for table in ("flights", "carrier_daily"):
        for a, b in zip(duck[table], pg[table], strict=True):
            assert [round(x, 9) if isinstance(x, float) else x for x in a] == [
                round(float(x), 9) if isinstance(x, float) else x for x in b
            ]


def test_staged_bad_rows_load_with_their_line_numbers(
    settings: Settings, landing_zone: Path, bad_landing_file
) -> None:
    """Parquet staging (the orchestrators' path) keeps quarantine types: line numbers stay integers."""
    from etl_shared.testing.landing import bad_rows

    good = len(read_lines(landing_zone, DAY)) - 1
    cases = bad_rows(landing_zone, DAY)
    bad_landing_file(DAY, [line for group in cases.values() for line in group])
    ref = steps.extract(DAY, settings=settings)
    for step in (steps.validate, steps.transform, steps.load):
        ref = step(ref.to_dict(), settings=settings)
    with open_warehouse(settings.warehouse_url) as wh:
        lines = [
            row[0] for row in wh.query("SELECT line_number FROM quarantine ORDER BY line_number")
        ]
    assert lines == list(range(good + 2, good + 2 + sum(len(g) for g in cases.values())))
    assert all(isinstance(n, int) for n in lines)

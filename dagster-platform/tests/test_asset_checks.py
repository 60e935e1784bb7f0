"""Asset checks pass on good data, fail on bad data, and a failed check fails the run."""

import datetime as dt

import dagster as dg
import pytest
from dagster_platform.defs.checks import WAREHOUSE_CHECKS, validated_rows_reconcile
from dagster_platform.runs import run_partitions

from etl_shared.testing.landing import GOLDEN_DAYS
from etl_shared.warehouse import open_warehouse
from tests.helpers import runs_of

DAY = GOLDEN_DAYS[1]  # the blizzard: hundreds of cancellations


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {
        f"{e.asset_key.to_user_string()}:{e.check_name}": e.passed
        for e in result.get_asset_check_evaluations()
    }


def _run_checks_only(
    defs: dg.Definitions, instance: dg.DagsterInstance
) -> dg.ExecuteInProcessResult:
    """Re-run only the warehouse checks for DAY against what the warehouse holds now."""
    job = defs.resolve_job_def("flights_daily")
    checks = {k for k in job.asset_layer.asset_graph.asset_check_keys if k.name in WAREHOUSE_CHECKS}
    subset = job.get_subset(asset_selection=set(), asset_check_selection=checks)
    return subset.execute_in_process(partition_key=DAY, instance=instance, raise_on_error=False)


def test_checks_pass_on_good_data(
    defs: dg.Definitions, instance: dg.DagsterInstance, landing_zone, duckdb_warehouse, monkeypatch
) -> None:
    monkeypatch.setenv("WAREHOUSE_URL", duckdb_warehouse)
    (run,) = run_partitions([DAY], instance=instance, defs=defs)
    assert run.ok, run.error
    result = _run_checks_only(defs, instance)
    assert result.success
    assert _checks(result) == {
        "flights:rows_reconcile": True,
        "flights:partition_not_empty": True,
        "flights:flight_id_unique": True,
        "carrier_daily:carrier_daily_matches_flights": True,
    }


def test_checks_fail_on_bad_data_and_fail_the_run(
    defs: dg.Definitions, instance: dg.DagsterInstance, landing_zone, duckdb_warehouse, monkeypatch
) -> None:
    monkeypatch.setenv("WAREHOUSE_URL", duckdb_warehouse)
    (run,) = run_partitions([DAY], instance=instance, defs=defs)
    assert run.ok, run.error
    # Drift after the load: one carrier's day loses a flight behind the pipeline's back.
    day = dt.date.fromisoformat(DAY)
    with open_warehouse(duckdb_warehouse) as wh, wh.transaction():
        wh.execute(
            "DELETE FROM flights WHERE flight_id = (SELECT min(flight_id) FROM flights "
            "WHERE flight_date = ?)",
            [day],
        )
    result = _run_checks_only(defs, instance)
    assert not result.success
    assert _checks(result) == {
        "flights:rows_reconcile": False,
        "flights:partition_not_empty": True,
        "flights:flight_id_unique": True,
        "carrier_daily:carrier_daily_matches_flights": False,
    }
    # the blocking checks failed the run, and its record says so
    (_run_id, platform, status, error) = runs_of(duckdb_warehouse, DAY)[-1]
    assert (platform, status) == ("dagster", "failed")
    assert "rows_reconcile" in error
    assert "carrier_daily_matches_flights" in error


@pytest.mark.parametrize(
    ("counts", "passed"),
    [
        ({"extracted": 10, "valid": 7, "quarantined": 3}, True),
        ({"extracted": 10, "valid": 7, "quarantined": 2}, False),
    ],
)
def test_staged_rows_reconcile_check(counts: dict[str, int], passed: bool) -> None:
    ref = {"partition": DAY, "run_id": "r", "source_file": "f", "stage_dir": None, "counts": counts}
    result = validated_rows_reconcile(validated_rows=ref)
    assert result.passed is passed
    assert result.metadata["extracted"].value == 10

"""`make run` through Airflow loads the same rows as the plain CLI (etl_shared.steps)."""

from __future__ import annotations

from pathlib import Path

import pytest

from etl_shared import steps
from etl_shared.config import Settings
from etl_shared.warehouse import open_warehouse

DAY = "2013-11-03"


def test_airflow_run_loads_the_same_rows_as_the_plain_cli(
    airflow_db: Path, landing_zone: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from etl_airflow.local import run_partition

    airflow_url = f"duckdb://{tmp_path / 'airflow.duckdb'}"
    cli_url = f"duckdb://{tmp_path / 'cli.duckdb'}"
    monkeypatch.setenv("WAREHOUSE_URL", airflow_url)
    result = run_partition(DAY)
    assert result.ok, result.error
    steps.run_partition(DAY, settings=Settings.from_env().replace(warehouse_url=cli_url))

    with open_warehouse(airflow_url) as a, open_warehouse(cli_url) as b:
        for table in ("flights", "carrier_daily"):
            rows = a.table_rows(table, DAY)
            assert rows, table
            assert rows == b.table_rows(table, DAY), table
        platforms = a.query("SELECT platform, status FROM pipeline_runs")
    assert platforms == [("airflow", "success")]

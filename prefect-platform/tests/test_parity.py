"""A flow run loads exactly what the plain CLI path (`steps.run_partition`) loads."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect_platform.flows import flights_daily

from etl_shared import steps
from etl_shared.testing.landing import GOLDEN_DAYS
from etl_shared.warehouse import open_warehouse


def test_flow_loads_same_rows_as_plain_cli(
    warehouse: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for day in GOLDEN_DAYS:
        assert flights_daily(date=day, return_state=True).is_completed()
    plain = f"duckdb:///{tmp_path / 'plain.duckdb'}"
    monkeypatch.setenv("WAREHOUSE_URL", plain)
    for day in GOLDEN_DAYS:
        steps.run_partition(day, platform="cli")
    for table in ("flights", "carrier_daily", "quarantine"):
        with open_warehouse(warehouse) as a, open_warehouse(plain) as b:
            rows_a, rows_b = a.table_rows(table), b.table_rows(table)
        if table == "quarantine":  # the last column is the run id
            rows_a, rows_b = [r[:-1] for r in rows_a], [r[:-1] for r in rows_b]
        assert rows_a == rows_b, table
    with open_warehouse(warehouse) as a:
        assert len(a.table_rows("carrier_daily")) > 0

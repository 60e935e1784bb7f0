"""Our provider package: registered through its entry point, and its hook resolves the
warehouse from an Airflow connection (or falls back to WAREHOUSE_URL)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from airflow_provider_etl_warehouse.hooks.warehouse import WarehouseHook


@pytest.fixture(autouse=True)
def _no_connection(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_ETL_WAREHOUSE", raising=False)
    monkeypatch.delenv("WAREHOUSE_URL", raising=False)
    monkeypatch.setenv("ETL_DATA_DIR", str(tmp_path / "data"))


def test_provider_is_registered_through_its_entry_point() -> None:
    from airflow.providers_manager import ProvidersManager
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    providers = ProvidersManager().providers
    assert "airflow-provider-etl-warehouse" in providers
    # the official providers this project uses are there too
    assert {"apache-airflow-providers-postgres", "apache-airflow-providers-common-sql"} <= set(
        providers
    )
    hook = ProvidersManagerTaskRuntime().hooks["etl_warehouse"]
    assert hook is not None
    assert hook.hook_class_name == "airflow_provider_etl_warehouse.hooks.warehouse.WarehouseHook"
    assert hook.connection_type == "etl_warehouse"


def test_postgres_connection_resolves_through_the_postgres_provider(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_ETL_WAREHOUSE", "postgresql://etl:s%40cret@db.internal:5433/warehouse"
    )
    hook = WarehouseHook()
    assert hook.warehouse_url == "postgresql://etl:s%40cret@db.internal:5433/warehouse"
    assert hook.placeholder == "%s"


def test_duckdb_connection_uri(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    url = f"duckdb://{tmp_path / 'wh.duckdb'}"  # duckdb:///abs/path
    monkeypatch.setenv("AIRFLOW_CONN_ETL_WAREHOUSE", url)
    hook = WarehouseHook()
    assert hook.warehouse_url == url
    assert hook.placeholder == "?"


def test_own_connection_type_with_url_in_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = f"duckdb://{tmp_path / 'other.duckdb'}"
    monkeypatch.setenv(
        "AIRFLOW_CONN_ETL_WAREHOUSE",
        json.dumps({"conn_type": "etl_warehouse", "extra": {"url": url}}),
    )
    assert WarehouseHook().warehouse_url == url


def test_without_a_connection_the_hook_falls_back_to_warehouse_url_in_local_mode_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ETL_LOCAL_MODE", "1")
    assert WarehouseHook().warehouse_url == f"duckdb:///{tmp_path / 'data' / 'warehouse.duckdb'}"
    monkeypatch.setenv("WAREHOUSE_URL", "postgresql://a:b@h:1/d")
    assert WarehouseHook().warehouse_url == "postgresql://a:b@h:1/d"


def test_hook_queries_duckdb_and_postgres(
    monkeypatch: pytest.MonkeyPatch, duckdb_warehouse: str, postgres_warehouse: str
) -> None:
    for url in (duckdb_warehouse, postgres_warehouse):
        monkeypatch.setenv("AIRFLOW_CONN_ETL_WAREHOUSE", url)
        hook = WarehouseHook()
        assert hook.get_records(f"SELECT {hook.placeholder} + 1", parameters=[41]) == [(42,)]
        assert hook.test_connection() == (True, "Connection successfully tested")


def test_without_a_connection_a_deployment_fails_naming_connection_and_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """No silent fallback: outside local mode a missing connection fails the task."""
    from airflow_provider_etl_warehouse.hooks.warehouse import (
        LOCAL_MODE_ENV,
        MissingWarehouseConnectionError,
    )

    from etl_shared.config import LOCAL_MODE_ENV as SHARED_LOCAL_MODE_ENV

    assert LOCAL_MODE_ENV == SHARED_LOCAL_MODE_ENV
    monkeypatch.delenv("ETL_LOCAL_MODE", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_ETL_WAREHOUSE", raising=False)
    monkeypatch.setenv("WAREHOUSE_URL", "postgresql://a:b@h:1/d")  # not a substitute
    with pytest.raises(MissingWarehouseConnectionError) as err:
        WarehouseHook().warehouse_url  # noqa: B018
    message = str(err.value)
    assert "'etl_warehouse'" in message
    assert "AIRFLOW_CONN_ETL_WAREHOUSE" in message

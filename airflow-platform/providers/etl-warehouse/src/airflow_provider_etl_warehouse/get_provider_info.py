"""Provider metadata, read by Airflow's ProvidersManager through the entry point."""

from __future__ import annotations

from typing import Any

from airflow_provider_etl_warehouse import __version__


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-etl-warehouse",
        "name": "ETL Warehouse",
        "description": "The nycflights13 pipeline's warehouse: a DuckDB file or a PostgreSQL database.",
        "versions": [__version__],
        "hooks": [
            {
                "integration-name": "ETL Warehouse",
                "python-modules": ["airflow_provider_etl_warehouse.hooks.warehouse"],
            }
        ],
        "connection-types": [
            {
                "hook-class-name": "airflow_provider_etl_warehouse.hooks.warehouse.WarehouseHook",
                "connection-type": "etl_warehouse",
            }
        ],
    }

"""Airflow provider for the pipeline's warehouse (DuckDB file or PostgreSQL).

Ships one hook, :class:`~airflow_provider_etl_warehouse.hooks.warehouse.WarehouseHook`,
and the connection type ``etl_warehouse``; Airflow finds both through the
``apache_airflow_provider`` entry point (see ``get_provider_info``).
"""

__version__ = "0.1.0"

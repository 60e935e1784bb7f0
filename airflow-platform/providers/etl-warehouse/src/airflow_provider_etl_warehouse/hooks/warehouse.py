"""WarehouseHook: turns an Airflow connection into the pipeline's WAREHOUSE_URL.

The connection (default id ``etl_warehouse``) comes from the environment or a secrets
backend, never from code. Three shapes are understood:

* ``AIRFLOW_CONN_ETL_WAREHOUSE='postgresql://user:pass@host:5432/db'`` -- conn type
  ``postgres``; resolved by the official postgres provider's ``PostgresHook``, so its
  connection options (``database`` override, ``sqlalchemy_query`` such as sslmode) apply;
* ``AIRFLOW_CONN_ETL_WAREHOUSE='duckdb:///abs/path/warehouse.duckdb'`` -- a DuckDB file;
* ``{"conn_type": "etl_warehouse", "extra": {"url": "duckdb:///..."}}`` -- this provider's
  own connection type, with the URL in ``extra.url`` (what the UI form writes).

With no connection defined the task fails, naming the connection and the environment
variable that provides it (``AIRFLOW_CONN_ETL_WAREHOUSE``): a deployment never falls back
to a file inside the worker. Only in local mode (``ETL_LOCAL_MODE=1``, which the
Makefile and the tests set) does the hook fall back to ``WAREHOUSE_URL`` and then to the
local DuckDB default under ``ETL_DATA_DIR``, so a laptop run needs no Airflow connection.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from airflow.exceptions import AirflowNotFoundException
from airflow.providers.common.sql.hooks.sql import DbApiHook

POSTGRES_TYPES = ("postgres", "postgresql")


# The pipeline's local-mode switch (etl_shared.config.LOCAL_MODE_ENV; this provider does
# not depend on etl-shared, a test checks that both name the same variable).
LOCAL_MODE_ENV = "ETL_LOCAL_MODE"


def local_mode() -> bool:
    return (os.environ.get(LOCAL_MODE_ENV) or "").strip().lower() in ("1", "true", "yes")


def default_warehouse_url() -> str:
    """WAREHOUSE_URL, or the local DuckDB file under ETL_DATA_DIR (etl-shared's default)."""
    url = os.environ.get("WAREHOUSE_URL")
    if url:
        return url
    data_dir = Path(os.environ.get("ETL_DATA_DIR") or "data").absolute()
    return f"duckdb:///{data_dir / 'warehouse.duckdb'}"


class MissingWarehouseConnectionError(AirflowNotFoundException):
    """No `etl_warehouse` connection outside local mode: the task fails, never guesses."""


def missing_connection_message(conn_id: str) -> str:
    return (
        f"the Airflow connection {conn_id!r} is not defined: set AIRFLOW_CONN_{conn_id.upper()} "
        "(e.g. postgresql://user:pass@host:5432/db) or define it in the secrets backend; "
        f"{LOCAL_MODE_ENV}=1 allows WAREHOUSE_URL or the local DuckDB default instead"
    )


class WarehouseHook(DbApiHook):
    """The pipeline's warehouse as a DB-API hook (DuckDB or PostgreSQL)."""

    conn_name_attr = "warehouse_conn_id"
    default_conn_name = "etl_warehouse"
    conn_type = "etl_warehouse"
    hook_name = "ETL Warehouse (DuckDB or PostgreSQL)"
    supports_autocommit = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._url: str | None = None

    # -- the URL etl-shared needs ----------------------------------------------------------
    @property
    def warehouse_url(self) -> str:
        """The WAREHOUSE_URL to give etl-shared (`duckdb:///…` or `postgresql://…`)."""
        if self._url is None:
            self._url = self._resolve_url()
        return self._url

    def _resolve_url(self) -> str:
        try:
            conn = self.connection
        except AirflowNotFoundException:
            if local_mode():
                return default_warehouse_url()
            raise MissingWarehouseConnectionError(
                missing_connection_message(self.get_conn_id())
            ) from None
        conn_type = (conn.conn_type or "").lower()
        if conn_type in POSTGRES_TYPES:
            from airflow.providers.postgres.hooks.postgres import PostgresHook

            pg = PostgresHook(postgres_conn_id=self.get_conn_id(), connection=conn)
            # libpq understands plain postgresql://, not SQLAlchemy's postgresql+psycopg://
            return pg.sqlalchemy_url.set(drivername="postgresql").render_as_string(
                hide_password=False
            )
        if conn_type == "duckdb":
            # duckdb:///abs/file.duckdb parses to schema "abs/file.duckdb"
            path = "/".join(p for p in (conn.host, conn.schema) if p)
            return f"duckdb:///{path.lstrip('/')}" if path else default_warehouse_url()
        url = conn.extra_dejson.get("url")
        if url:
            return str(url)
        raise ValueError(
            f"connection {self.get_conn_id()!r} (type {conn_type!r}) names no warehouse: use a "
            "postgresql:// or duckdb:/// URI, or conn type etl_warehouse with extra {'url': ...}"
        )

    @property
    def backend(self) -> str:
        return "duckdb" if self.warehouse_url.startswith("duckdb://") else "postgres"

    # -- DbApiHook: so get_records/run and the common-sql operators work -----------------
    @property
    def placeholder(self) -> str:  # type: ignore[override]
        return "?" if self.backend == "duckdb" else "%s"

    def get_conn(self) -> Any:
        url = self.warehouse_url
        if self.backend == "duckdb":
            import duckdb

            return duckdb.connect(url.removeprefix("duckdb://"))
        import psycopg

        return psycopg.connect(url)

    def get_uri(self) -> str:
        return self.warehouse_url

    def test_connection(self) -> tuple[bool, str]:
        try:
            self.get_records("SELECT 1")
        except Exception as exc:
            return False, str(exc)
        return True, "Connection successfully tested"

    # -- the connection form in the UI -----------------------------------------------------
    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            "hidden_fields": ["host", "schema", "login", "password", "port"],
            "relabeling": {},
            "placeholders": {
                "extra": '{"url": "duckdb:////opt/airflow/data/warehouse.duckdb"}',
            },
        }

"""Warehouses: one interface, two implementations (DuckDB file, PostgreSQL server).

`open_warehouse(url)` picks the implementation from the URL scheme:
`duckdb:///path/to/file.duckdb` or `postgresql://user:pass@host:port/db`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from etl_shared.stage import Engine
from etl_shared.warehouse.base import Warehouse, redact_url


@contextmanager
def open_warehouse(url: str, engine: Engine | None = None) -> Iterator[Warehouse]:
    """Open the warehouse named by `url`, create its tables if needed, close it after.

    Raises ConfigError (one line naming the two accepted forms) for any other URL.
    """
    from etl_shared.config import check_warehouse_url

    check_warehouse_url(url)
    if url.startswith("duckdb://"):
        from etl_shared.warehouse.duckdb import DuckDBWarehouse

        wh: Warehouse = DuckDBWarehouse(url, engine)
    elif url.startswith(("postgresql://", "postgres://")):
        from etl_shared.warehouse.postgres import PostgresWarehouse

        wh = PostgresWarehouse(url, engine)
    else:  # pragma: no cover - check_warehouse_url accepts only the two forms
        raise AssertionError(redact_url(url))
    try:
        wh.ensure_schema()
        yield wh
    finally:
        wh.close()


__all__ = ["Warehouse", "open_warehouse", "redact_url"]

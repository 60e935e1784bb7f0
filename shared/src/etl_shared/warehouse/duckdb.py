"""DuckDB warehouse: a file attached to the engine that computed the stage.

Loading is then one `INSERT ... SELECT` inside DuckDB, with no copy through Python.
DuckDB lets one process at a time open a file for writing; a second writer (another
process, or another engine in this one) waits here until the file is free, so two runs
of one partition are serialized, never interleaved.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from etl_shared.errors import WarehouseUnavailableError
from etl_shared.schema import KEYLESS_ON_DUCKDB, columns
from etl_shared.stage import Engine, sql_literal
from etl_shared.warehouse.base import Warehouse

ALIAS = "warehouse"


def duckdb_path(url: str) -> Path:
    from etl_shared.config import check_warehouse_url

    # duckdb:///abs/path and duckdb:////abs/path -> /abs/path; a relative path is refused
    path = check_warehouse_url(url).removeprefix("duckdb://")
    return Path("/" + path.lstrip("/"))


class DuckDBWarehouse(Warehouse):
    kind = "duckdb"
    keyless_tables = KEYLESS_ON_DUCKDB

    def __init__(self, url: str, engine: Engine | None = None) -> None:
        super().__init__(url, engine)
        self.path = duckdb_path(url)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._attach()

    def _attach(self) -> None:
        timeout = float(os.environ.get("ETL_LOCK_TIMEOUT", "120"))
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            try:
                self.engine.execute(f"ATTACH {sql_literal(self.path)} AS {ALIAS}")
                self.engine.execute(f"USE {ALIAS}")
                return
            except (duckdb.IOException, duckdb.ResourceInUseException) as exc:
                busy = "lock" in str(exc).lower() or "already attached" in str(exc).lower()
                if not busy or time.monotonic() > deadline:
                    raise WarehouseUnavailableError(
                        f"cannot open DuckDB warehouse {self.path}: {exc}"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    def close(self) -> None:
        try:
            self.engine.execute("USE memory")
            self.engine.execute(f"DETACH {ALIAS}")
        finally:
            super().close()

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.engine.execute(sql, list(params)).fetchall()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.engine.execute(sql, list(params))

    def _list_tables_sql(self) -> str:
        return f"SELECT table_name FROM duckdb_tables() WHERE database_name = '{ALIAS}'"

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.engine.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.engine.execute("ROLLBACK")
            raise
        self.engine.execute("COMMIT")

    def lock(self, key: str) -> None:
        # The attach already holds the file exclusively for this engine.
        return None

    def hash_sql(self, expr: str) -> str:
        return f"hash({expr})"

    def distinct_sql(self, expr: str) -> str:
        # DuckDB's string hash collides on millions of similar ids (each collision costs an
        # exact recount). flight_id joins typed parts with ':' (date, carrier code, flight
        # number, origin, scheduled departure), and one id has one way to split: equal ids
        # have equal parts, so one hash of the parts (a few integers) serves.
        if expr == "flight_id":
            return "hash(flight_date, carrier, flight, origin, sched_dep_time)"
        return expr

    def insert_from_engine(self, table: str, relation: str) -> int:
        cols = ", ".join(columns(table))
        result = self.engine.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {relation}")
        return int(result.fetchone()[0])

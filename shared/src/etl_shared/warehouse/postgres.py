"""PostgreSQL warehouse: the production backend.

The stage is computed in the DuckDB engine; its rows are streamed into PostgreSQL with
COPY inside the load transaction. A transaction-scoped advisory lock on the partition
makes two concurrent loads of one date run one after the other.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from etl_shared.errors import WarehouseUnavailableError
from etl_shared.schema import columns
from etl_shared.stage import Engine
from etl_shared.warehouse.base import Warehouse

BATCH_ROWS = 50_000


class PostgresWarehouse(Warehouse):
    kind = "postgres"

    def __init__(self, url: str, engine: Engine | None = None) -> None:
        super().__init__(url, engine)
        try:
            self.conn = psycopg.connect(url, connect_timeout=10, autocommit=True)
        except psycopg.OperationalError as exc:
            detail = str(exc).replace(url, self.display_url).strip().splitlines()
            raise WarehouseUnavailableError(
                f"cannot connect to PostgreSQL warehouse {self.display_url}: "
                f"{detail[0] if detail else type(exc).__name__}"
            ) from None

    def close(self) -> None:
        try:
            self.conn.close()
        finally:
            super().close()

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.conn.cursor() as cur:
            cur.execute(self._sql(sql), list(params))
            return cur.fetchall()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self.conn.cursor() as cur:
            cur.execute(self._sql(sql), list(params))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.conn.transaction():
            yield

    def lock(self, key: str) -> None:
        self.execute("SELECT pg_advisory_xact_lock(hashtext('etl:' || ?))", [key])

    def hash_sql(self, expr: str) -> str:
        return f"hashtextextended({expr}, 0)"

    def insert_from_engine(self, table: str, relation: str) -> int:
        cols = columns(table)
        reader = self.engine.execute(f"SELECT {', '.join(cols)} FROM {relation}")
        count = 0
        with (
            self.conn.cursor() as cur,
            cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy,
        ):
            while batch := reader.fetchmany(BATCH_ROWS):
                for row in batch:
                    copy.write_row(row)
                count += len(batch)
        return count

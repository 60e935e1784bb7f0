"""PostgreSQL warehouse: the production backend.

The stage is computed in the DuckDB engine; its rows are streamed into PostgreSQL with
COPY inside the load transaction. A transaction-scoped advisory lock on the partition
makes two concurrent loads of one date run one after the other.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from etl_shared.errors import WarehouseUnavailableError
from etl_shared.schema import columns
from etl_shared.stage import Engine, sql_literal
from etl_shared.warehouse.base import Warehouse

COPY_BLOCK_BYTES = 1 << 20


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
        """COPY the relation's rows in PostgreSQL's CSV format, written by the engine into
        a file of its spill folder and streamed in blocks: no Python object per row or
        value, and memory stays flat however many rows there are.

        The CSV carries every value as PostgreSQL reads it back: NULL is an unquoted empty
        field and an empty string a quoted one, doubles in their shortest exact form."""
        cols = ", ".join(columns(table))
        path = Path(self.engine.spill_dir) / f"copy-{table}-{uuid.uuid4().hex[:8]}.csv"
        try:
            ((count,),) = self.engine.execute(
                f"COPY (SELECT {cols} FROM {relation}) TO {sql_literal(path)} "
                "(FORMAT csv, HEADER false, QUOTE '\"', ESCAPE '\"', NULLSTR '')"
            ).fetchall()
            with (
                self.conn.cursor() as cur,
                cur.copy(f"COPY {table} ({cols}) FROM STDIN (FORMAT csv)") as copy,
                path.open("rb") as fh,
            ):
                while block := fh.read(COPY_BLOCK_BYTES):
                    copy.write(block)
        finally:
            path.unlink(missing_ok=True)
        return int(count)

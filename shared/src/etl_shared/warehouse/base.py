"""The warehouse interface and what both implementations share."""

from __future__ import annotations

import datetime as dt
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from etl_shared.schema import EXTRA_DDL, PARTITIONED_TABLES, TABLES, columns, create_table_sql
from etl_shared.stage import Engine

_PASSWORD = re.compile(r"(://[^:/@]+:)[^@]*(@)")


def redact_url(url: str) -> str:
    """The URL with any password replaced by ***, for messages and logs."""
    return _PASSWORD.sub(r"\1***\2", url)


class Warehouse(ABC):
    """Tables `flights`, `carrier_daily`, `quarantine`, `pipeline_runs`, same on every backend.

    SQL given to :meth:`query` and :meth:`execute` uses `?` placeholders on both backends.
    """

    kind: str
    keyless_tables: frozenset[str] = frozenset()

    def __init__(self, url: str, engine: Engine | None) -> None:
        self.url = url
        self.display_url = redact_url(url)
        self._own_engine = engine is None
        self.engine = engine or Engine()

    # -- primitives each backend implements ------------------------------------------
    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    @abstractmethod
    def transaction(self) -> AbstractContextManager[None]:
        """One transaction; rolls back when the block raises."""

    @abstractmethod
    def lock(self, key: str) -> None:
        """Inside a transaction: make concurrent transactions holding the same key wait for each other."""

    @abstractmethod
    def hash_sql(self, expr: str) -> str:
        """SQL for a 64-bit hash of the text `expr` (equal texts hash alike)."""

    def distinct_sql(self, expr: str) -> str:
        """SQL whose distinct values the load gate counts for the distinct texts `expr`: a
        64-bit hash (a collision only makes the gate count the texts themselves)."""
        return self.hash_sql(expr)

    @abstractmethod
    def insert_from_engine(self, table: str, relation: str) -> int:
        """Insert every row of an engine relation (stage) into `table`; return the count."""

    def close(self) -> None:
        if self._own_engine:
            self.engine.close()

    # -- shared behaviour ----------------------------------------------------------------
    def ensure_schema(self) -> None:
        existing = {name for (name,) in self.query(self._list_tables_sql())}
        if set(TABLES) <= existing:
            return
        with self.transaction():
            self.lock("schema")
            for table in TABLES:
                self.execute(create_table_sql(table, keyless=table in self.keyless_tables))
            for ddl in EXTRA_DDL:
                self.execute(ddl)

    def _list_tables_sql(self) -> str:
        return (
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )

    def replace_partitions(
        self,
        partitions: list[str],
        relations: dict[str, str],
        gate: Callable[[Warehouse], None],
        before_commit: Callable[[], None] = lambda: None,
    ) -> None:
        """Replace every partitioned table's rows for `partitions` in one transaction.

        `relations` maps table name to an engine relation holding the new rows. `gate`
        runs the data-quality checks on the new state inside the transaction: when it
        raises, everything rolls back and the previous state of each partition stays.
        """
        days = [dt.date.fromisoformat(p) for p in partitions]
        marks = ", ".join("?" for _ in days)
        with self.transaction():
            for partition in partitions:
                self.lock(f"partition:{partition}")
            for table, date_column in PARTITIONED_TABLES.items():
                self.execute(f"DELETE FROM {table} WHERE {date_column} IN ({marks})", days)
                self.insert_from_engine(table, relations[table])
            gate(self)
            before_commit()

    def record_run(self, record: dict[str, Any]) -> None:
        """Insert or update one `pipeline_runs` row (keyed by run_id)."""
        self.record_runs([record])

    def record_runs(self, records: list[dict[str, Any]]) -> None:
        """Insert or update `pipeline_runs` rows (keyed by run_id), in one transaction."""
        cols = columns("pipeline_runs")
        updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c != "run_id")
        row = "(" + ", ".join("?" for _ in cols) + ")"
        values = [record.get(c) for record in records for c in cols]
        with self.transaction():
            self.execute(
                f"INSERT INTO pipeline_runs ({', '.join(cols)}) VALUES "
                f"{', '.join(row for _ in records)} ON CONFLICT (run_id) DO UPDATE SET {updates}",
                values,
            )

    def table_rows(self, table: str, partition: str | None = None) -> list[tuple[Any, ...]]:
        """Rows of a table (optionally one partition), in key order, for tests and tools."""
        from etl_shared.schema import TABLE_KEYS

        where, params = "", []
        if partition is not None and table in PARTITIONED_TABLES:
            where, params = (
                f" WHERE {PARTITIONED_TABLES[table]} = ?",
                [dt.date.fromisoformat(partition)],
            )
        order = ", ".join(TABLE_KEYS[table])
        return self.query(
            f"SELECT {', '.join(columns(table))} FROM {table}{where} ORDER BY {order}", params
        )

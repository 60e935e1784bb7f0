"""Staging between steps: what one step hands to the next.

A step returns a :class:`StageRef`, a small JSON-able reference (partition, run id,
staging folder, row counts). The rows themselves stay in the staging area, never in an
orchestrator's result channel (XCom, Dagster outputs, Prefect results).

Two kinds of staging area, with the same SQL written against either:

* a folder of Parquet files (`stage_dir` set): steps may run in different processes or
  on different machines sharing a volume, as Airflow tasks and Kubernetes pods do;
* temporary tables in one DuckDB engine (`stage_dir` is None): the steps of a run share a
  process, as `run_partition` and the CLI backfill do, and nothing touches the disk.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb


def sql_literal(value: str | Path) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def new_run_id(platform: str = "cli") -> str:
    return f"{platform}-{uuid.uuid4().hex[:16]}"


@dataclass(frozen=True)
class StageRef:
    partition: str
    run_id: str
    source_file: str
    stage_dir: str | None = None
    counts: dict[str, int] = field(default_factory=dict)

    def with_counts(self, **counts: int) -> StageRef:
        return replace(self, counts={**self.counts, **counts})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def coerce(cls, value: StageRef | dict[str, Any]) -> StageRef:
        return value if isinstance(value, StageRef) else cls(**value)


class Engine:
    """A DuckDB connection that does the pipeline's computing, with reference data cached."""

    def __init__(self) -> None:
        self.con = duckdb.connect()
        self._reference: dict[str, tuple[float, str]] = {}

    def execute(self, sql: str, params: list[Any] | None = None) -> duckdb.DuckDBPyConnection:
        return self.con.execute(sql, params) if params is not None else self.con.execute(sql)

    def cached_table(self, name: str, path: Path, select_sql: str) -> str:
        """A temp table built from `path` once per engine and file version."""
        mtime = path.stat().st_mtime
        key = f"{name}:{path}"
        hit = self._reference.get(key)
        if hit is not None and hit[0] == mtime:
            return hit[1]
        table = f"ref_{name}_{uuid.uuid4().hex[:8]}"
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {select_sql}")
        self._reference[key] = (mtime, table)
        return table

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Stage:
    """Where the named relations of one run (one partition, or a batch of them) live."""

    def __init__(self, key: str, folder: str | Path | None, engine: Engine) -> None:
        self.engine = engine
        self.folder = Path(folder) if folder else None
        self._prefix = "stage_" + "".join(ch if ch.isalnum() else "_" for ch in key)

    @classmethod
    def of(cls, ref: StageRef, engine: Engine) -> Stage:
        return cls(ref.run_id, ref.stage_dir, engine)

    def put(self, name: str, sql: str) -> int:
        """Materialize `sql` as the stage relation `name`; return its row count."""
        if self.folder is None:
            result = self.engine.execute(
                f"CREATE OR REPLACE TEMP TABLE {self._prefix}_{name} AS {sql}"
            )
        else:
            self.folder.mkdir(parents=True, exist_ok=True)
            target = self.folder / f"{name}.parquet"
            result = self.engine.execute(
                f"COPY ({sql}) TO {sql_literal(target)} (FORMAT parquet, COMPRESSION zstd)"
            )
        return int(result.fetchone()[0])

    def rel(self, name: str) -> str:
        """A SQL relation (to put after FROM) that reads the stage relation `name`."""
        if self.folder is None:
            return f"{self._prefix}_{name}"
        return f"read_parquet({sql_literal(self.folder / f'{name}.parquet')})"

    def drop(self) -> None:
        if self.folder is None:
            for (table,) in self.engine.execute(
                "SELECT table_name FROM duckdb_tables() WHERE temporary AND starts_with(table_name, ?)",
                [self._prefix],
            ).fetchall():
                self.engine.execute(f"DROP TABLE IF EXISTS {table}")
        else:
            shutil.rmtree(self.folder, ignore_errors=True)

"""Staging between steps: what one step hands to the next.

A step returns a :class:`StageRef`, a small JSON-able reference (partition, run id,
staging folder, row counts). The rows themselves stay in the staging area, never in an
orchestrator's result channel (XCom, Dagster outputs, Prefect results).

Two kinds of staging area, with the same SQL written against either:

* a folder of Parquet files (`stage_dir` set): steps may run in different processes or
  on different machines sharing a volume, as Airflow tasks and Kubernetes pods do;
* temporary tables in one DuckDB engine (`stage_dir` is None): the steps of a run share a
  process, as `run_partition` and the CLI backfill do. There a step may hand on a *view*
  (`put(..., lazy=True)`) instead of a copy: the next step reads through it, so a big
  partition is not copied once per step.

The engine has a memory limit and a spill folder of its own (`ETL_MEMORY_LIMIT`, default
2GB; `ETL_TEMP_DIR`, default the system temp folder): a partition larger than memory
spills to disk instead of growing the process.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
import weakref
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
        self.spill_dir = tempfile.mkdtemp(
            prefix="etl-duckdb-", dir=os.environ.get("ETL_TEMP_DIR") or None
        )
        self.con = duckdb.connect(
            config={
                "memory_limit": os.environ.get("ETL_MEMORY_LIMIT", "2GB"),
                "temp_directory": self.spill_dir,
            }
        )
        self._reference: dict[str, tuple[float, str]] = {}
        # The spill folder goes with the engine, or at the latest when the process exits
        # (a worker may keep one engine for its whole life and never close it).
        self._remove_spill_dir = weakref.finalize(
            self, shutil.rmtree, self.spill_dir, ignore_errors=True
        )

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
        try:
            self.con.close()
        finally:
            self._remove_spill_dir()

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

    def put(self, name: str, sql: str, *, lazy: bool = False) -> None:
        """Make `sql` the stage relation `name`: a Parquet file, a temp table, or (`lazy`,
        in-engine stages only) a view the next step reads through without a copy."""
        if self.folder is None:
            kind = "VIEW" if lazy else "TABLE"
            self.engine.execute(f"CREATE OR REPLACE TEMP {kind} {self._prefix}_{name} AS {sql}")
        else:
            self.folder.mkdir(parents=True, exist_ok=True)
            target = self.folder / f"{name}.parquet"
            self.engine.execute(
                f"COPY ({sql}) TO {sql_literal(target)} (FORMAT parquet, COMPRESSION zstd)"
            )

    def scratch(self, name: str) -> str:
        """A temp table name owned by this stage: `drop` removes it with the stage.

        Name it `<relation>_<what>` to have `release(<relation>)` remove it too."""
        return f"{self._prefix}__{name}"

    def release(self, name: str, *, keep_relation: bool = False) -> None:
        """Free what relation `name` holds in the engine once no later step reads it: its
        scratch tables, and (in-engine stages, unless `keep_relation`) the relation."""
        doomed = self._engine_relations(f"{self._prefix}__{name}_")
        if self.folder is None and not keep_relation:
            doomed = self._engine_relations(f"{self._prefix}_{name}") + doomed
        for kind, rel in doomed:
            self.engine.execute(f"DROP {kind} IF EXISTS {rel}")

    def _engine_relations(self, prefix: str) -> list[tuple[str, str]]:
        """Temp views, then temp tables, whose names start with `prefix` (views first:
        they read the tables)."""
        found: list[tuple[str, str]] = []
        for kind, catalog, col in (
            ("VIEW", "duckdb_views()", "view_name"),
            ("TABLE", "duckdb_tables()", "table_name"),
        ):
            found += [
                (kind, rel)
                for (rel,) in self.engine.execute(
                    f"SELECT {col} FROM {catalog} WHERE temporary AND starts_with({col}, ?)",
                    [prefix],
                ).fetchall()
            ]
        return found

    def rel(self, name: str) -> str:
        """A SQL relation (to put after FROM) that reads the stage relation `name`."""
        if self.folder is None:
            return f"{self._prefix}_{name}"
        return f"read_parquet({sql_literal(self.folder / f'{name}.parquet')})"

    def drop(self) -> None:
        for kind, rel in self._engine_relations(self._prefix):
            self.engine.execute(f"DROP {kind} IF EXISTS {rel}")
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)

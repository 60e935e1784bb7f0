"""The cache key of one partition run: what must be unchanged for a rerun to be skipped.

A `flights_daily` run is skipped (its committed result reused) only when all of these are
the same as in the run that committed the key:

* the partition,
* the landing file's bytes (SHA-256; a missing file gives a key that is never committed,
  because that run fails),
* the reference files it is joined with (their bytes too: `etl seed` rewrites them with
  new modification times but the same content),
* the warehouse URL (a different warehouse has not been loaded yet),
* the pipeline code (etl-shared's version and this module's `CACHE_VERSION`).

`PartitionInputs` is that key as a Prefect cache policy: the `partition` task (the five
steps, `tasks.py`) carries it, so Prefect itself looks the key up in the result store
before the task runs (state `Cached` on a hit) and writes the task's result under it when
the task succeeds; `refresh_cache=True` runs it anyway and overwrites the key.
Even on a hit the flow re-checks the warehouse before trusting it (see
`flows/flights_daily.py`): a warehouse that was wiped or rewritten under the same URL
fails that check and the partition runs for real.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

from prefect.cache_policies import CachePolicy
from prefect.context import TaskRunContext

from etl_shared.config import Settings
from etl_shared.landing import REFERENCE_FILES, flights_file, reference_file
from etl_shared.partitions import partition_key

# Bump when the flow changes what a run writes, to invalidate every cached partition.
CACHE_VERSION = "1"


@lru_cache(maxsize=256)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    """SHA-256 of a file, remembered per (path, size, mtime) within the process."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _file_digest(path: Path) -> str:
    if not path.is_file():
        return "missing"
    stat = path.stat()
    return _digest(str(path), stat.st_size, stat.st_mtime_ns)


def partition_cache_key(partition: str, settings: Settings | None = None) -> str:
    """A stable key for (partition, landing file content, reference files, warehouse, code)."""
    settings = settings or Settings.from_env()
    day = partition_key(partition)
    landing = flights_file(settings.landing_dir, day)
    parts = [f"partition={day}", f"landing={_file_digest(landing)}"]
    parts += [
        f"{name}={_file_digest(reference_file(settings.landing_dir, name))}"
        for name in REFERENCE_FILES
    ]
    parts += [
        f"warehouse={settings.warehouse_url}",
        f"etl_shared={version('etl-shared')}",
        f"cache_version={CACHE_VERSION}",
    ]
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()
    return f"flights-daily-{day}-{digest[:32]}"


class PartitionInputs(CachePolicy):
    """The cache policy of a partition run: `partition_cache_key` of the task's `date`."""

    def compute_key(
        self,
        task_ctx: TaskRunContext,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        return partition_cache_key(inputs["date"])

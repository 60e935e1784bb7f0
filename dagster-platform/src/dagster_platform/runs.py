"""Run partitions of `flights_daily` through Dagster in this process (tests, backfill, bench).

Each partition is its own Dagster run, recorded in the instance (visible in `dagster dev`)
and in `pipeline_runs`; the code location is loaded once for all of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import dagster as dg

from etl_shared.errors import InvalidPartitionError
from etl_shared.partitions import partition_key

JOB_NAME = "flights_daily"


@dataclass
class PartitionRun:
    partition: str
    ok: bool
    run_id: str
    error: str | None = None


def load_definitions() -> dg.Definitions:
    from dagster_platform.definitions import defs

    return defs()


def failure_text(result: dg.ExecuteInProcessResult) -> str:
    """Every failed step's error with its causes, e.g. the EtlError behind a dg.Failure."""
    texts = []
    for event in result.all_events:
        if event.event_type_value != "STEP_FAILURE" or event.step_failure_data is None:
            continue
        error = event.step_failure_data.error
        chain = []
        while error is not None:
            chain.append(error.message.strip())
            error = error.cause
        texts.append(f"{event.step_key}: " + " <- ".join(chain))
    return "; ".join(texts) or "run failed"


def run_partitions(
    partitions: Iterable[str],
    *,
    instance: dg.DagsterInstance,
    defs: dg.Definitions | None = None,
    job_name: str = JOB_NAME,
    log_level: str = "INFO",
) -> Iterator[PartitionRun]:
    """One run per partition, one after another; a failed run is reported, never raised.

    `log_level` is the console's; the instance's event log keeps every event either way.
    """
    job = (defs or load_definitions()).resolve_job_def(job_name)
    run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    for partition in partitions:
        try:  # a day outside the data never starts a run, and is never a success
            partition_key(partition)
        except InvalidPartitionError as exc:
            yield PartitionRun(partition=partition, ok=False, run_id="", error=str(exc))
            continue
        result = job.execute_in_process(
            run_config=run_config, partition_key=partition, instance=instance, raise_on_error=False
        )
        yield PartitionRun(
            partition=partition,
            ok=result.success,
            run_id=result.run_id,
            error=None if result.success else failure_text(result),
        )

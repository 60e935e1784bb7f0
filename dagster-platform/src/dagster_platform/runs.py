"""Run partitions through Dagster in this process (tests, backfill, make report, bench).

Each day is its own run of `flights_daily`, recorded in the instance (visible in `dagster
dev`) and in `pipeline_runs`; the code location is loaded once for all of them. A month's
carrier report is a run of `carrier_report_monthly` for that month's partition of
`carrier_monthly`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from etl_shared.errors import InvalidPartitionError
from etl_shared.partitions import month_key, partition_key

JOB_NAME = "flights_daily"
REPORT_JOB_NAME = "carrier_report_monthly"


@dataclass
class PartitionRun:
    partition: str
    ok: bool
    run_id: str
    error: str | None = None
    # what the run's materializations say (the report's carriers and flights)
    metadata: dict[str, Any] = field(default_factory=dict)


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


def run_report(
    month: str,
    *,
    instance: dg.DagsterInstance,
    defs: dg.Definitions | None = None,
    log_level: str = "INFO",
) -> PartitionRun:
    """Materialize `month`'s partition of `carrier_monthly` (one run of
    `carrier_report_monthly`); a failed run (a month with a day missing) is reported,
    never raised, and a month outside the data never starts a run."""
    try:
        key = month_key(month)
    except InvalidPartitionError as exc:
        return PartitionRun(partition=month, ok=False, run_id="", error=str(exc))
    job = (defs or load_definitions()).resolve_job_def(REPORT_JOB_NAME)
    result = job.execute_in_process(
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        partition_key=key,
        instance=instance,
        raise_on_error=False,
    )
    metadata: dict[str, Any] = {}
    for materialization in result.asset_materializations_for_node("carrier_monthly"):
        metadata |= {name: value.value for name, value in materialization.metadata.items()}
    return PartitionRun(
        partition=key,
        ok=result.success,
        run_id=result.run_id,
        error=None if result.success else failure_text(result),
        metadata=metadata,
    )

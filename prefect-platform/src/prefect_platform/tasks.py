"""The pipeline's steps as Prefect tasks. Each calls one `etl_shared.steps` function.

Only the small `StageRef` dict travels between tasks (it is what Prefect sees as the
task's result); the rows stay in the staging folder `$STAGING_DIR/<partition>/<run_id>/`.

Retries: `etl_shared.policy`'s, mapped onto Prefect: `retries` = attempts - 1 and
`retry_delay_seconds` = the list of waits (the first one `ETL_RETRY_DELAY_SECONDS`, then
times the backoff factor), but only for errors `etl_shared.errors.is_retryable` accepts
(a transient source error); bad data, a missing file or a failed check fail at once.
The decorators carry the production defaults; `configured()` re-reads the environment
when a flow runs, so tests and game days can shorten the delays without re-importing.

Caching: the steps themselves are `NO_CACHE` (their result points into a staging folder
that is dropped when the run ends); the whole partition is cached instead: the
`partition` task runs the five steps as nested tasks under the cache policy
`cache.PartitionInputs`, see `flows/flights_daily.py`.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from prefect import Task, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import TaskRun
from prefect.states import State
from prefect.transactions import get_transaction

from etl_shared import policy, steps
from etl_shared.config import Settings
from etl_shared.errors import is_retryable
from etl_shared.report import completed_month, write_carrier_report
from etl_shared.warehouse import open_warehouse
from prefect_platform.cache import PartitionInputs
from prefect_platform.events import emit_published
from prefect_platform.hooks import STAGE_KEY, discard_staging, drop_staging

Ref = dict[str, Any]


def retry_transient_only(task: Task, task_run: TaskRun, state: State) -> bool:
    """retry_condition_fn: retry a transient source error, fail fast on anything else."""
    try:
        state.result()
    except Exception as exc:
        return is_retryable(exc)
    return False


_PRODUCTION = policy.retry_policy({})  # the defaults, whatever this process's environment
RETRY_POLICY: dict[str, Any] = dict(
    retries=_PRODUCTION.retries,
    retry_delay_seconds=_PRODUCTION.delays(),
    retry_condition_fn=retry_transient_only,
    cache_policy=NO_CACHE,
)


def configured(step: Task) -> Task:
    """The task with retries and backoff read from the environment now."""
    retry = policy.retry_policy()
    return step.with_options(retries=retry.retries, retry_delay_seconds=retry.delays())


@task(name="extract", **RETRY_POLICY)
def extract(date: str, run_id: str) -> Ref:
    """Read the day's landing file into the staging folder."""
    ref = steps.extract(date, run_id=run_id).to_dict()
    txn = get_transaction()
    if txn is not None:  # the staging lives exactly as long as the partition transaction
        txn.set(STAGE_KEY, ref)
    return ref


extract.on_rollback(discard_staging)
extract.on_commit(drop_staging)


@task(name="validate", **RETRY_POLICY)
def validate(ref: Ref) -> Ref:
    """Type-check every row; rows that break a rule go to the quarantine stage."""
    return steps.validate(ref).to_dict()


@task(name="transform", **RETRY_POLICY)
def transform(ref: Ref) -> Ref:
    """Build the `flights` and `carrier_daily` stage."""
    return steps.transform(ref).to_dict()


@task(name="load", **RETRY_POLICY)
def load(ref: Ref) -> Ref:
    """Replace the partition in the warehouse in one database transaction."""
    return steps.load(ref).to_dict()


@task(name="check", **RETRY_POLICY)
def check(ref: Ref) -> list[dict[str, Any]]:
    """Data-quality checks against what the warehouse now holds for the partition."""
    return [result.to_dict() for result in steps.check(ref)]


@task(name="partition-steps", cache_policy=PartitionInputs())
def partition(date: str, run_id: str) -> Ref:
    """extract -> validate -> transform -> load -> check for one partition, as nested tasks.

    The task's transaction is keyed by the partition's inputs (`cache.PartitionInputs`):
    a failure anywhere rolls it back (the extract task's rollback hook removes the
    staging; the load's own database transaction keeps the previous rows), a success
    commits the ref under the key (the commit hook drops the staging). With the same key
    committed, Prefect skips the task and returns that ref (state `Cached`).
    """
    ref = configured(extract)(date, run_id)
    ref = configured(validate)(ref)
    ref = configured(transform)(ref)
    ref = configured(load)(ref)
    configured(check)(ref)
    return ref


@task(name="publish", cache_policy=NO_CACHE)
def publish(ref: Ref) -> str | None:
    """Emit `etl.partition.published` for the loaded partition, saying whether its month is
    now complete in the warehouse (see `prefect_platform.events`); return that month."""
    with open_warehouse(Settings.from_env().warehouse_url) as wh:
        month = completed_month(wh, ref["partition"])
    emit_published(ref["partition"], month, ref["counts"])
    return month


@task(name="carrier-report", cache_policy=NO_CACHE)
def carrier_report(month: str) -> dict[str, Any]:
    """Replace the month's rows in `carrier_monthly` (`etl_shared.report`); a month with a
    day not loaded fails with MonthIncompleteError naming the days, writing nothing."""
    with open_warehouse(Settings.from_env().warehouse_url) as wh:
        return asdict(write_carrier_report(wh, month))

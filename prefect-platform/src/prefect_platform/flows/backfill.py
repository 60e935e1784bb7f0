"""The `backfill` flow: many `flights_daily` partitions, a few at a time, with a summary."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task, unmapped
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.states import Failed, State
from prefect.task_runners import ThreadPoolTaskRunner

from etl_shared.partitions import date_range
from prefect_platform import config
from prefect_platform.flows.flights_daily import flights_daily
from prefect_platform.params import PartitionDate


class BackfillFailed(Exception):
    """Some partitions of a backfill failed (the others ran to the end)."""


@task(name="partition", task_run_name="partition-{date}", cache_policy=NO_CACHE)
def run_partition(date: str, refresh: bool) -> dict[str, Any]:
    """Run one partition as a `flights_daily` subflow.

    The subflow's error (re-raised by `state.result()`) fails this task too, so the
    backfill's task list shows which partitions failed and why.
    """
    state = flights_daily(date=date, refresh=refresh, return_state=True)
    ref = state.result()
    return {"state": state.name, "counts": ref["counts"]}


def _summary_row(date: str, state: State) -> dict[str, Any]:
    outcome = state.result(raise_on_failure=False)
    if state.is_completed() and isinstance(outcome, dict):
        counts = outcome["counts"]
        return {"partition": date, "state": outcome["state"], "loaded": counts.get("loaded"),
                "quarantined": counts.get("quarantined"), "error": None}  # fmt: skip
    error = str(outcome) if isinstance(outcome, BaseException) else state.message
    return {"partition": date, "state": state.name, "loaded": None, "quarantined": None,
            "error": error}  # fmt: skip


@flow(
    name="backfill",
    flow_run_name="backfill-{start}-{end}",
    # BACKFILL_MAX_WORKERS is read when this module is imported (a flow's task runner is
    # declared with it); `backfill.with_options(task_runner=ThreadPoolTaskRunner(n))`
    # overrides it for one call, as `prefect-platform backfill --max-workers n` does.
    task_runner=ThreadPoolTaskRunner(max_workers=config.backfill_max_workers()),
)
def backfill(
    start: PartitionDate, end: PartitionDate, refresh: bool = False
) -> list[dict[str, Any]]:
    """Run `flights_daily` for every date from `start` to `end` (both included).

    `run_partition.map` fans the dates out on the flow's `ThreadPoolTaskRunner`: at most
    `BACKFILL_MAX_WORKERS` (default 2) partitions run at once, each a subflow with its
    own retries, hooks and `pipeline_runs` row. A failed partition does not stop the
    others: each partition's final state is collected, the summary is published as the
    table artifact `backfill-summary` and logged, and the backfill fails at the end
    naming the failed partitions, so a partial failure is never reported as a success.
    """
    logger = get_run_logger()
    dates = date_range(start, end)
    logger.info("backfill %s..%s: %d partitions", start, end, len(dates))

    futures = run_partition.map(dates, refresh=unmapped(refresh))
    futures.wait()
    rows = [_summary_row(d, f.state) for d, f in zip(dates, futures, strict=True)]

    failed = [r["partition"] for r in rows if r["error"] is not None]
    create_table_artifact(
        key="backfill-summary",
        table=rows,
        description=f"backfill {start}..{end}: {len(rows) - len(failed)} ok, {len(failed)} failed",
    )
    for r in rows:
        logger.info("%s %-9s loaded=%s quarantined=%s%s", r["partition"], r["state"], r["loaded"],
                    r["quarantined"], f" error={r['error']}" if r["error"] else "")  # fmt: skip
    logger.info("backfill %s..%s: %d ok, %d failed %s", start, end, len(rows) - len(failed),
                len(failed), failed)  # fmt: skip
    if failed:
        return Failed(
            message=f"{len(failed)} of {len(rows)} partitions failed: {', '.join(failed)}",
            data=BackfillFailed(f"{len(failed)} of {len(rows)} partitions failed: {failed}"),
        )
    return rows

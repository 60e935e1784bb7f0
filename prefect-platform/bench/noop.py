"""The floor: flows of the same shape as `flights_daily` and `backfill` whose tasks do nothing.

Same tasks (a cached partition task running the five steps as nested tasks, then
publish), same transaction hooks, same number of state hooks, same ref dict passed along;
only the etl-shared calls (and the event) are gone. Their wall time is what
Prefect itself costs to run the pipeline's shape against the same API.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE, CachePolicy
from prefect.task_runners import ThreadPoolTaskRunner
from prefect_platform.config import backfill_max_workers

REF = {"partition": "", "run_id": "noop", "source_file": "", "stage_dir": None, "counts": {}}


def _hook(*_: Any) -> None:
    return None


class NoopKey(CachePolicy):
    def compute_key(self, task_ctx: Any, inputs: dict[str, Any], flow_parameters: Any,
                    **kwargs: Any) -> str:  # fmt: skip
        return f"noop-{inputs['date']}"


@task(name="extract", cache_policy=NO_CACHE, retries=3)
def extract(date: str, run_id: str) -> dict[str, Any]:
    return {**REF, "partition": date, "run_id": run_id}


@task(name="validate", cache_policy=NO_CACHE, retries=3)
def validate(ref: dict[str, Any]) -> dict[str, Any]:
    return ref


@task(name="transform", cache_policy=NO_CACHE, retries=3)
def transform(ref: dict[str, Any]) -> dict[str, Any]:
    return ref


@task(name="load", cache_policy=NO_CACHE, retries=3)
def load(ref: dict[str, Any]) -> dict[str, Any]:
    return ref


@task(name="check", cache_policy=NO_CACHE, retries=3)
def check(ref: dict[str, Any]) -> list[dict[str, Any]]:
    return []


extract.on_rollback(_hook)
extract.on_commit(_hook)


@task(name="partition-steps", cache_policy=NoopKey(), refresh_cache=True)
def steps(date: str, run_id: str) -> dict[str, Any]:
    ref = extract(date, run_id)
    ref = validate(ref)
    ref = transform(ref)
    ref = load(ref)
    check(ref)
    return ref


@task(name="publish", cache_policy=NO_CACHE)
def publish(ref: dict[str, Any]) -> None:
    return None


@flow(name="noop_daily", on_completion=[_hook], on_failure=[_hook, _hook])
def noop_daily(date: str, refresh: bool = False) -> dict[str, Any]:
    ref = steps(date, "noop")
    publish(ref)
    return ref


@task(name="partition", cache_policy=NO_CACHE)
def run_partition(date: str) -> dict[str, Any]:
    return noop_daily(date=date)


@flow(name="noop_backfill", task_runner=ThreadPoolTaskRunner(max_workers=backfill_max_workers()))
def noop_backfill(dates: list[str]) -> int:
    futures = run_partition.map(dates)
    futures.wait()
    return len(futures)

"""Running partitions in-process with retries: what `etl run` and `etl backfill` do.

Only transient source errors are retried, as `etl_shared.policy` says (attempts,
exponential backoff, `ETL_RETRY_DELAY_SECONDS` for the first wait); anything else fails
at once. One engine and one warehouse
connection serve a whole backfill.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from etl_shared import policy, steps
from etl_shared.config import Settings
from etl_shared.errors import EtlError
from etl_shared.stage import Engine, StageRef
from etl_shared.warehouse import open_warehouse


@dataclass
class PartitionResult:
    partition: str
    ok: bool
    ref: StageRef | None = None
    error: EtlError | None = None
    attempts: int = 1


def run_partitions(
    partitions: Sequence[str],
    *,
    settings: Settings | None = None,
    platform: str = "cli",
    attempts: int | None = None,
    batch_size: int = 1,
    on_done: Callable[[PartitionResult], None] | None = None,
) -> list[PartitionResult]:
    """Run each partition (extract..check), retrying transient errors; never raises EtlError.

    With `batch_size` > 1, consecutive partitions run as one batch (`steps.run_batch`);
    a batch that fails is rerun one partition at a time, so one bad day fails alone.
    """
    settings = settings or Settings.from_env()
    retry = policy.retry_policy()
    attempts = retry.attempts if attempts is None else attempts
    results: list[PartitionResult] = []

    def done(result: PartitionResult) -> None:
        results.append(result)
        if on_done is not None:
            on_done(result)

    with Engine() as engine, open_warehouse(settings.warehouse_url, engine) as wh:
        for start in range(0, len(partitions), batch_size):
            chunk = list(partitions[start : start + batch_size])
            if len(chunk) > 1:
                try:
                    refs = steps.run_batch(
                        chunk, warehouse=wh, settings=settings, platform=platform
                    )
                except EtlError:
                    pass  # rerun one by one below: the bad partition fails alone
                else:
                    for ref in refs:
                        done(PartitionResult(ref.partition, True, ref=ref))
                    continue
            for partition in chunk:
                retrying = Retrying(
                    retry=retry_if_exception(retry.is_retryable),
                    stop=stop_after_attempt(attempts),
                    wait=wait_exponential(
                        multiplier=retry.first_delay_seconds,
                        exp_base=retry.backoff_factor,
                        max=retry.max_delay_seconds,
                    ),
                    reraise=True,
                )
                try:
                    ref = retrying(
                        steps.run_partition,
                        partition,
                        settings=settings,
                        platform=platform,
                        # one run id for every attempt: a retry updates the run's
                        # pipeline_runs row instead of leaving a failed row behind
                        run_id=policy.new_run_id(platform),
                        engine=engine,
                        warehouse=wh,
                    )
                    result = PartitionResult(partition, True, ref=ref)
                except EtlError as exc:
                    result = PartitionResult(partition, False, error=exc)
                result.attempts = retrying.statistics.get("attempt_number", 1)
                done(result)
    return results

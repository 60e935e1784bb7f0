"""Task defaults: who owns the tasks, and how failures are retried.

The numbers are `etl_shared.policy`'s, mapped onto Airflow: `retries` = attempts - 1,
`retry_delay` = the first wait (``ETL_RETRY_DELAY_SECONDS``, parsed by etl-shared),
`retry_exponential_backoff` = the backoff factor, `max_retry_delay` = the last wait.
Only :class:`etl_shared.errors.TransientSourceError` (what `etl_shared.is_retryable`
accepts) is worth another attempt; bad data, a failed check or a failed load never gets
better, so the retry policy fails those at once with the pipeline's own message.
"""

from __future__ import annotations

import os
from datetime import date, datetime, time, timedelta
from typing import Any

from airflow.sdk import ExceptionRetryPolicy, RetryAction, RetryRule

from etl_shared import policy
from etl_shared.errors import EtlError, TransientSourceError
from etl_shared.partitions import LAST_PARTITION

OWNER = "data-platform"
RETRIES = policy.ATTEMPTS - 1

RETRY_POLICY = ExceptionRetryPolicy(
    rules=[
        RetryRule(
            exception=TransientSourceError,
            action=RetryAction.RETRY,
            reason="transient source error: retrying with exponential backoff",
        ),
        RetryRule(
            exception=EtlError,
            action=RetryAction.FAIL,
            reason="pipeline error that another attempt cannot cure: failing fast",
        ),
    ],
    # Anything else (a bug, a lost warehouse password) fails at once too: a retry
    # would only hide it.
    default=RetryAction.FAIL,
)


def default_args(**overrides: Any) -> dict[str, Any]:
    """default_args for every DAG of this project (read from the environment, no I/O)."""
    retry = policy.retry_policy()
    return {
        "owner": OWNER,
        "retries": retry.retries,
        "retry_delay": timedelta(seconds=retry.first_delay_seconds),
        "retry_exponential_backoff": retry.backoff_factor,
        "max_retry_delay": max(timedelta(seconds=retry.max_delay_seconds), timedelta(seconds=1)),
        "retry_policy": RETRY_POLICY,
        **overrides,
    }


def end_date() -> datetime:
    """The end of flights_daily's schedule: the day after the run that loads the last
    partition (each run loads the day before it), in the policy's time zone.

    The last partition is the data's last day, or FLIGHTS_DAILY_LAST_DATE: `make ui` sets
    it to the end of the landed demo week, so that unpausing the DAG in the UI catches up
    on those days only.
    """
    last = os.environ.get("FLIGHTS_DAILY_LAST_DATE")
    day = date.fromisoformat(last) if last else LAST_PARTITION
    return datetime.combine(day + timedelta(days=2), time(), tzinfo=policy.DAILY.tzinfo)

"""Task defaults: who owns the tasks, and how failures are retried.

Only :class:`etl_shared.errors.TransientSourceError` (what `etl_shared.is_retryable`
accepts) is worth another attempt; bad data, a failed check or a failed load never gets
better, so the retry policy fails those at once with the pipeline's own message.
The first wait is ``ETL_RETRY_DELAY_SECONDS`` (default 30 s) and doubles per attempt.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from airflow.sdk import ExceptionRetryPolicy, RetryAction, RetryRule

from etl_shared.errors import EtlError, TransientSourceError

OWNER = "data-platform"
RETRIES = 3

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


def retry_delay() -> timedelta:
    return timedelta(seconds=float(os.environ.get("ETL_RETRY_DELAY_SECONDS", "30")))


def default_args(**overrides: Any) -> dict[str, Any]:
    """default_args for every DAG of this project (read from the environment, no I/O)."""
    delay = retry_delay()
    return {
        "owner": OWNER,
        "retries": RETRIES,
        "retry_delay": delay,
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": max(delay * 8, timedelta(seconds=1)),
        "retry_policy": RETRY_POLICY,
        **overrides,
    }


def end_date() -> datetime:
    """The last logical date (flight date) flights_daily's schedule covers.

    2013-12-31, or FLIGHTS_DAILY_LAST_DATE: `make ui` sets it to the end of the landed
    demo week, so that unpausing the DAG in the UI catches up on those days only.
    """
    last = date.fromisoformat(os.environ.get("FLIGHTS_DAILY_LAST_DATE", "2013-12-31"))
    return datetime.combine(last, time(), tzinfo=UTC)

"""Which errors Dagster retries: transient source errors only, with exponential backoff.

Every asset runs its etl-shared step inside :func:`fail_fast_unless_retryable`. An error
that another attempt may cure (`etl_shared.errors.is_retryable`) propagates as-is, so the
asset's RetryPolicy retries it; any other error (bad data, a missing file, a failed
check, a failed load, a bug) becomes `dg.Failure(allow_retries=False)` and ends the run
at once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from etl_shared.errors import EtlError, is_retryable

MAX_RETRIES = 3


def retry_delay_seconds() -> float:
    """First retry delay, from ETL_RETRY_DELAY_SECONDS (tests set ~1); doubles each time."""
    return float(os.environ.get("ETL_RETRY_DELAY_SECONDS", "30"))


def source_retry_policy() -> dg.RetryPolicy:
    # Read when the definitions load, so the code location's environment decides.
    return dg.RetryPolicy(
        max_retries=MAX_RETRIES, delay=retry_delay_seconds(), backoff=dg.Backoff.EXPONENTIAL
    )


@contextmanager
def fail_fast_unless_retryable() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        if is_retryable(exc):
            raise
        reason = exc.reason if isinstance(exc, EtlError) else "error"
        raise dg.Failure(
            description=str(exc) or type(exc).__name__,
            metadata={"reason": reason, "error": type(exc).__name__},
            allow_retries=False,
        ) from exc

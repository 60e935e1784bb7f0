"""Which errors Dagster retries: transient source errors only, with exponential backoff.

The numbers are `etl_shared.policy`'s: `max_retries` = attempts - 1, `delay` = the first
wait (``ETL_RETRY_DELAY_SECONDS``, parsed by etl-shared), `Backoff.EXPONENTIAL` for the
factor 2 (Dagster's own curve: the n-th retry waits delay * (2**n - 1)).

Every asset runs its etl-shared step inside :func:`fail_fast_unless_retryable`. An error
that another attempt may cure (`etl_shared.errors.is_retryable`) propagates as-is, so the
asset's RetryPolicy retries it; any other error (bad data, a missing file, a failed
check, a failed load, a bug) becomes `dg.Failure(allow_retries=False)` and ends the run
at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from etl_shared import policy
from etl_shared.errors import EtlError, is_retryable

MAX_RETRIES = policy.ATTEMPTS - 1


def source_retry_policy() -> dg.RetryPolicy:
    # Read when the definitions load, so the code location's environment decides.
    retry = policy.retry_policy()
    return dg.RetryPolicy(
        max_retries=retry.retries, delay=retry.first_delay_seconds, backoff=dg.Backoff.EXPONENTIAL
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

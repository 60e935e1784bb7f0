"""The job container's entry point: `etl-k8s-job`, one partition per pod.

    etl-k8s-job --date 2013-01-05          one given day
    etl-k8s-job --date yesterday           the CronJob: yesterday in $ETL_TIMEZONE
    etl-k8s-job --start S --end E          a backfill index: S + $JOB_COMPLETION_INDEX days
    etl-k8s-job --month last               the report CronJob: last month in $ETL_TIMEZONE
    etl-k8s-job --month 2013-02            the monthly carrier report of a given month

It runs the etl-shared chain in-process (`etl_shared.runner`, platform `k8s`), which
records the run in `pipeline_runs`. Transient source errors are retried there as
`etl_shared.policy` says (4 attempts in all, the first wait $ETL_RETRY_DELAY_SECONDS,
doubled each time); any other error, and a transient one still failing after the last
attempt, exits with code 3, which the Job's pod failure policy turns into "fail now, do
not retry": a retryable error gets the policy's attempts, not attempts x backoffLimit.
The Job's backoffLimit (the policy's retries) is for pods that die (OOM, a lost node).

Bad arguments and settings are refused before anything runs, with the one line every
entry point prints (`error: ...`) and exit code 2, as on every platform (the pod failure
policy fails code 2 at once too: a retry cannot cure them): a date
that is not a day of the data (2013-01-01..2013-12-31), including the CronJob's
"yesterday" outside 2013, and an unsupported or missing WAREHOUSE_URL. A pod never falls
back to a DuckDB file of its own: without ETL_LOCAL_MODE=1, WAREHOUSE_URL must come from
the EtlPipeline's `spec.warehouseSecretRef`.

The report mode (`--month`) writes `carrier_monthly` for the month
(`etl_shared.report.write_carrier_report`). A bad month (not YYYY-MM, or outside the
data, including "last" outside 2013) exits 2. A month with a day not loaded yet exits 3,
one line naming the month and the missing days, nothing written: the pod failure policy
fails the Job at once. It is not retried because no retry the Job can make would help:
the report runs an hour after the daily run that loads the month's last day, so a day
still missing then is a daily run that failed (its Job failed and alerted) or data that
is late, and a Job's retries come within minutes (backoff 10 s doubling, at most 6 min,
`backoffLimit` times), long before anyone loads that day. The failed Job alerts
(EtlPipelineJobFailed); once the day is loaded, run the report again by hand
(`kubectl create job --from=cronjob/<pipeline>-carrier-report-monthly`, which reports
"last" month, or this command with `--month YYYY-MM`; writing a month again replaces it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys

from etl_shared import policy
from etl_shared.config import Settings, check_warehouse_url
from etl_shared.errors import EtlError, InvalidPartitionError, one_line
from etl_shared.partitions import month_key, partition_key
from etl_shared.runner import run_partitions
from k8s_platform.builders import EXIT_BAD_ARGS, EXIT_NOT_RETRYABLE

PLATFORM = "k8s"
WAREHOUSE_SOURCE = "WAREHOUSE_URL (the EtlPipeline's spec.warehouseSecretRef)"


def resolve_partition(
    date: str | None,
    start: str | None,
    end: str | None,
    environ: dict[str, str] | os._Environ[str] | None = None,
    now: dt.datetime | None = None,
) -> str:
    """The partition this pod runs, from its arguments and environment."""
    env = os.environ if environ is None else environ
    if date:
        if date == "yesterday":  # main() checks its bounds
            return policy.yesterday_partition(
                now or dt.datetime.now(dt.UTC), env.get("ETL_TIMEZONE") or policy.TIMEZONE
            )
        return partition_key(date)
    if start and end:
        raw = env.get("JOB_COMPLETION_INDEX")
        if raw is None or not raw.isdigit():
            raise InvalidPartitionError("--start/--end need JOB_COMPLETION_INDEX (an Indexed Job)")
        first, last = (
            dt.date.fromisoformat(partition_key(start)),
            dt.date.fromisoformat(partition_key(end)),
        )
        day = first + dt.timedelta(days=int(raw))
        if day > last:
            raise InvalidPartitionError(f"index {raw} is past the end of {first}..{last}")
        return day.isoformat()
    if env.get("ETL_PARTITION"):
        return partition_key(env["ETL_PARTITION"])
    raise InvalidPartitionError("give --date, or --start and --end with JOB_COMPLETION_INDEX")


def resolve_month(
    month: str,
    environ: dict[str, str] | os._Environ[str] | None = None,
    now: dt.datetime | None = None,
) -> str:
    """The month this report pod writes: `last` is the month before the pod's start in
    $ETL_TIMEZONE (the report CronJob's zone), else the YYYY-MM given (checked)."""
    env = os.environ if environ is None else environ
    if month == "last":
        month = policy.previous_month(
            now or dt.datetime.now(dt.UTC), env.get("ETL_TIMEZONE") or policy.TIMEZONE
        )
    return month_key(month)


def report(month: str) -> int:
    """Write the month's carrier report; return the process exit code."""
    from etl_shared.report import write_carrier_report
    from etl_shared.warehouse import open_warehouse

    try:
        with open_warehouse(Settings.from_env().warehouse_url) as wh:
            result = write_carrier_report(wh, month)
    except Exception as exc:  # one line, and the Job must not retry it (see the docstring)
        print(f"report {month} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_NOT_RETRYABLE
    print(
        f"report {result.month} ok: carrier_monthly {result.carriers} carriers, "
        f"{result.flights} flights"
    )
    return 0


def run(partition: str, *, attempts: int = policy.ATTEMPTS) -> int:
    """Run one partition with retries of transient errors; return the process exit code."""
    (result,) = run_partitions([partition], platform=PLATFORM, attempts=attempts)
    if result.ok and result.ref is not None:
        counts = result.ref.counts
        print(
            f"partition {partition} ok (run {result.ref.run_id}, attempts {result.attempts}): "
            f"extracted={counts.get('extracted')} loaded={counts.get('loaded')} "
            f"quarantined={counts.get('quarantined')} carrier_daily={counts.get('carrier_daily')}"
        )
        return 0
    exc = result.error
    print(
        f"partition {partition} failed after {result.attempts} attempt(s): {type(exc).__name__}: {exc}",
        file=sys.stderr,
    )
    return EXIT_NOT_RETRYABLE  # the attempts are spent: the Job must not multiply them


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="etl-k8s-job", description=__doc__.splitlines()[0])
    parser.add_argument("--date", help="YYYY-MM-DD or 'yesterday' (in $ETL_TIMEZONE)")
    parser.add_argument("--start", help="first day of the backfill (Indexed Job)")
    parser.add_argument("--end", help="last day of the backfill (Indexed Job)")
    parser.add_argument(
        "--month", help="the monthly carrier report: YYYY-MM or 'last' (in $ETL_TIMEZONE)"
    )
    parser.add_argument("--attempts", type=int, default=policy.ATTEMPTS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.month is not None:
        try:
            if args.date or args.start or args.end:
                raise InvalidPartitionError("--month runs the report: give no --date/--start/--end")
            month = resolve_month(args.month)
            check_warehouse_url(Settings.from_env().warehouse_url, source=WAREHOUSE_SOURCE)
        except EtlError as exc:
            print(one_line(exc), file=sys.stderr)
            return EXIT_BAD_ARGS
        return report(month)
    try:
        partition = partition_key(resolve_partition(args.date, args.start, args.end))
        check_warehouse_url(Settings.from_env().warehouse_url, source=WAREHOUSE_SOURCE)
    except EtlError as exc:
        print(one_line(exc), file=sys.stderr)
        return EXIT_BAD_ARGS
    return run(partition, attempts=args.attempts)


if __name__ == "__main__":
    sys.exit(main())

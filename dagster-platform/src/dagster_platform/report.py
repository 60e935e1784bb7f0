"""The monthly carrier report through Dagster: `python -m dagster_platform.report`.

    python -m dagster_platform.report --month 2013-02

Materializes the month's partition of `carrier_monthly` (a run of `carrier_report_monthly`
in the DAGSTER_HOME instance, visible in the UI), what `make report MONTH=` runs. A month
outside the data or an unsupported WAREHOUSE_URL is refused before Dagster loads: one
line, exit code 2. A month with a day not loaded fails the run, naming the missing days,
and writes nothing: exit code 1.
"""

from __future__ import annotations

import argparse
import sys

from etl_shared.config import Settings, check_warehouse_url
from etl_shared.errors import EXIT_BAD_ARGS, EtlError, one_line
from etl_shared.partitions import month_key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--month", required=True, help="the month to report, YYYY-MM")
    args = parser.parse_args(argv)
    try:
        month = month_key(args.month)
        check_warehouse_url(Settings.from_env().warehouse_url)
    except EtlError as exc:
        print(one_line(exc), file=sys.stderr)
        return EXIT_BAD_ARGS

    import dagster as dg

    from dagster_platform.runs import run_report

    with dg.DagsterInstance.get() as instance:
        # The run's events (and stack traces) stay in the instance: see them in `make ui`.
        run = run_report(month, instance=instance, log_level="CRITICAL")
    if not run.ok:
        reason = (run.error or "run failed").rsplit(" <- ", 1)[-1]  # the error at the root
        print(f"carrier report {month} FAILED (run {run.run_id}): {reason}", file=sys.stderr)
        return 1
    meta = run.metadata
    print(
        f"carrier report {month}: {meta.get('carriers')} carriers, {meta.get('flights')} "
        f"flights in carrier_monthly  run {run.run_id}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

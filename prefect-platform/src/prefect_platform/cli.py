"""`prefect-platform run|backfill|report`: what `make run`, `make backfill` and `make report` call.

Runs the flows in this process against a Prefect API: the server of `make ui` when one
answers on PREFECT_API_URL (or localhost:4200), otherwise Prefect's ephemeral server on
the same PREFECT_HOME database, so every run is visible later in `make ui`.
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.request

from etl_shared.config import Settings, check_warehouse_url
from etl_shared.errors import EXIT_BAD_ARGS, EtlError, one_line
from etl_shared.partitions import date_range, month_key, partition_key

LOCAL_API = "http://127.0.0.1:4200/api"


def _api_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def use_local_api() -> str:
    """Point Prefect at a running local server if there is one; say which API is used."""
    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"]
    if _api_answers(LOCAL_API):
        os.environ["PREFECT_API_URL"] = LOCAL_API
        return LOCAL_API
    return "ephemeral server (PREFECT_HOME=" + os.environ.get("PREFECT_HOME", "~/.prefect") + ")"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="prefect-platform", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run one partition as a flights_daily flow run")
    run.add_argument("--date", required=True)
    run.add_argument("--refresh", action="store_true", help="ignore a cached result")
    back = sub.add_parser("backfill", help="run a range of partitions as a backfill flow run")
    back.add_argument("--start", required=True)
    back.add_argument("--end", required=True)
    back.add_argument("--refresh", action="store_true")
    back.add_argument("--max-workers", type=int, default=None)
    rep = sub.add_parser("report", help="run a month's carrier_report_monthly flow run")
    rep.add_argument("--month", required=True, help="YYYY-MM")
    args = parser.parse_args(argv)

    # Bad arguments and settings are refused before any server starts or any alert fires:
    # one line, exit code 2.
    try:
        if args.command == "run":
            partition_key(args.date)
        elif args.command == "report":
            month_key(args.month)
        else:
            date_range(args.start, args.end)
        check_warehouse_url(Settings.from_env().warehouse_url)
    except EtlError as exc:
        print(one_line(exc), file=sys.stderr)
        return EXIT_BAD_ARGS

    print(f"Prefect API: {use_local_api()}", flush=True)
    # Imported after the API choice: Prefect reads its settings at import.
    from prefect_platform.flows import backfill, carrier_report_monthly, flights_daily

    # Prefect's own validation of the typed parameters, still before any run is created.
    if args.command == "run":
        flow, params = flights_daily, {"date": args.date, "refresh": args.refresh}
    elif args.command == "report":
        flow, params = carrier_report_monthly, {"month": args.month}
    else:
        flow, params = backfill, {"start": args.start, "end": args.end, "refresh": args.refresh}
    try:
        flow.validate_parameters(params)
    except Exception as exc:  # prefect.exceptions.ParameterTypeError
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_BAD_ARGS

    if args.command == "run":
        state = flights_daily(date=args.date, refresh=args.refresh, return_state=True)
        result = state.result(raise_on_failure=False)
        if state.is_completed():
            print(f"flights_daily {args.date}: {state.name}; counts {result['counts']}")
            return 0
        print(f"flights_daily {args.date}: {state.name}: {result}", file=sys.stderr)
        return 1

    if args.command == "report":
        state = carrier_report_monthly(month=args.month, return_state=True)
        result = state.result(raise_on_failure=False)
        if state.is_completed():
            print(f"carrier_report_monthly {args.month}: {result['carriers']} carriers, "
                  f"{result['flights']} flights in carrier_monthly")  # fmt: skip
            return 0
        print(f"carrier_report_monthly {args.month}: {state.name}: {result}", file=sys.stderr)
        return 1

    if args.max_workers:  # the flow's task runner, sized for this call
        from prefect.task_runners import ThreadPoolTaskRunner

        backfill = backfill.with_options(
            task_runner=ThreadPoolTaskRunner(max_workers=max(1, args.max_workers))
        )
    state = backfill(start=args.start, end=args.end, refresh=args.refresh, return_state=True)
    print(f"backfill {args.start}..{args.end}: {state.name} {state.message or ''}")
    return 0 if state.is_completed() else 1


if __name__ == "__main__":
    sys.exit(main())

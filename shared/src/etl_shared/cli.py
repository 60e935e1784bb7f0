"""The `etl` command line: seed the landing zone, run, backfill and verify partitions, and
write the monthly carrier report.

Exit codes: 0 ok, 1 a run failed, 2 bad arguments or settings (nothing was touched):
a date that is not a day of the data (2013-01-01..2013-12-31), an unsupported or missing
WAREHOUSE_URL. A bad argument is one line on stderr, `error: ...`, never a traceback.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from etl_shared import policy
from etl_shared.config import Settings, check_warehouse_url
from etl_shared.errors import (
    EXIT_BAD_ARGS,
    EtlError,
    InvalidPartitionError,
    is_bad_argument,
    one_line,
)
from etl_shared.landing import seed as seed_landing
from etl_shared.partitions import date_range, month_key, partition_key
from etl_shared.runner import PartitionResult, run_partitions
from etl_shared.warehouse import open_warehouse, redact_url

app = typer.Typer(
    help="The nycflights13 pipeline: seed, run, backfill, verify, report.", no_args_is_help=True
)
console = Console()
err_console = Console(stderr=True)

DateOpt = Annotated[str, typer.Option(help="Partition date, YYYY-MM-DD.")]
PlatformOpt = Annotated[
    str, typer.Option(envvar="ETL_PLATFORM", help="Platform name written to pipeline_runs.")
]


def _bad_args(exc: Exception) -> typer.Exit:
    """One plain line on stderr (never wrapped, no traceback) and exit code 2."""
    print(one_line(exc), file=sys.stderr)
    return typer.Exit(EXIT_BAD_ARGS)


def _warehouse_url() -> str:
    """WAREHOUSE_URL (or the local-mode default), checked; exit 2 when unsupported or unset."""
    try:
        return check_warehouse_url(Settings.from_env().warehouse_url)
    except EtlError as exc:
        raise _bad_args(exc) from None


def _partitions(start: str, end: str) -> list[str]:
    try:
        return date_range(start, end)
    except InvalidPartitionError as exc:
        raise _bad_args(exc) from None


@app.command()
def seed(
    start: DateOpt = "2013-01-01",
    end: DateOpt = "2013-01-07",
    landing: Annotated[
        Path | None, typer.Option(help="Landing zone (default $LANDING_DIR).")
    ] = None,
    only_missing: Annotated[
        bool, typer.Option(help="Keep the landing files that are already there.")
    ] = False,
) -> None:
    """Write one landing file per flight date, plus the reference files."""
    days = _partitions(start, end)
    target = landing or Settings.from_env().landing_dir
    written = seed_landing(target, days[0], days[-1], overwrite=not only_missing)
    console.print(
        f"seeded {len(written)} of {len(days)} partitions ({days[0]} .. {days[-1]}) into {target}"
    )


@app.command()
def run(date: DateOpt, platform: PlatformOpt = "cli", attempts: int = policy.ATTEMPTS) -> None:
    """Run one partition: extract, validate, transform, load, check."""
    try:
        day = partition_key(date)
    except InvalidPartitionError as exc:
        raise _bad_args(exc) from None
    if not _reachable():
        raise typer.Exit(1)
    (result,) = run_partitions([day], platform=platform, attempts=attempts)
    _print_summary([result])
    raise typer.Exit(0 if result.ok else 1)


@app.command()
def backfill(
    start: DateOpt,
    end: DateOpt,
    platform: PlatformOpt = "cli",
    attempts: int = policy.ATTEMPTS,
    batch_size: Annotated[int, typer.Option(min=1, help="Partitions per batch.")] = 31,
) -> None:
    """Run every partition from start to end (both included), with a progress bar."""
    days = _partitions(start, end)
    if not _reachable():
        raise typer.Exit(1)
    with Progress(
        TextColumn("[bold]backfill"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=err_console,
        transient=False,
    ) as progress:
        task = progress.add_task("", total=len(days))

        def advance(result: PartitionResult) -> None:
            progress.update(
                task, advance=1, description=f"{result.partition} {'ok' if result.ok else 'FAILED'}"
            )

        results = run_partitions(
            days, platform=platform, attempts=attempts, batch_size=batch_size, on_done=advance
        )
    _print_summary(results)
    raise typer.Exit(0 if all(r.ok for r in results) else 1)


@app.command()
def report(
    month: Annotated[str, typer.Option(help="The month to report, YYYY-MM.")],
) -> None:
    """Write the month's carrier report (carrier_monthly) once every day of it is loaded."""
    from etl_shared.report import write_carrier_report

    try:
        key = month_key(month)
    except InvalidPartitionError as exc:
        raise _bad_args(exc) from None
    if not _reachable():
        raise typer.Exit(1)
    try:
        with open_warehouse(_warehouse_url()) as wh:
            result = write_carrier_report(wh, key)
    except EtlError as exc:
        err_console.print(f"[red]failed:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(1) from None
    console.print(
        f"carrier report {result.month}: {result.carriers} carriers, {result.flights} flights"
    )


@app.command()
def verify(date: DateOpt) -> None:
    """Re-run the data-quality checks against what the warehouse holds for a partition."""
    try:
        day = partition_key(date)
    except InvalidPartitionError as exc:
        raise _bad_args(exc) from None
    url = _warehouse_url()
    try:
        with open_warehouse(url) as wh:
            from etl_shared.checks import last_extracted, run_checks

            results = run_checks(wh, day, last_extracted(wh, day))
    except EtlError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    table = Table(title=f"checks for {day}")
    for col in ("check", "result", "detail"):
        table.add_column(col)
    for r in results:
        table.add_row(r.name, "[green]pass[/green]" if r.passed else "[red]FAIL[/red]", r.detail)
    console.print(table)
    raise typer.Exit(0 if all(r.passed for r in results) else 1)


@app.command()
def summary(start: DateOpt, end: DateOpt) -> None:
    """Print the per-day summary of the warehouse: flights, cancellations, carriers, quarantine."""
    days = _partitions(start, end)
    url = _warehouse_url()
    with open_warehouse(url) as wh:
        rows = wh.query(
            """
            SELECT d.flight_date, sum(d.flights), sum(d.cancelled), sum(d.on_time), count(*),
                   (SELECT count(*) FROM quarantine q WHERE q.partition_date = d.flight_date)
            FROM carrier_daily d WHERE d.flight_date BETWEEN ? AND ?
            GROUP BY d.flight_date ORDER BY d.flight_date
            """,
            [dt.date.fromisoformat(days[0]), dt.date.fromisoformat(days[-1])],
        )
    table = Table(title=f"warehouse {redact_url(url)}")
    for col in ("date", "flights", "cancelled", "on time", "carriers", "quarantined"):
        table.add_column(col, justify="right")
    for row in rows:
        table.add_row(*(str(v) for v in row))
    console.print(table)


def _reachable() -> bool:
    """Fail early, with a clear message, when the warehouse cannot be opened: exit 2 for an
    unsupported or missing WAREHOUSE_URL (raised), False (exit 1) for an unreachable one."""
    url = _warehouse_url()
    try:
        with open_warehouse(url):
            return True
    except EtlError as exc:
        if is_bad_argument(exc):
            raise _bad_args(exc) from None
        err_console.print(f"[red]error:[/red] {exc}")
        return False


def _print_summary(results: list[PartitionResult]) -> None:
    table = Table(title="runs")
    for col in ("partition", "status", "extracted", "loaded", "quarantined", "attempts", "error"):
        table.add_column(col)
    for r in results:
        counts = r.ref.counts if r.ref else {}
        table.add_row(
            r.partition,
            "[green]success[/green]" if r.ok else "[red]failed[/red]",
            str(counts.get("extracted", "")),
            str(counts.get("loaded", "")),
            str(counts.get("quarantined", "")),
            str(r.attempts),
            str(r.error or ""),
        )
    console.print(table)
    failed = [r for r in results if not r.ok]
    for r in failed:
        err_console.print(f"[red]failed:[/red] {r.error}")

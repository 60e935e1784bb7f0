"""Run the same partitions through every platform and compare what they load.

Every project is set up first (`make -C <project> setup`: its virtual environment, and
what else its runs need), apart from the timing. Then each platform runs
`make -C <platform> backfill START=… END=…` (its orchestrator, its own warehouse, the
same landing zone), timed; `shared/`'s own backfill (the bare step functions) runs the
same way as the baseline. With `--report-month YYYY-MM`, each warehouse first gets the
month's other days from the bare steps (untimed), and after the backfill each platform
writes the month's carrier report through its own `make report MONTH=…` (timed apart).
Then every warehouse is checksummed per table (`carrier_monthly` too) and compared with
the baseline's. Prints a side-by-side table and writes
reports/compare.md and reports/compare.html (with a bar chart of the wall times).

    python tools/compare.py --start 2013-01-01 --end 2013-01-07 [--report-month 2013-01]
                            [--backend postgres]

Runs with shared/'s environment (`make demo`, `make compare`). Exit code 1 when a run
fails or any two platforms disagree on any table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import os
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from etl_shared.compare import COMPARED_TABLES, checksums, first_differences
from etl_shared.config import Settings
from etl_shared.landing import seed
from etl_shared.partitions import date_range, month_days, month_key
from etl_shared.runner import run_partitions
from etl_shared.warehouse import open_warehouse

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "shared"
PLATFORMS = ("airflow", "dagster", "prefect", "k8s")
LABELS = {
    "shared": "bare steps (etl backfill)",
    "airflow": "Airflow",
    "dagster": "Dagster",
    "prefect": "Prefect",
    "k8s": "Kubernetes (Job path)",
}


@dataclass
class Result:
    name: str
    url: str
    ok: bool = False
    wall: float = 0.0
    setup: float = 0.0
    log: Path | None = None
    loaded: int = 0
    quarantined: int = 0
    partitions: int = 0
    sums: dict[str, tuple[int, str]] = field(default_factory=dict)
    same: dict[str, bool] = field(default_factory=dict)
    report_ok: bool | None = None  # None: no report asked for
    report_wall: float = 0.0


def project_dir(name: str) -> Path:
    return ROOT / (name if name == BASELINE else f"{name}-platform")


def child_env(**extra: str) -> dict[str, str]:
    """This process's environment for a project's make, without the virtual environment
    this tool runs in: each project uses its own .venv, and uv warns when VIRTUAL_ENV
    names another one."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "VIRTUAL_ENV_PROMPT")}
    return {**env, **extra}


def run_make(name: str, args: list[str], env: dict[str, str], log: Path) -> tuple[bool, float]:
    """`make -C <project> <args>`, timed; output to `log`."""
    begin = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.run(
            ["make", "--no-print-directory", "-C", str(project_dir(name)), *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    return proc.returncode == 0, time.perf_counter() - begin


def run_backfill(
    name: str, start: str, end: str, env: dict[str, str], log: Path
) -> tuple[bool, float]:
    """`make -C <project> backfill`, timed; output to `log`."""
    return run_make(name, ["backfill", f"START={start}", f"END={end}"], env, log)


def run_report(name: str, month: str, env: dict[str, str], log: Path) -> tuple[bool, float]:
    """`make -C <project> report MONTH=…`, timed; output to `log`."""
    return run_make(name, ["report", f"MONTH={month}"], env, log)


def other_days(month: str, start: str, end: str) -> list[str]:
    """The days of `month` outside start..end: what the bare steps load before the runs."""
    inside = set(date_range(start, end))
    return [day for day in month_days(month) if day not in inside]


def prefill_month(url: str, landing: Path, staging: Path, days: list[str]) -> None:
    """Load `days` into the warehouse at `url` with the bare steps (not timed, not compared
    apart: every platform's warehouse gets the same rows this way)."""
    results = run_partitions(days, settings=Settings(landing, url, staging), batch_size=31)
    failed = [f"{r.partition}: {r.error}" for r in results if not r.ok]
    if failed:
        raise RuntimeError(f"could not prepare the report month: {failed[:3]}")


def warehouse_facts(result: Result, start: str, end: str) -> None:
    """Rows and partitions of start..end (the compared runs), and every table's checksum."""
    first, last = (dt.date.fromisoformat(d) for d in (start, end))
    with open_warehouse(result.url) as wh:
        ((loaded, days),) = wh.query(
            "SELECT count(*), count(DISTINCT flight_date) FROM flights "
            "WHERE flight_date BETWEEN ? AND ?",
            [first, last],
        )
        ((quarantined,),) = wh.query(
            "SELECT count(*) FROM quarantine WHERE partition_date BETWEEN ? AND ?", [first, last]
        )
    result.loaded, result.partitions, result.quarantined = int(loaded), int(days), int(quarantined)
    result.sums = checksums(result.url)


def compare(
    start: str,
    end: str,
    workdir: Path,
    backend: str,
    names: list[str],
    console: Console,
    report_month: str | None = None,
) -> list[Result]:
    landing = workdir / "landing"
    seed(landing, start, end, overwrite=False)  # keep landing files prepared beforehand
    prefill = other_days(report_month, start, end) if report_month else []
    if prefill:
        seed(landing, prefill[0], prefill[-1], overwrite=False)
    with ExitStack() as stack:
        urls = {}
        if backend == "postgres":
            from etl_shared.testing.postgres import PostgresServer

            server = PostgresServer.start()
            stack.callback(server.stop)
            urls = {name: server.create_database(f"compare_{name}") for name in names}
        else:
            urls = {name: f"duckdb://{workdir / name / 'warehouse.duckdb'}" for name in names}
        results = [Result(name, urls[name]) for name in names]
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as progress:
            # Everything set up first, so the timed runs below are the runs alone.
            task = progress.add_task("setup", total=len(results))
            for result in results:
                progress.update(task, description=f"{LABELS[result.name]}: make setup")
                log = workdir / f"{result.name}-setup.log"
                ok, result.setup = run_make(result.name, ["setup"], child_env(), log)
                if not ok:
                    result.log = log
                    console.print(f"[red]{LABELS[result.name]}: make setup failed; see {log}[/red]")
                elif prefill:
                    progress.update(
                        task, description=f"{LABELS[result.name]}: the month's other days"
                    )
                    prefill_month(result.url, landing, workdir / result.name / "staging", prefill)
                progress.advance(task)
            task = progress.add_task("compare", total=len(results))
            for result in results:
                progress.update(task, description=f"{LABELS[result.name]}: backfill {start}..{end}")
                env = child_env(
                    ETL_DATA_DIR=str(workdir / result.name),
                    LANDING_DIR=str(landing),
                    WAREHOUSE_URL=result.url,
                )
                if result.log is None:  # its setup went through
                    result.log = workdir / f"{result.name}.log"
                    result.ok, result.wall = run_backfill(result.name, start, end, env, result.log)
                    if report_month and result.ok:
                        progress.update(
                            task, description=f"{LABELS[result.name]}: report {report_month}"
                        )
                        report_log = workdir / f"{result.name}-report.log"
                        result.report_ok, result.report_wall = run_report(
                            result.name, report_month, env, report_log
                        )
                        if not result.report_ok:
                            result.ok, result.log = False, report_log
                warehouse_facts(result, start, end)
                progress.advance(task)
            baseline = results[0]
            for result in results:
                result.same = {t: result.sums[t] == baseline.sums[t] for t in COMPARED_TABLES}
            for result in results[1:]:
                for table in COMPARED_TABLES:
                    if not result.same[table]:
                        console.print(
                            f"[red]{LABELS[result.name]} differs from the baseline on {table}:[/red]"
                        )
                        for left, right in first_differences(baseline.url, result.url, table):
                            console.print(f"  baseline: {left}\n  {result.name:>8}: {right}")
    return results


def table_rows(results: list[Result]) -> list[list[str]]:
    base = results[0].wall or 1.0
    rows = []
    for r in results:
        rows.append(
            [
                LABELS[r.name],
                "yes" if r.ok else "FAILED",
                str(r.partitions),
                f"{r.loaded:,}",
                f"{r.quarantined:,}",
                f"{r.sums['flights'][1][:12]} {'✓' if r.same['flights'] else '✗'}",
                f"{r.sums['carrier_daily'][1][:12]} {'✓' if r.same['carrier_daily'] else '✗'}",
                (
                    "not asked"
                    if r.report_ok is None
                    else f"{r.sums['carrier_monthly'][0]} rows "
                    f"{r.sums['carrier_monthly'][1][:12]} {'✓' if r.same['carrier_monthly'] else '✗'}"
                ),
                f"{r.wall:.1f}",
                f"{r.wall / base:.1f}x",
                "" if r.report_ok is None else f"{r.report_wall:.1f}",
                f"{r.setup:.1f}",
            ]
        )
    return rows


HEADER = [
    "platform",
    "ok",
    "partitions",
    "rows loaded",
    "quarantined",
    "flights checksum",
    "carrier_daily checksum",
    "carrier_monthly checksum",
    "wall s",
    "vs bare steps",
    "report s",
    "setup s (not in wall s)",
]
WHAT_IS_TIMED = (
    "Wall s is `make backfill` alone: the tool's start-up and the runs of every partition "
    "(seeding is a no-op: the landing files exist). Each project was set up before any "
    "timing began (`make setup`: virtual environment, and the Airflow metadata database); "
    "that time is the last column, 0.1 s or so when nothing was left to do. Report s is "
    "`make report MONTH=…` alone, after the backfill completed the month (the month's "
    "other days were loaded beforehand by the bare steps, untimed)."
)


def write_reports(results: list[Result], start: str, end: str, backend: str, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rows = table_rows(results)
    title = f"Side by side: {start} .. {end} on {backend}"
    md = [
        f"# {title}",
        "",
        "Each platform ran the same partitions through its own orchestrator into its own "
        "warehouse; checksums are per table over normalized rows (run ids left out), ✓ when "
        "equal to the bare step functions' warehouse. " + WHAT_IS_TIMED,
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
    ]
    md += ["| " + " | ".join(row) + " |" for row in rows]
    (out / "compare.md").write_text("\n".join(md) + "\n")
    width, bar_h, gap, left = 640, 22, 10, 190
    longest = max(r.wall for r in results) or 1.0
    bars = []
    for i, r in enumerate(results):
        y = i * (bar_h + gap)
        w = max(2.0, (width - left - 70) * r.wall / longest)
        bars.append(
            f'<text x="{left - 8}" y="{y + 15}" text-anchor="end">{html.escape(LABELS[r.name])}</text>'
            f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{"#4c78a8" if r.ok else "#e45756"}"/>'
            f'<text x="{left + w + 6:.1f}" y="{y + 15}">{r.wall:.1f} s</text>'
        )
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{len(results) * (bar_h + gap)}" font-family="sans-serif" font-size="13">'
        + "".join(bars)
        + "</svg>"
    )
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in HEADER)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    (out / "compare.html").write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(WHAT_IS_TIMED)}</p><table><tr>{cells}</tr>{body}</table>"
        f"<h2>Wall time</h2>{svg}</body></html>\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", default="2013-01-01")
    parser.add_argument("--end", default="2013-01-07")
    parser.add_argument("--backend", choices=("duckdb", "postgres"), default="duckdb")
    parser.add_argument(
        "--report-month", default=None, help="also write and compare this month's carrier report"
    )
    parser.add_argument("--platforms", default=",".join(PLATFORMS))
    parser.add_argument("--workdir", type=Path, default=ROOT / "data" / "compare")
    parser.add_argument("--out", type=Path, default=ROOT / "reports")
    args = parser.parse_args(argv)
    date_range(args.start, args.end)  # refuses a bad range before anything runs
    if args.report_month:
        args.report_month = month_key(args.report_month)
    names = [BASELINE, *(p for p in args.platforms.split(",") if p)]
    unknown = [n for n in names[1:] if n not in PLATFORMS]
    if unknown:
        parser.error(f"unknown platform(s) {unknown}: choose from {', '.join(PLATFORMS)}")
    console = Console(width=150)
    args.workdir.mkdir(parents=True, exist_ok=True)
    results = compare(
        args.start, args.end, args.workdir, args.backend, names, console, args.report_month
    )
    table = Table(title=f"{args.start} .. {args.end} on {args.backend}")
    for col in HEADER:
        table.add_column(col, justify="right")
    for row in table_rows(results):
        table.add_row(*row)
    console.print(table)
    console.print(WHAT_IS_TIMED)
    write_reports(results, args.start, args.end, args.backend, args.out)
    console.print(f"reports: {args.out / 'compare.md'}, {args.out / 'compare.html'}")
    failed = [r.name for r in results if not r.ok]
    for name in failed:
        console.print(f"[red]{name} failed; its log: {args.workdir / (name + '.log')}[/red]")
    return 0 if not failed and all(all(r.same.values()) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

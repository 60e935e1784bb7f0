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
`main` then adds the selection table (`measure_selection`): each tool's start-up apart
from its cost per partition, beside its own no-op pipeline, with its peak memory, its
orchestration code and what it gives (`--selection-repeat 0` leaves it out).

    python tools/compare.py --start 2013-01-01 --end 2013-01-07 [--report-month 2013-01]
                            [--backend postgres]

Runs with shared/'s environment (`make demo`, `make compare`). Exit code 1 when a run
fails or any two platforms disagree on any table.
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import html
import os
import shutil
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from etl_shared import bench
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


def write_reports(
    results: list[Result],
    start: str,
    end: str,
    backend: str,
    out: Path,
    selections: list[Selection] | None = None,
) -> None:
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
    if selections:
        md += ["", *selection_markdown(selections)]
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
        f"<h2>Wall time</h2>{svg}{selection_html(selections) if selections else ''}"
        "</body></html>\n"
    )


# ------------------------------------------------------------------ the selection table
# What a reader weighs when choosing a tool: its start-up apart from its cost per
# partition (and that cost beside the tool's own no-op pipeline), its peak memory, how much
# orchestration code it takes, how many files a reader opens to follow one partition, and
# what the tool gives in return. The figures are measured through the one bench harness
# (etl_shared.bench: a fresh process per measurement, each process's own peak memory).

# The platform's own code: Python under these folders (tests and bench never counted).
SOURCE_DIRS = {
    "airflow": ("dags", "include", "plugins", "providers"),
    "dagster": ("src",),
    "prefect": ("src", "deploy"),
    "k8s": ("src",),
}
# The files a reader opens to follow one partition from the tool's trigger to the step
# functions of etl-shared (which every platform shares, so not counted): checked to exist.
READER_FILES = {
    "airflow": (
        "dags/flights_daily.py",
        "include/etl_airflow/runs.py",
        "include/etl_airflow/policy.py",
        "include/etl_airflow/engine.py",
        "include/etl_airflow/assets.py",
        "providers/etl-warehouse/src/airflow_provider_etl_warehouse/hooks/warehouse.py",
    ),
    "dagster": (
        "src/dagster_platform/definitions.py",
        "src/dagster_platform/defs/partitions.py",
        "src/dagster_platform/defs/assets.py",
        "src/dagster_platform/defs/resources.py",
        "src/dagster_platform/resources.py",
        "src/dagster_platform/io_managers.py",
        "src/dagster_platform/defs/checks.py",
        "src/dagster_platform/defs/hooks.py",
        "src/dagster_platform/retries.py",
    ),
    "prefect": (
        "src/prefect_platform/flows/flights_daily.py",
        "src/prefect_platform/tasks.py",
        "src/prefect_platform/hooks.py",
        "src/prefect_platform/params.py",
        "src/prefect_platform/cache.py",
        "src/prefect_platform/events.py",
    ),
    "k8s": (
        "examples/flights-daily.yaml",
        "src/k8s_platform/builders.py",
        "src/k8s_platform/jobcmd.py",
    ),
}
GIVES_HEADER = ["UI", "lineage", "retries per step", "event triggers"]
GIVES = {
    "shared": ("none (CLI)", "none", "no: the whole partition", "none"),
    "airflow": (
        "yes: grid, graph, logs",
        "assets between DAGs",
        "yes: per task",
        "partitioned asset schedules (the month waits for its days)",
    ),
    "dagster": (
        "yes: asset graph, runs",
        "asset graph, per partition",
        "yes: RetryPolicy per asset",
        "sensors (a new landing file), automation conditions (the month)",
    ),
    "prefect": (
        "yes: flow runs, deployments",
        "none (flow run graph)",
        "yes: per task, with a condition",
        "deployment triggers on events (the month complete)",
    ),
    "k8s": (
        "none (kubectl, metrics, Grafana)",
        "none",
        "no: the whole partition in its pod",
        "CronJobs only (the report's pod checks the month)",
    ),
}
# The tool's no-op pipeline of the same shape in its bench/ folder (`bench.py --child
# KIND N` runs N partitions of it in a fresh process), and what that child needs.
NOOP_KIND = {"airflow": "noop", "dagster": "noop", "prefect": "noop_backfill", "k8s": "noop"}
SELECTION_HEADER = [
    "platform",
    "start-up s",
    "per partition s",
    "no-op per partition s",
    "ratio to floor",
    "peak MiB",
    "orchestration lines",
    "files to follow a partition",
    *GIVES_HEADER,
]
SELECTION_NOTE = (
    "Start-up and per-partition cost come from timed runs of `make backfill` for 1 day "
    "and for the whole range (each in a fresh process, through etl_shared.bench, the "
    "fastest of the rounds kept): per "
    "partition = (t_n - t_1) / (n - 1), start-up = t_1 - per partition (make, uv, the "
    "tool's imports and its server or database, seeding check and summary). The floor is "
    "the tool's no-op pipeline of the same shape (bench/ of each platform) timed the same "
    "way; the ratio is per partition against per partition. Peak MiB is the largest "
    "process of the run. Orchestration lines: the platform's own Python (not etl-shared), "
    "without blank lines, comments and docstrings; files: those a reader opens to follow "
    "one partition from the tool to etl-shared's steps."
)


@dataclass
class Selection:
    """One platform's row of the selection table (seconds, MiB)."""

    name: str
    partitions: int
    t1: float
    tn: float
    peak_mib: float
    floor_t1: float | None = None
    floor_tn: float | None = None
    floor_peak_mib: float | None = None
    code_lines: int = 0
    code_files: int = 0
    reader_files: int = 0
    load: float | None = None  # the machine's 1-minute load average after measuring it

    @property
    def per_partition(self) -> float:
        return fit(self.t1, self.tn, self.partitions)[1]

    @property
    def startup(self) -> float:
        return fit(self.t1, self.tn, self.partitions)[0]

    @property
    def floor_per_partition(self) -> float | None:
        if self.floor_t1 is None or self.floor_tn is None:
            return None
        return fit(self.floor_t1, self.floor_tn, self.partitions)[1]

    @property
    def ratio(self) -> float | None:
        """Cost per partition over the no-op's; None when either is too small to divide
        (below MEASURABLE_S: within the noise of two timed runs)."""
        floor = self.floor_per_partition
        if floor is None or floor < MEASURABLE_S or self.per_partition < MEASURABLE_S:
            return None
        return self.per_partition / floor


# A cost per partition below this is within the noise of two timed runs: no ratio of it.
MEASURABLE_S = 0.01


def fit(t1: float, tn: float, n: int) -> tuple[float, float]:
    """(start-up, cost per partition) from a 1-partition and an n-partition run."""
    if n < 2:
        return t1, 0.0
    per = (tn - t1) / (n - 1)
    return t1 - per, per


def code_lines(path: Path) -> int:
    """Lines of code in one Python file: not blank, not only a comment, not a docstring."""
    text = path.read_text()
    docstrings: set[int] = set()
    for node in ast.walk(ast.parse(text)):
        body = getattr(node, "body", None)
        if (
            isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and body
        ):
            first = body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                docstrings.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    return sum(
        1
        for number, line in enumerate(text.splitlines(), 1)
        if number not in docstrings and line.strip() and not line.lstrip().startswith("#")
    )


def orchestration_code(name: str, root: Path = ROOT) -> tuple[int, int]:
    """(lines, files) of the platform's own Python under SOURCE_DIRS, tests excluded."""
    base = root / f"{name}-platform"
    files = [
        path
        for folder in SOURCE_DIRS[name]
        for path in sorted((base / folder).rglob("*.py"))
        if not {"tests", "__pycache__"} & set(path.relative_to(base).parts)
    ]
    return sum(code_lines(p) for p in files), len(files)


def reader_files(name: str, root: Path = ROOT) -> list[Path]:
    """The declared files to follow one partition; a missing one is an error naming it."""
    base = root / f"{name}-platform"
    paths = [base / rel for rel in READER_FILES[name]]
    missing = [str(p.relative_to(root)) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{name}: READER_FILES names missing files: {missing}")
    return paths


def measure_selection(
    results: list[Result],
    start: str,
    end: str,
    workdir: Path,
    console: Console,
    *,
    repeat: int = 2,
) -> list[Selection]:
    """Time `make backfill` for 1 day and for start..end, and each tool's no-op pipeline
    the same way, through etl_shared.bench (after compare(): everything is set up and
    every tool has run once, so no first-run cost lands in these figures)."""
    n = len(date_range(start, end))
    landing = workdir / "landing"
    base = workdir / "selection"
    shutil.rmtree(base, ignore_errors=True)
    selections = []
    for result in results:
        if not result.ok:
            continue
        name, label = result.name, LABELS[result.name]

        def backfill(days: int, name: str = name, label: str = label) -> bench.Case:
            last = date_range(start, end)[days - 1]
            data = base / name / f"x{days}"
            env = child_env(
                ETL_DATA_DIR=str(data),
                LANDING_DIR=str(landing),
                WAREHOUSE_URL=f"duckdb://{data / 'warehouse.duckdb'}",
            )
            argv = ["make", "--no-print-directory", "-C", str(project_dir(name)), "backfill"]
            return bench.Case(f"{label} x{days}", [*argv, f"START={start}", f"END={last}"], env)

        cases = [backfill(1), backfill(n)]
        if name in NOOP_KIND:
            cases += [noop_case(name, 1), noop_case(name, n)]
        measured = bench.measure(cases, repeat=repeat, warmup=0, console=console)
        one, many = measured[0], measured[1]
        row = Selection(name, n, one.wall_min, many.wall_min, max(one.peak_mib, many.peak_mib))
        if name in NOOP_KIND:
            row.floor_t1, row.floor_tn = measured[2].wall_min, measured[3].wall_min
            row.floor_peak_mib = max(measured[2].peak_mib, measured[3].peak_mib)
        row.load = os.getloadavg()[0]
        if name != BASELINE:
            row.code_lines, row.code_files = orchestration_code(name)
            row.reader_files = len(reader_files(name))
        console.print(
            f"{label}: start-up {row.startup:.2f} s, {row.per_partition:.3f} s per partition"
            + (f" (no-op {row.floor_per_partition:.3f} s)" if row.floor_per_partition else "")
        )
        selections.append(row)
    return selections


def noop_case(name: str, days: int) -> bench.Case:
    """The tool's no-op pipeline for `days` partitions in a fresh process (its bench child)."""
    project = project_dir(name)
    python = project / ".venv" / "bin" / "python"
    script = project / "bench" / "bench.py"
    env = child_env(ETL_LOCAL_MODE="1")
    if name == "airflow":  # the bench's own Airflow home: the no-op DAG, a migrated DB
        subprocess.run([python, script, "--prepare"], env=env, check=True, capture_output=True)
        home = project / "airflow_home" / "bench"
        env.update(
            AIRFLOW_HOME=str(home),
            AIRFLOW__CORE__DAGS_FOLDER=str(home / "dags"),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__LOGGING__LOGGING_LEVEL="ERROR",
        )
    elif name == "dagster":  # the instance `make backfill` uses
        env.update(DAGSTER_HOME=str(project / "dagster_home"), DAGSTER_DEPLOYMENT="local")
    elif name == "prefect":  # the Prefect home `make backfill` migrated
        env.update(
            PREFECT_HOME=str(project / "prefect_home"),
            PREFECT_API_DATABASE_MIGRATE_ON_START="false",
            PREFECT_LOGGING_LEVEL="WARNING",
        )
    argv = [python, script, "--child", NOOP_KIND[name], str(days)]
    return bench.Case(f"{LABELS[name]} no-op x{days}", argv, env, cwd=project)


def print_selection(selections: list[Selection], console: Console) -> None:
    table = Table(title="Selection table")
    for col in SELECTION_HEADER:
        table.add_column(col, justify="right")
    for row in selection_rows(selections):
        table.add_row(*row)
    console.print(table)
    console.print(SELECTION_NOTE + " " + machine_note(selections))


def _s(x: float | None, digits: int = 2) -> str:
    if x is None:
        return "—"
    return f"{x:.{digits}f}" if x >= 0 else "< 0 (noise)"


def selection_rows(selections: list[Selection]) -> list[list[str]]:
    rows = []
    for s in selections:
        ratio = s.ratio
        rows.append(
            [
                LABELS[s.name],
                _s(s.startup),
                _s(s.per_partition, 3),
                _s(s.floor_per_partition, 3),
                "—" if ratio is None else f"{ratio:.2f}x",
                f"{s.peak_mib:,.0f}",
                "—" if s.name == BASELINE else f"{s.code_lines:,} in {s.code_files} files",
                "—" if s.name == BASELINE else str(s.reader_files),
                *GIVES[s.name],
            ]
        )
    return rows


def machine_note(selections: list[Selection]) -> str:
    """The machine the figures were measured on (a busy machine inflates start-up most)."""
    loads = [f"{LABELS[s.name]} {s.load:.1f}" for s in selections if s.load is not None]
    note = f"Measured on {os.cpu_count()} cores"
    return note + (f"; 1-minute load average after each: {', '.join(loads)}." if loads else ".")


def selection_markdown(selections: list[Selection]) -> list[str]:
    rows = selection_rows(selections)
    return [
        "## Selection table",
        "",
        SELECTION_NOTE + " " + machine_note(selections),
        "",
        "| " + " | ".join(SELECTION_HEADER) + " |",
        "|" + "---|" * len(SELECTION_HEADER),
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def selection_svg(selections: list[Selection]) -> str:
    """Two bar panels, start-up and cost per partition, each platform's pipeline beside
    its no-op floor (inline SVG, nothing fetched)."""
    label_w, panel_w, bar_h, gap, top = 190, 300, 12, 12, 24
    row_h = 2 * bar_h + gap
    height = top + len(selections) * row_h + 10
    panels = [
        ("start-up s", lambda s: s.startup, lambda s: None),
        ("per partition s", lambda s: s.per_partition, lambda s: s.floor_per_partition),
    ]
    parts = []
    for i, s in enumerate(selections):
        y = top + i * row_h
        parts.append(
            f'<text x="{label_w - 8}" y="{y + bar_h + 4}" text-anchor="end">'
            f"{html.escape(LABELS[s.name])}</text>"
        )
    for p, (title, value, floor) in enumerate(panels):
        x0 = label_w + p * (panel_w + 40)
        longest = max(
            [max(value(s), 0.0) for s in selections]
            + [floor(s) or 0.0 for s in selections]
            + [1e-9]
        )
        parts.append(f'<text x="{x0}" y="14" font-weight="bold">{html.escape(title)}</text>')
        for i, s in enumerate(selections):
            y = top + i * row_h
            for j, (v, colour) in enumerate(((value(s), "#4c78a8"), (floor(s), "#bab0ac"))):
                if v is None:
                    continue
                w = max(1.0, (panel_w - 60) * max(v, 0.0) / longest)
                yy = y + j * bar_h
                parts.append(
                    f'<rect x="{x0}" y="{yy}" width="{w:.1f}" height="{bar_h - 1}" fill="{colour}"/>'
                    f'<text x="{x0 + w + 4:.1f}" y="{yy + bar_h - 2}" font-size="11">{v:.2f}</text>'
                )
    legend_y = height - 2
    parts.append(
        f'<rect x="{label_w}" y="{legend_y - 9}" width="10" height="9" fill="#4c78a8"/>'
        f'<text x="{label_w + 14}" y="{legend_y}" font-size="11">pipeline</text>'
        f'<rect x="{label_w + 80}" y="{legend_y - 9}" width="10" height="9" fill="#bab0ac"/>'
        f'<text x="{label_w + 94}" y="{legend_y}" font-size="11">the tool\'s no-op</text>'
    )
    width = label_w + 2 * panel_w + 60
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 6}" '
        f'font-family="sans-serif" font-size="13">' + "".join(parts) + "</svg>"
    )


def selection_html(selections: list[Selection]) -> str:
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in SELECTION_HEADER)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
        for row in selection_rows(selections)
    )
    return (
        f"<h2>Selection table</h2><p>{html.escape(SELECTION_NOTE)} "
        f"{html.escape(machine_note(selections))}</p>"
        f"<table><tr>{cells}</tr>{body}</table>"
        f"<h3>Start-up and cost per partition</h3>{selection_svg(selections)}"
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
    parser.add_argument(
        "--selection-repeat",
        type=int,
        default=2,
        help="rounds of the selection table's timed runs, the least disturbed kept "
        "(0: no selection table)",
    )
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
    selections = None
    if args.selection_repeat > 0 and all(r.ok for r in results):
        try:
            selections = measure_selection(
                results, args.start, args.end, args.workdir, console, repeat=args.selection_repeat
            )
        except bench.BenchError as exc:  # a timed run failed: say which, report the rest
            console.print(f"[red]selection table left out: {exc}[/red]")
        else:
            print_selection(selections, console)
    write_reports(results, args.start, args.end, args.backend, args.out, selections)
    console.print(f"reports: {args.out / 'compare.md'}, {args.out / 'compare.html'}")
    failed = [r.name for r in results if not r.ok]
    for name in failed:
        console.print(f"[red]{name} failed; its log: {args.workdir / (name + '.log')}[/red]")
    return 0 if not failed and all(all(r.same.values()) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

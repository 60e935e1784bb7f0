"""`make bench-year`: the full year through one platform's own backfill (not part of test-all).

Each platform's `bench/bench_year.py` calls :func:`main` with a `backfill(partitions, env)`
that runs the partitions the way that tool's users backfill (its scheduler, its backfill
API, its backfill flow, its Indexed Job), starting whatever the tool needs and stopping
it before it returns. This harness does the rest, the same way for the four:

* the year's landing zone is seeded once into a cache ($ETL_BENCH_CACHE/landing, default
  data/bench-cache) and the warehouse is a fresh DuckDB file under data/bench-year;
* **wall** is the backfill call, tool start-up included; **per partition** is the slope of
  the partitions' finish times (`pipeline_runs.finished_at`: (last - first) / (n - 1));
  **start-up** is wall minus n x per partition; **peak** is the largest sum of resident
  memory of this process and all its descendants, sampled every 0.2 s (a scheduler, its
  API server and its workers count together);
* the warehouse is then checked equal, table by table, to the bare steps' warehouse
  (`etl backfill` over the same landing zone, timed beside it as the floor).

`BENCH_YEAR_START` / `BENCH_YEAR_END` narrow the range (a quick try: a week). The figures
go to stdout and to $BENCH_YEAR_OUT (JSON; default data/bench-year/result.json);
`python -m etl_shared.bench_year summary FILE...` prints them side by side. Asserts no
speed; exits 1 when the backfill fails or the warehouses differ.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from rich.console import Console
from rich.table import Table

YEAR = ("2013-01-01", "2013-12-31")
DAILY_TABLES = ("flights", "carrier_daily", "quarantine")
Backfill = Callable[[list[str], dict[str, str]], None]


class TreePeak:
    """The peak of the summed resident memory of a process and its descendants, sampled
    from /proc in a background thread (`with TreePeak() as peak: ...; peak.mib`)."""

    def __init__(self, root: int | None = None, interval: float = 0.2) -> None:
        self.root = root or os.getpid()
        self.interval = interval
        self.mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._page = os.sysconf("SC_PAGE_SIZE")

    def sample(self) -> float:
        parents: dict[int, int] = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            # pid (comm) state ppid ...: comm may hold spaces, so split after its ')'
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        tree, frontier = {self.root}, [self.root]
        children: dict[int, list[int]] = {}
        for pid, ppid in parents.items():
            children.setdefault(ppid, []).append(pid)
        while frontier:
            for child in children.get(frontier.pop(), []):
                if child not in tree:
                    tree.add(child)
                    frontier.append(child)
        total = 0
        for pid in tree:
            try:
                total += int(Path(f"/proc/{pid}/statm").read_text().split()[1])
            except (OSError, IndexError, ValueError):
                continue
        return total * self._page / 2**20

    def _run(self) -> None:
        while not self._stop.is_set():
            self.mib = max(self.mib, self.sample())
            self._stop.wait(self.interval)

    def __enter__(self) -> TreePeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def year_range(environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    env = os.environ if environ is None else environ
    return env.get("BENCH_YEAR_START") or YEAR[0], env.get("BENCH_YEAR_END") or YEAR[1]


def finish_times(url: str, partitions: list[str]) -> dict[str, dt.datetime]:
    """Each partition's first successful finish, from `pipeline_runs`."""
    from etl_shared.warehouse import open_warehouse

    with open_warehouse(url) as wh:
        rows = wh.query(
            "SELECT partition_date, min(finished_at) FROM pipeline_runs "
            "WHERE status = 'success' AND partition_date IS NOT NULL GROUP BY partition_date"
        )
    wanted = set(partitions)
    return {d.isoformat(): t for d, t in rows if d.isoformat() in wanted}


def slope(started: dt.datetime, wall: float, finished: dict[str, dt.datetime]) -> dict[str, float]:
    """Start-up and per-partition cost from the finish times of n partitions."""
    times = sorted(finished.values())
    n = len(times)
    per = (times[-1] - times[0]).total_seconds() / (n - 1) if n > 1 else float("nan")
    first = (times[0] - started).total_seconds() if times else float("nan")
    return {"per_partition": per, "startup": wall - n * per if n > 1 else first}


def _bare(env: dict[str, str], start: str, end: str) -> float:
    """The bare steps (`etl backfill`, batches of 31) into env's warehouse; seconds."""
    etl = Path(sys.executable).with_name("etl")
    began = time.perf_counter()
    done = subprocess.run(
        [str(etl), "backfill", "--start", start, "--end", end],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise SystemExit(f"the bare steps failed (etl backfill):\n{done.stdout}{done.stderr}")
    return time.perf_counter() - began


def main(platform: str, backfill: Backfill, *, how: str, cwd: Path | None = None) -> int:
    """Seed, run `backfill` over the year, measure, check parity, report. `how` says in a
    few words what ran (printed beside the figures)."""
    from etl_shared.compare import checksums
    from etl_shared.landing import seed
    from etl_shared.partitions import date_range

    console = Console(width=160)
    here = Path(cwd or os.getcwd())
    start, end = year_range()
    partitions = date_range(start, end)
    cache = Path(os.environ.get("ETL_BENCH_CACHE") or here / "data" / "bench-cache")
    landing = cache / "landing"
    if not (landing / ".complete").exists():
        with console.status(f"seeding {YEAR[0]}..{YEAR[1]} into {landing} (once)"):
            seed(landing, *YEAR)
            (landing / ".complete").touch()
    work = here / "data" / "bench-year"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    out = Path(os.environ.get("BENCH_YEAR_OUT") or work / "result.json")

    def env_for(name: str) -> dict[str, str]:
        return {
            **os.environ,
            "ETL_LOCAL_MODE": "1",
            "ETL_DATA_DIR": str(work / name),
            "LANDING_DIR": str(landing),
            "STAGING_DIR": str(work / name / "staging"),
            "WAREHOUSE_URL": f"duckdb://{work / name / 'warehouse.duckdb'}",
        }

    bare_env, env = env_for("bare"), env_for(platform)
    for e in (bare_env, env):
        Path(e["STAGING_DIR"]).mkdir(parents=True)
    with console.status(f"bare steps: etl backfill {start}..{end}"):
        bare_wall = _bare(bare_env, start, end)
    console.print(f"bare steps (etl backfill, batches of 31): {bare_wall:.1f} s")
    console.print(f"{platform}: {how}, {len(partitions)} partitions {start}..{end}")
    started = dt.datetime.now(dt.UTC)
    began = time.perf_counter()
    error = None
    with TreePeak() as peak:
        try:
            backfill(partitions, env)
        except Exception as exc:  # reported below, with what did finish
            error = f"{type(exc).__name__}: {exc}"
    wall = time.perf_counter() - began
    url = env["WAREHOUSE_URL"]
    finished = finish_times(url, partitions) if Path(url[len("duckdb://") :]).exists() else {}
    figures = slope(started, wall, finished)
    ours = checksums(url, tables=DAILY_TABLES) if finished else {}
    theirs = checksums(bare_env["WAREHOUSE_URL"], tables=DAILY_TABLES)
    differ = [t for t in DAILY_TABLES if ours.get(t) != theirs[t]]
    result = {
        "platform": platform,
        "how": how,
        "partitions": len(partitions),
        "succeeded": len(finished),
        "range": [start, end],
        "wall": wall,
        **figures,
        "peak_mib": peak.mib,
        "bare_wall": bare_wall,
        "same_as_bare_steps": not differ and not error and len(finished) == len(partitions),
        "differ": differ,
        "error": error,
        "checksums": {t: list(v) for t, v in ours.items()},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    summary([out], console)
    if error:
        console.print(f"[red]{platform}: the backfill failed: {error}")
    if differ:
        console.print(f"[red]{platform}: differs from the bare steps in {', '.join(differ)}")
    return 0 if result["same_as_bare_steps"] else 1


def summary(files: list[Path], console: Console | None = None) -> None:
    """One table of bench-year results (JSON files written by :func:`main`)."""
    console = console or Console(width=160)
    table = Table(title="full year through each platform's own backfill (make bench-year)")
    for col in (
        "platform",
        "how",
        "partitions",
        "wall s",
        "start-up s",
        "per partition s",
        "peak MiB",
        "bare steps s",
        "vs bare",
        "same rows as bare steps",
    ):
        table.add_column(col, justify="left" if col in ("platform", "how") else "right")
    for f in files:
        r = json.loads(Path(f).read_text())
        table.add_row(
            r["platform"],
            r["how"],
            f"{r['succeeded']}/{r['partitions']}",
            f"{r['wall']:.1f}",
            f"{r['startup']:.1f}",
            f"{r['per_partition']:.3f}",
            f"{r['peak_mib']:,.0f}",
            f"{r['bare_wall']:.1f}",
            f"{r['wall'] / r['bare_wall']:.1f}x",
            "yes" if r["same_as_bare_steps"] else f"NO ({', '.join(r['differ']) or r['error']})",
        )
    console.print(table)


if __name__ == "__main__":
    if sys.argv[1:2] != ["summary"]:
        raise SystemExit("usage: python -m etl_shared.bench_year summary FILE...")
    found = [Path(f) for f in sys.argv[2:] if Path(f).exists()]
    if not found:
        raise SystemExit("no bench-year results: run make bench-year first")
    summary(found)

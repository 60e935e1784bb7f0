"""Benchmarks of etl-shared, each beside its floor measured in the same run.

* full year: 365 partitions backfilled into a fresh DuckDB warehouse (`etl backfill`'s
  code path) vs. the floor: the same read -> aggregate -> write as one raw DuckDB SQL job.
* 10 M rows: one synthetic partition made by replicating the year's flights onto one
  date (flight numbers shifted so keys stay unique), through `run_partition`, vs. the
  same read -> type -> aggregate -> write as raw DuckDB SQL.

Each measurement runs in a child process, so its peak memory (max RSS) is its own.
Prints a table; asserts nothing (speed is reported, not tested).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
from rich.console import Console
from rich.table import Table

BIG_DAY = "2013-07-01"
BIG_ROWS = 10_000_000


def _child(kind: str, workdir: Path) -> dict[str, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(workdir)],
        check=True,
        capture_output=True,
        text=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["peak_mib"] = max(after, before) / 1024  # ru_maxrss is KiB on Linux
    return result


def _floor_sql(files: str, db: Path) -> float:
    con = duckdb.connect(str(db))
    start = time.perf_counter()
    con.execute(
        f"""
        CREATE TABLE flights AS
        SELECT make_date(year, month, day) AS flight_date, carrier, flight, tailnum, origin, dest,
               sched_dep_time, dep_time, dep_delay, sched_arr_time, arr_time, arr_delay,
               air_time, distance, dep_time IS NULL AS cancelled
        FROM read_csv({files}, header = true, nullstr = 'NA',
                      types = {{'tailnum': 'VARCHAR', 'time_hour': 'VARCHAR'}})
        """
    )
    con.execute(
        """
        CREATE TABLE carrier_daily AS
        SELECT flight_date, carrier, count(*) AS flights, count(*) FILTER (WHERE cancelled) AS cancelled,
               count(arr_delay) AS arrived, count(*) FILTER (WHERE arr_delay < 15) AS on_time,
               avg(dep_delay), avg(arr_delay), coalesce(sum(distance) FILTER (WHERE NOT cancelled), 0)
        FROM flights GROUP BY ALL
        """
    )
    (rows,) = con.execute("SELECT count(*) FROM flights").fetchone()
    con.close()
    return time.perf_counter() - start, rows


def child(kind: str, workdir: Path) -> dict[str, float]:
    from etl_shared import steps
    from etl_shared.config import Settings
    from etl_shared.partitions import date_range
    from etl_shared.runner import run_partitions

    landing = workdir / "landing"
    if kind == "year":
        settings = Settings(landing, f"duckdb://{workdir / 'year.duckdb'}", workdir / "staging")
        start = time.perf_counter()
        results = run_partitions(
            date_range("2013-01-01", "2013-12-31"), settings=settings, batch_size=31
        )
        wall = time.perf_counter() - start
        assert all(r.ok for r in results), [str(r.error) for r in results if not r.ok][:3]
        rows = sum(r.ref.counts["loaded"] for r in results)
        return {"wall": wall, "rows": rows}
    if kind == "year_floor":
        wall, rows = _floor_sql(
            f"'{landing}/flights/date=*/flights.csv'", workdir / "year_floor.duckdb"
        )
        return {"wall": wall, "rows": rows}
    big = workdir / "big"
    if kind == "big":
        settings = Settings(big, f"duckdb://{workdir / 'big.duckdb'}", workdir / "staging")
        start = time.perf_counter()
        ref = steps.run_partition(BIG_DAY, settings=settings)
        return {"wall": time.perf_counter() - start, "rows": ref.counts["loaded"]}
    if kind == "big_floor":
        wall, rows = _floor_sql(
            f"'{big}/flights/date={BIG_DAY}/flights.csv'", workdir / "big_floor.duckdb"
        )
        return {"wall": wall, "rows": rows}
    raise SystemExit(f"unknown benchmark {kind}")


def prepare(workdir: Path) -> None:
    from etl_shared.landing import REFERENCE_FILES, flights_file, raw_flights_csv, seed

    seed(workdir / "landing", "2013-01-01", "2013-12-31")
    big = workdir / "big"
    target = flights_file(big, BIG_DAY)
    target.parent.mkdir(parents=True)
    (big / "reference").mkdir()
    for name in REFERENCE_FILES:
        (big / "reference" / name).write_bytes(
            (workdir / "landing" / "reference" / name).read_bytes()
        )
    con = duckdb.connect()
    copies = -(-BIG_ROWS // 336_776)
    con.execute(
        f"""
        COPY (
          SELECT 2013 AS year, 7 AS month, 1 AS day, * EXCLUDE (year, month, day, flight),
                 -- one flight number per original day and copy: keys stay unique on one date
                 (flight::INT + 10000 * (r.i * 400 + dayofyear(make_date(year::INT, month::INT, day::INT))))::VARCHAR
                   AS flight
          FROM read_csv('{raw_flights_csv()}', all_varchar = true), range({copies}) r(i)
          LIMIT {BIG_ROWS}
        ) TO '{target}' (FORMAT csv, HEADER true)
        """
    )


def main() -> None:
    console = Console(width=130)
    with tempfile.TemporaryDirectory(prefix="etl-bench-") as tmp:
        workdir = Path(tmp)
        with console.status("seeding the year and writing the 10 M-row partition"):
            prepare(workdir)
        figures = {}
        for kind in ("year", "year_floor", "big", "big_floor"):
            with console.status(f"running {kind}"):
                figures[kind] = _child(kind, workdir)
    table = Table(title="etl-shared benchmarks (DuckDB warehouse)")
    for col in (
        "benchmark",
        "rows",
        "wall s",
        "rows/s",
        "peak MiB",
        "floor s",
        "ratio to floor",
        "target",
    ):
        table.add_column(col, justify="right")
    for name, kind, target in (
        ("full year, 365 partitions", "year", "wall <= 10 s"),
        ("one 10 M-row partition", "big", ">= 1 M rows/s, <= 1.5x floor"),
    ):
        ours, floor = figures[kind], figures[f"{kind}_floor"]
        table.add_row(
            name,
            f"{ours['rows']:,}",
            f"{ours['wall']:.2f}",
            f"{ours['rows'] / ours['wall']:,.0f}",
            f"{ours['peak_mib']:,.0f}",
            f"{floor['wall']:.2f}",
            f"{ours['wall'] / floor['wall']:.2f}x",
            target,
        )
    console.print(table)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], Path(sys.argv[3]))))
    else:
        main()

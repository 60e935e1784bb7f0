"""Bad input: each case ends in a quarantine row with a reason, or a clear error that names
the partition and the file; nothing is silently dropped, nothing half-loaded."""

from __future__ import annotations

import codecs
import datetime as dt
import gzip
from pathlib import Path

import pytest

from etl_shared import steps
from etl_shared.config import Settings
from etl_shared.errors import MissingPartitionError, SchemaDriftError
from etl_shared.landing import flights_file
from etl_shared.schema import SOURCE_COLUMNS
from etl_shared.testing.landing import EXPORTER_VARIANTS, GOLDEN_DAYS, bad_rows, read_lines
from etl_shared.warehouse import open_warehouse

DAY = GOLDEN_DAYS[0]


@pytest.fixture
def settings(
    landing_zone: Path, duckdb_warehouse: str, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    monkeypatch.setenv("WAREHOUSE_URL", duckdb_warehouse)
    return Settings.from_env()


def _quarantine(settings: Settings) -> list[tuple]:
    with open_warehouse(settings.warehouse_url) as wh:
        return wh.query(
            "SELECT line_number, reason, message, raw_row FROM quarantine ORDER BY line_number"
        )


def test_missing_landing_file_names_partition_and_file(settings: Settings) -> None:
    with pytest.raises(MissingPartitionError) as err:
        steps.extract("2013-06-15", settings=settings)
    message = str(err.value)
    assert "2013-06-15" in message
    assert str(flights_file(settings.landing_dir, "2013-06-15")) in message


def test_renamed_column_is_schema_drift_listing_the_columns(
    settings: Settings, bad_landing_file
) -> None:
    header = [("dist" if c == "distance" else c) for c in SOURCE_COLUMNS]
    path = bad_landing_file(DAY, header=header)
    with pytest.raises(SchemaDriftError) as err:
        steps.run_partition(DAY, settings=settings)
    message = str(err.value)
    assert "missing columns ['distance']" in message
    assert "unexpected columns ['dist']" in message
    assert str(path) in message
    assert DAY in message


def test_missing_column_is_schema_drift(settings: Settings, bad_landing_file) -> None:
    bad_landing_file(DAY, header=[c for c in SOURCE_COLUMNS if c != "carrier"], keep_original=False)
    with pytest.raises(SchemaDriftError, match=r"missing columns \['carrier'\]"):
        steps.extract(DAY, settings=settings)


@pytest.mark.parametrize(
    ("reason", "fragment"),
    [
        ("malformed_line", "malformed CSV line"),
        ("missing_required", "missing required field: flight"),
        ("invalid_number", "not an integer: distance=12x4"),
        ("invalid_date", "no such date: 2013-2-30"),
        ("wrong_partition", "row dated 2013-01-02 is outside partition 2013-01-01"),
        ("out_of_range", "must be > 0"),
        ("unknown_carrier", "unknown carrier ZZ"),
        ("duplicate_key", "duplicate flight_id 2013-01-01:UA:1545:EWR:515 (first on line 2)"),
    ],
)
def test_bad_row_is_quarantined_with_reason(
    settings: Settings, landing_zone: Path, bad_landing_file, reason: str, fragment: str
) -> None:
    good = len(read_lines(landing_zone, DAY)) - 1
    lines = bad_rows(landing_zone, DAY)[reason]
    bad_landing_file(DAY, lines)
    ref = steps.run_partition(DAY, settings=settings)
    rows = _quarantine(settings)
    assert [r[1] for r in rows] == [reason] * len(lines)
    assert any(fragment in r[2] for r in rows), rows
    assert [r[0] for r in rows] == list(range(good + 2, good + 2 + len(lines)))
    assert ref.counts["loaded"] == good
    assert ref.counts["extracted"] == ref.counts["loaded"] + ref.counts["quarantined"]


def test_time_out_of_range_names_the_value(
    settings: Settings, landing_zone: Path, bad_landing_file
) -> None:
    bad_landing_file(DAY, bad_rows(landing_zone, DAY)["out_of_range"][1:])
    steps.run_partition(DAY, settings=settings)
    ((_, reason, message, raw),) = _quarantine(settings)
    assert reason == "out_of_range"
    assert "dep_time=2561 is not a clock time" in message
    assert ",2561," in raw


def test_malformed_lines_keep_line_numbers_and_the_rest_loads(
    settings: Settings, landing_zone: Path, bad_landing_file
) -> None:
    lines = read_lines(landing_zone, DAY)[1:]
    # a short line and an invalid UTF-8 line in the middle of the file
    mixed = [*lines[:10], "2013,1,1,517", lines[10].replace("N", "\udcff", 1), *lines[10:]]
    raw = [x.encode("utf-8", errors="surrogateescape") for x in mixed]
    bad_landing_file(DAY, raw, keep_original=False)
    ref = steps.run_partition(DAY, settings=settings)
    rows = _quarantine(settings)
    assert [(r[0], r[1]) for r in rows] == [(12, "malformed_line"), (13, "malformed_line")]
    assert "2013,1,1,517" in rows[0][3]
    assert ref.counts["loaded"] == len(lines)
    assert ref.counts["extracted"] == len(lines) + 2


def test_weather_duplicates_never_duplicate_flights(settings: Settings, landing_zone: Path) -> None:
    """A second reading for one airport-hour (as when daylight saving time ends) must not
    duplicate the flights of that hour: the earliest reading is used."""
    weather = landing_zone / "reference" / "weather.csv"
    lines = weather.read_text().splitlines()
    header = lines[0].split(",")
    at = next(i for i, line in enumerate(lines) if line.startswith("EWR,2013,1,1,6,"))
    reading = dict(zip(header, lines[at].split(","), strict=True))
    later = {**reading, "temp": "99.5", "time_hour": reading["time_hour"].replace("T11", "T12")}
    lines.insert(at + 1, ",".join(later[c] for c in header))
    weather.write_text("\n".join(lines) + "\n")

    ref = steps.run_partition(DAY, settings=settings)
    assert ref.counts["loaded"] == len(read_lines(landing_zone, DAY)) - 1
    with open_warehouse(settings.warehouse_url) as wh:
        ((rows, ids),) = wh.query("SELECT count(*), count(DISTINCT flight_id) FROM flights")
        temps = wh.query(
            "SELECT DISTINCT temp FROM flights WHERE origin = 'EWR' AND sched_dep_time BETWEEN 600 AND 659"
        )
    assert rows == ids == ref.counts["loaded"]
    assert temps == [(float(reading["temp"]),)]


def test_partition_row_counts_match_the_landing_file(
    settings: Settings, landing_zone: Path
) -> None:
    for day in GOLDEN_DAYS:
        ref = steps.run_partition(day, settings=settings)
        assert ref.counts["extracted"] == len(read_lines(landing_zone, day)) - 1
        assert ref.counts["quarantined"] == 0
    with open_warehouse(settings.warehouse_url) as wh:
        (rows,) = wh.query(
            "SELECT count(*) FROM flights WHERE flight_date = ?", [dt.date(2013, 1, 1)]
        )[0]
    assert rows == 842  # the published count of flights on 1 January 2013


def test_partition_outside_the_data_is_refused_by_every_step(settings: Settings) -> None:
    from etl_shared.errors import InvalidPartitionError

    for call in (
        lambda: steps.extract("2014-01-01", settings=settings),
        lambda: steps.run_partition("2014-01-01", settings=settings),
        lambda: steps.check("2012-12-31", settings=settings),
        lambda: steps.preflight("2014-01-01", settings, "r1"),
    ):
        with pytest.raises(InvalidPartitionError, match=r"outside the data \(2013-01-01\.\."):
            call()


@pytest.mark.parametrize("variant", list(EXPORTER_VARIANTS))
def test_exporter_encodings_load_like_the_clean_file(
    settings: Settings, landing_zone: Path, variant: str
) -> None:
    path = flights_file(landing_zone, DAY)
    clean = steps.run_partition(DAY, settings=settings).counts
    path.write_bytes(EXPORTER_VARIANTS[variant](path.read_bytes()))
    again = steps.run_partition(DAY, settings=settings).counts
    assert again == clean


def test_a_latin1_line_is_quarantined_and_the_rest_loads(
    settings: Settings, landing_zone: Path, bad_landing_file
) -> None:
    good = len(read_lines(landing_zone, DAY)) - 1
    latin1 = bad_rows(landing_zone, DAY)["malformed_line"][-1]
    assert b"\xe9" in latin1
    bad_landing_file(DAY, [latin1])
    ref = steps.run_partition(DAY, settings=settings)
    assert [(r[0], r[1]) for r in _quarantine(settings)] == [(good + 2, "malformed_line")]
    assert ref.counts["loaded"] == good


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (lambda clean: gzip.compress(clean), "the header is not UTF-8 text"),
        (lambda clean: codecs.BOM_UTF32_LE + clean.decode().encode("utf-32-le"), "UTF-32"),
        (lambda clean: b"\x00\x01\x02" + clean, "not text"),
    ],
    ids=["gzip", "utf-32", "binary"],
)
def test_unreadable_file_names_file_and_partition_and_loads_nothing(
    settings: Settings, landing_zone: Path, data, why: str
) -> None:
    from etl_shared.errors import UnreadableFileError

    path = flights_file(landing_zone, DAY)
    path.write_bytes(data(path.read_bytes()))
    with pytest.raises(UnreadableFileError) as err:
        steps.run_partition(DAY, settings=settings)
    message = str(err.value)
    assert f"partition {DAY}" in message
    assert str(path) in message
    assert why in message
    assert _quarantine(settings) == []


def test_a_batch_keeps_each_files_line_numbers_and_reasons(
    settings: Settings, landing_zone: Path, bad_landing_file
) -> None:
    """Several files in one read (a backfill batch): malformed lines and rows that break a
    rule keep their own file's line numbers, exactly as when each day runs alone."""
    days = list(GOLDEN_DAYS[:2])
    for day in days:
        lines = read_lines(landing_zone, day)[1:]
        mixed = [
            *lines[:5],
            "2013,1,1,517",
            *lines[5:],
            *bad_rows(landing_zone, day)["invalid_number"],
        ]
        bad_landing_file(day, mixed, keep_original=False)

    def quarantine() -> list[tuple]:
        with open_warehouse(settings.warehouse_url) as wh:
            return wh.query(
                "SELECT partition_date, line_number, reason, message, raw_row FROM quarantine "
                "ORDER BY partition_date, line_number"
            )

    with open_warehouse(settings.warehouse_url) as wh:
        refs = steps.run_batch(days, warehouse=wh, settings=settings)
    together = quarantine()
    for day in days:
        steps.run_partition(day, settings=settings)
    assert quarantine() == together
    for ref in refs:
        mine = [r for r in together if str(r[0]) == ref.partition]
        assert mine[0][1:3] == (7, "malformed_line")
        assert {r[2] for r in mine[1:]} == {"invalid_number"}
        assert ref.counts["extracted"] == ref.counts["loaded"] + ref.counts["quarantined"]

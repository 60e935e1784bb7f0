"""The contract suite: the behaviour every platform must show, run through its own tool.

A platform's `tests/test_contract.py` defines a `platform_runner` fixture and imports
this module's tests with `from etl_shared.testing.contract import *`. Each test runs
against a DuckDB file and against a real PostgreSQL database (`warehouse_url` below).

The runner runs each partition through the orchestrator (a DAG run, an asset
materialization, a flow run, a Job command) with the process environment the tests set
(`LANDING_DIR`, `STAGING_DIR`, `WAREHOUSE_URL`, fault switches) and reports every
partition as a :class:`RunOutcome`; a failed run is reported, never raised (a partition
the platform refuses before any run starts is a failed outcome too).

`runner.command(args, env)` runs the platform's own entry point (what `make run` and
`make backfill` call) as a subprocess: `args` is `["run", DAY]` or
`["backfill", START, END]`. The bad-argument tests check that it refuses bad input with
one line on stderr and exit code 2, before anything runs.

`runner.report(month)` writes the monthly carrier report (`etl_shared.report`) for a
month `YYYY-MM` through the platform's own report step (the report DAG, the monthly
asset, the report flow, the report Job's command) and reports it as a RunOutcome whose
`partition` is the month. The report tests load all but the last day of GOLDEN_MONTH
with the bare steps (the daily path is proven by the tests above), run the last day
through the platform, then ask for the report.
"""

from __future__ import annotations

import codecs
import datetime as dt
import gzip
import math
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest

from etl_shared.config import LOCAL_MODE_ENV, WAREHOUSE_URL_FORMS
from etl_shared.errors import EXIT_BAD_ARGS
from etl_shared.landing import flights_file
from etl_shared.partitions import month_bounds, outside_message
from etl_shared.runner import run_partitions
from etl_shared.testing.landing import (
    EXPORTER_VARIANTS,
    GOLDEN_DAYS,
    GOLDEN_MONTH,
    MISSING_DAY,
    OUTSIDE_DAY,
    bad_rows,
    land_month,
    read_lines,
)
from etl_shared.warehouse import open_warehouse

__all__ = [
    "PlatformRunner",
    "RunOutcome",
    "test_bad_rows_are_quarantined_and_counts_reconcile",
    "test_entry_point_refuses_a_bad_date_in_one_line_with_exit_2",
    "test_entry_point_refuses_an_unsupported_warehouse_url_in_one_line_with_exit_2",
    "test_failure_inside_load_leaves_previous_state",
    "test_golden_carrier_daily",
    "test_header_only_file_fails_check_and_keeps_previous_data",
    "test_landing_file_as_exporters_write_it_loads_like_the_clean_file",
    "test_missing_partition_fails_clearly_and_leaves_warehouse_unchanged",
    "test_monthly_report_matches_golden",
    "test_monthly_report_refuses_an_incomplete_month",
    "test_partition_outside_the_data_is_refused_and_runs_nothing",
    "test_rerun_of_partition_is_idempotent",
    "test_transient_source_fault_is_retried",
    "test_unreadable_landing_file_fails_naming_file_and_partition",
    "warehouse_url",
]

DAY = GOLDEN_DAYS[0]
DATA_TABLES = ("flights", "carrier_daily", "quarantine")


@dataclass
class RunOutcome:
    partition: str
    ok: bool
    error: str | None = None


class PlatformRunner(Protocol):
    platform: str

    def run(self, partitions: list[str]) -> list[RunOutcome]: ...

    def command(
        self, args: list[str], env: Mapping[str, str]
    ) -> subprocess.CompletedProcess[str]: ...

    def report(self, month: str) -> RunOutcome: ...


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse_url(
    request: pytest.FixtureRequest, landing_zone: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """Each contract test runs once per warehouse backend."""
    url = request.getfixturevalue(f"{request.param}_warehouse")
    monkeypatch.setenv("WAREHOUSE_URL", url)
    return url


# ------------------------------------------------------------------------- helpers
def _run(runner: PlatformRunner, partitions: list[str]) -> dict[str, RunOutcome]:
    outcomes = runner.run(list(partitions))
    assert [o.partition for o in outcomes] == list(partitions), outcomes
    return {o.partition: o for o in outcomes}


def _run_ok(runner: PlatformRunner, partitions: list[str]) -> None:
    for partition, outcome in _run(runner, partitions).items():
        assert outcome.ok, f"{runner.platform} run of {partition} failed: {outcome.error}"


def _snapshot(url: str, *, with_run_ids: bool = True) -> dict[str, list[tuple[Any, ...]]]:
    with open_warehouse(url) as wh:
        snap = {t: wh.table_rows(t) for t in DATA_TABLES}
    if not with_run_ids:  # run_id is the last quarantine column
        snap["quarantine"] = [row[:-1] for row in snap["quarantine"]]
    return snap


def _runs(url: str, partition: str) -> list[tuple[Any, ...]]:
    with open_warehouse(url) as wh:
        return wh.query(
            "SELECT platform, status, rows_extracted, rows_loaded, rows_quarantined, error "
            "FROM pipeline_runs WHERE partition_date = ? ORDER BY started_at",
            [dt.date.fromisoformat(partition)],
        )


def _count(url: str, sql: str, params: list[Any]) -> int:
    with open_warehouse(url) as wh:
        return int(wh.query(sql, params)[0][0])


def assert_golden_day(wh: Any, day: str, expected: list[dict[str, Any]]) -> None:
    """`carrier_daily` of `day` in the open warehouse `wh` equals the golden rows (floats
    to 1e-9), carrier by carrier; the failure names the day, the carrier and the columns."""
    cols = list(expected[0])
    actual = wh.query(
        f"SELECT {', '.join(cols)} FROM carrier_daily WHERE flight_date = ? ORDER BY carrier",
        [dt.date.fromisoformat(day)],
    )
    assert len(actual) == len(expected), f"{day}: {len(actual)} carriers, expected {len(expected)}"
    for exp, act in zip(expected, actual, strict=True):
        diffs = {c: (exp[c], a) for c, a in zip(cols, act, strict=True) if not _same(exp[c], a)}
        assert not diffs, f"{day} {exp['carrier']}: expected vs actual {diffs}"


def _same(expected: object, actual: object) -> bool:
    if isinstance(expected, float) or isinstance(actual, float):
        return (
            expected is not None
            and actual is not None
            and math.isclose(float(expected), float(actual), rel_tol=1e-9, abs_tol=1e-8)
        )
    return str(expected) == str(actual)


# --------------------------------------------------------------------------- tests
def test_golden_carrier_daily(
    platform_runner: PlatformRunner,
    warehouse_url: str,
    golden_carrier_daily: dict[str, list[dict[str, Any]]],
) -> None:
    """carrier_daily equals the checked-in rows recomputed independently from the raw file."""
    _run_ok(platform_runner, list(GOLDEN_DAYS))
    with open_warehouse(warehouse_url) as wh:
        for day in GOLDEN_DAYS:
            expected = golden_carrier_daily[day]
            assert_golden_day(wh, day, expected)
            (flights,) = wh.query(
                "SELECT count(*) FROM flights WHERE flight_date = ?", [dt.date.fromisoformat(day)]
            )[0]
            assert flights == sum(int(r["flights"]) for r in expected)


def test_rerun_of_partition_is_idempotent(
    platform_runner: PlatformRunner, warehouse_url: str, landing_zone: Path
) -> None:
    """Running a partition twice leaves the same rows, and both runs are recorded."""
    _run_ok(platform_runner, [DAY])
    first = _snapshot(warehouse_url, with_run_ids=False)
    _run_ok(platform_runner, [DAY])
    assert _snapshot(warehouse_url, with_run_ids=False) == first
    assert len(first["flights"]) == len(read_lines(landing_zone, DAY)) - 1
    runs = _runs(warehouse_url, DAY)
    assert [(r[0], r[1]) for r in runs] == [(platform_runner.platform, "success")] * 2, runs


def test_bad_rows_are_quarantined_and_counts_reconcile(
    platform_runner: PlatformRunner, warehouse_url: str, landing_zone: Path, bad_landing_file: Any
) -> None:
    """Every bad row lands in quarantine with its reason and line; the good rows all load."""
    good = len(read_lines(landing_zone, DAY)) - 1
    cases = bad_rows(landing_zone, DAY)
    lines = [line for group in cases.values() for line in group]
    bad_landing_file(DAY, lines)
    _run_ok(platform_runner, [DAY])

    with open_warehouse(warehouse_url) as wh:
        quarantined = wh.query(
            "SELECT line_number, reason, message, source_file FROM quarantine "
            "WHERE partition_date = ? ORDER BY line_number",
            [dt.date.fromisoformat(DAY)],
        )
    expected_reasons = [reason for reason, group in cases.items() for _ in group]
    # the bad lines follow the good ones: line 1 is the header, good rows are 2..good+1
    assert [(q[0], q[1]) for q in quarantined] == [
        (good + 2 + i, reason) for i, reason in enumerate(expected_reasons)
    ], quarantined
    assert all(q[2] for q in quarantined), "every quarantine row carries a message"
    assert {q[3] for q in quarantined} == {str(flights_file(landing_zone, DAY))}
    loaded = _count(
        warehouse_url,
        "SELECT count(*) FROM flights WHERE flight_date = ?",
        [dt.date.fromisoformat(DAY)],
    )
    assert loaded == good
    (platform, status, extracted, rows_loaded, rows_quarantined, _err) = _runs(warehouse_url, DAY)[
        -1
    ]
    assert (platform, status) == (platform_runner.platform, "success")
    assert (extracted, rows_loaded, rows_quarantined) == (good + len(lines), good, len(lines))


def test_missing_partition_fails_clearly_and_leaves_warehouse_unchanged(
    platform_runner: PlatformRunner, warehouse_url: str
) -> None:
    """A partition with no landing file fails, names the partition and file, changes nothing."""
    _run_ok(platform_runner, [DAY])
    before = _snapshot(warehouse_url)
    outcome = _run(platform_runner, [MISSING_DAY])[MISSING_DAY]
    assert not outcome.ok
    assert MISSING_DAY in (outcome.error or ""), outcome.error
    assert "no landing file" in (outcome.error or ""), outcome.error
    assert _snapshot(warehouse_url) == before
    runs = _runs(warehouse_url, MISSING_DAY)
    assert [(r[0], r[1]) for r in runs][-1:] == [(platform_runner.platform, "failed")], runs
    assert "no landing file" in (runs[-1][5] or "")


def test_transient_source_fault_is_retried(
    platform_runner: PlatformRunner, warehouse_url: str, fault_injection: Any
) -> None:
    """A source read that fails once is retried by the orchestrator and the run succeeds."""
    fault_injection.transient_source(times=1)
    _run_ok(platform_runner, [DAY])
    assert fault_injection.remaining_transient() == 0, "the injected fault was never hit"
    assert (
        _count(
            warehouse_url,
            "SELECT count(*) FROM flights WHERE flight_date = ?",
            [dt.date.fromisoformat(DAY)],
        )
        > 0
    )


def test_failure_inside_load_leaves_previous_state(
    platform_runner: PlatformRunner,
    warehouse_url: str,
    landing_zone: Path,
    bad_landing_file: Any,
    fault_injection: Any,
) -> None:
    """An error inside the load transaction rolls back: the previous rows stay, nothing half-loaded."""
    _run_ok(platform_runner, [DAY])
    before = _snapshot(warehouse_url)
    # new input for the day (half the rows), then a load that fails inside its transaction
    lines = read_lines(landing_zone, DAY)[1:]
    bad_landing_file(DAY, lines[: len(lines) // 2], keep_original=False)
    fault_injection.inside_load()
    outcome = _run(platform_runner, [DAY])[DAY]
    assert not outcome.ok
    assert "inside the transaction" in (outcome.error or ""), outcome.error
    assert _snapshot(warehouse_url) == before


def test_header_only_file_fails_check_and_keeps_previous_data(
    platform_runner: PlatformRunner, warehouse_url: str, bad_landing_file: Any
) -> None:
    """A file with a header and no rows fails the checks; the day keeps its previous data."""
    _run_ok(platform_runner, [DAY])
    before = _snapshot(warehouse_url)
    bad_landing_file(DAY, [], keep_original=False)
    outcome = _run(platform_runner, [DAY])[DAY]
    assert not outcome.ok
    assert "partition_not_empty" in (outcome.error or ""), outcome.error
    assert _snapshot(warehouse_url) == before


# ------------------------------------------------------------------- bad input, loud
def _error_lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.startswith("error: ")]


def _assert_one_line_exit_2(proc: subprocess.CompletedProcess[str], *fragments: str) -> None:
    output = proc.stdout + proc.stderr
    assert proc.returncode == EXIT_BAD_ARGS, (proc.returncode, output)
    assert "Traceback" not in output, output
    lines = _error_lines(proc)
    assert len(lines) == 1, f"expected one 'error: ' line on stderr, got: {output!r}"
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def test_partition_outside_the_data_is_refused_and_runs_nothing(
    platform_runner: PlatformRunner, warehouse_url: str
) -> None:
    """A day outside 2013 fails (never a success with no task run) and changes nothing."""
    before = _snapshot(warehouse_url)
    outcome = _run(platform_runner, [OUTSIDE_DAY])[OUTSIDE_DAY]
    assert not outcome.ok, f"{platform_runner.platform} reported {OUTSIDE_DAY} as a success"
    assert outside_message(OUTSIDE_DAY) in (outcome.error or ""), outcome.error
    assert _snapshot(warehouse_url) == before


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["run", OUTSIDE_DAY], outside_message(OUTSIDE_DAY)),
        (["run", "2013-02-30"], "invalid partition '2013-02-30'"),
        (["backfill", "2013-12-30", "2014-01-02"], outside_message("2014-01-02")),
    ],
    ids=["run-outside-the-data", "run-no-such-day", "backfill-past-the-data"],
)
def test_entry_point_refuses_a_bad_date_in_one_line_with_exit_2(
    platform_runner: PlatformRunner,
    landing_zone: Path,
    duckdb_warehouse: str,
    args: list[str],
    fragment: str,
) -> None:
    """`make run`/`make backfill`'s command refuses a bad date up front: one line, exit 2."""
    env = {**os.environ, "WAREHOUSE_URL": duckdb_warehouse, LOCAL_MODE_ENV: "1"}
    proc = platform_runner.command(args, env)
    _assert_one_line_exit_2(proc, fragment)
    assert not Path(duckdb_warehouse.removeprefix("duckdb://")).exists(), "nothing may run"


def test_entry_point_refuses_an_unsupported_warehouse_url_in_one_line_with_exit_2(
    platform_runner: PlatformRunner, landing_zone: Path
) -> None:
    """WAREHOUSE_URL=mysql://... is one line naming the two accepted forms, no password."""
    env = {**os.environ, "WAREHOUSE_URL": "mysql://etl:s3cret@db:3306/wh", LOCAL_MODE_ENV: "1"}
    proc = platform_runner.command(["run", DAY], env)
    _assert_one_line_exit_2(proc, WAREHOUSE_URL_FORMS, "mysql://")
    assert "s3cret" not in proc.stdout + proc.stderr


def test_landing_file_as_exporters_write_it_loads_like_the_clean_file(
    platform_runner: PlatformRunner, warehouse_url: str, landing_zone: Path
) -> None:
    """UTF-8 with a byte-order mark, CRLF line endings and UTF-16 with a byte-order mark
    (what spreadsheet exporters write) load exactly the rows of the clean file."""
    path = flights_file(landing_zone, DAY)
    clean = path.read_bytes()
    _run_ok(platform_runner, [DAY])
    expected = _snapshot(warehouse_url, with_run_ids=False)
    assert expected["flights"], "the clean file loaded no rows"
    for name, encode in EXPORTER_VARIANTS.items():
        path.write_bytes(encode(clean))
        outcome = _run(platform_runner, [DAY])[DAY]
        assert outcome.ok, f"{name}: {outcome.error}"
        assert _snapshot(warehouse_url, with_run_ids=False) == expected, name


def test_unreadable_landing_file_fails_naming_file_and_partition(
    platform_runner: PlatformRunner, warehouse_url: str, landing_zone: Path
) -> None:
    """A file that is not CSV text (compressed, UTF-32) fails naming the partition and the
    file; the day keeps its previous rows, nothing is half-loaded."""
    path = flights_file(landing_zone, DAY)
    clean = path.read_bytes()
    _run_ok(platform_runner, [DAY])
    before = _snapshot(warehouse_url)
    for name, data in {
        "gzip": gzip.compress(clean),
        "utf-32": codecs.BOM_UTF32_LE + clean.decode().encode("utf-32-le"),
    }.items():
        path.write_bytes(data)
        outcome = _run(platform_runner, [DAY])[DAY]
        assert not outcome.ok, f"{name} file loaded"
        error = outcome.error or ""
        for fragment in (f"partition {DAY}", str(path), "cannot read the landing file"):
            assert fragment in error, (name, fragment, error)
        assert _snapshot(warehouse_url) == before, name


# ------------------------------------------------------------------ the monthly report
def _month_rows(url: str, month: str) -> list[tuple[Any, ...]]:
    first, _after = month_bounds(month)
    with open_warehouse(url) as wh:
        return wh.query("SELECT * FROM carrier_monthly WHERE month = ? ORDER BY carrier", [first])


def load_month_but(landing_zone: Path, golden_month_landing: Path, skip: int) -> list[str]:
    """Land GOLDEN_MONTH and load all but its last `skip` days with the bare steps (the
    daily path is proven by the tests above); return the month's days."""
    days = land_month(landing_zone, golden_month_landing)
    results = run_partitions(days[:-skip], platform="bare", batch_size=31)
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    return days


def assert_golden_month(url: str, expected: list[dict[str, Any]]) -> None:
    """`carrier_monthly` of GOLDEN_MONTH in the warehouse at `url` equals the golden rows
    (floats to 1e-9), carrier by carrier; the failure names the carrier and the columns."""
    rows = _month_rows(url, GOLDEN_MONTH)
    cols = list(expected[0])
    assert len(rows) == len(expected), f"{GOLDEN_MONTH}: {len(rows)} carriers: {rows}"
    for exp, act in zip(expected, rows, strict=True):
        actual = dict(zip(cols, act, strict=True))
        actual["month"] = str(actual["month"])[:10]
        diffs = {c: (exp[c], actual[c]) for c in cols if not _same(exp[c], actual[c])}
        assert not diffs, f"{GOLDEN_MONTH} {exp['carrier']}: expected vs actual {diffs}"


def test_monthly_report_matches_golden(
    platform_runner: PlatformRunner,
    warehouse_url: str,
    landing_zone: Path,
    golden_month_landing: Path,
    golden_carrier_monthly: list[dict[str, Any]],
) -> None:
    """Once the month's last day is published, the platform's report step writes
    carrier_monthly equal to the rows recomputed independently from the raw file; writing
    it again changes nothing."""
    days = load_month_but(landing_zone, golden_month_landing, skip=1)
    _run_ok(platform_runner, [days[-1]])
    outcome = platform_runner.report(GOLDEN_MONTH)
    assert outcome.partition == GOLDEN_MONTH, outcome
    assert outcome.ok, (
        f"{platform_runner.platform} report of {GOLDEN_MONTH} failed: {outcome.error}"
    )
    assert_golden_month(warehouse_url, golden_carrier_monthly)
    rows = _month_rows(warehouse_url, GOLDEN_MONTH)
    again = platform_runner.report(GOLDEN_MONTH)
    assert again.ok, again.error
    assert _month_rows(warehouse_url, GOLDEN_MONTH) == rows


def test_monthly_report_refuses_an_incomplete_month(
    platform_runner: PlatformRunner,
    warehouse_url: str,
    landing_zone: Path,
    golden_month_landing: Path,
) -> None:
    """With a day of the month not loaded, the report fails naming the month and the
    missing day, and writes nothing."""
    days = load_month_but(landing_zone, golden_month_landing, skip=2)
    _run_ok(platform_runner, [days[-1]])  # the last day arrives, the one before it did not
    outcome = platform_runner.report(GOLDEN_MONTH)
    assert not outcome.ok, f"{platform_runner.platform} reported an incomplete month"
    assert GOLDEN_MONTH in (outcome.error or ""), outcome.error
    assert days[-2] in (outcome.error or ""), outcome.error
    assert "not complete" in (outcome.error or ""), outcome.error
    assert _month_rows(warehouse_url, GOLDEN_MONTH) == []

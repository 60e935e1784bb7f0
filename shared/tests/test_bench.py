"""The bench harness reports each process's own peak memory and the child's own figures
(speed itself is reported by `make bench`, never asserted)."""

from __future__ import annotations

import sys

import pytest

from etl_shared import bench

BIG = "from etl_shared import bench; x = bytearray(300 * 2**20); x[::4096] = b'1' * len(x[::4096]); bench.report(0.5, 7)"
SMALL = "from etl_shared import bench; bench.report(0.25, 3)"


def test_each_case_reports_its_own_peak_not_an_earlier_ones() -> None:
    big = bench.run_case(bench.Case("big", [sys.executable, "-c", BIG]))
    small = bench.run_case(bench.Case("small", [sys.executable, "-c", SMALL]))
    assert big.peak_mib > 300
    assert small.peak_mib < 200  # a later, smaller process does not inherit the big one's peak
    assert (big.seconds, big.rows, small.seconds, small.rows) == (0.5, 7, 0.25, 3)


def test_a_failing_case_names_itself_and_shows_its_error() -> None:
    case = bench.Case("broken", [sys.executable, "-c", "raise SystemExit('no input here')"])
    with pytest.raises(bench.BenchError, match=r"broken: exit 1\n.*no input here"):
        bench.run_case(case)


# --------------------------------------------------------------- make bench-year's harness
def _etl_run_each(skip: str | None = None):
    """A backfill for bench_year.main: `etl run` per partition (optionally skipping one)."""
    import subprocess
    from pathlib import Path

    etl = Path(sys.executable).with_name("etl")

    def backfill(partitions: list[str], env: dict[str, str]) -> None:
        for p in partitions:
            if p != skip:
                subprocess.run(
                    [str(etl), "run", "--date", p], env=env, check=True, capture_output=True
                )

    return backfill


def test_bench_year_checks_parity_and_reports_slope_and_tree_peak(tmp_path, monkeypatch) -> None:
    import json

    from etl_shared import bench_year

    monkeypatch.setenv("BENCH_YEAR_START", "2013-01-01")
    monkeypatch.setenv("BENCH_YEAR_END", "2013-01-03")
    monkeypatch.setenv("ETL_BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("BENCH_YEAR_OUT", str(tmp_path / "ok.json"))
    assert bench_year.main("cli", _etl_run_each(), how="etl run per day", cwd=tmp_path) == 0
    ok = json.loads((tmp_path / "ok.json").read_text())
    assert ok["same_as_bare_steps"]
    assert ok["succeeded"] == ok["partitions"] == 3
    assert ok["per_partition"] > 0
    assert ok["wall"] >= 2 * ok["per_partition"]  # first to last finish is within the wall
    assert ok["peak_mib"] > 50  # the `etl run` children count, not only this process
    assert ok["checksums"]["flights"][0] > 2000

    monkeypatch.setenv("BENCH_YEAR_OUT", str(tmp_path / "short.json"))
    assert (
        bench_year.main("cli", _etl_run_each(skip="2013-01-02"), how="one day short", cwd=tmp_path)
        == 1
    )
    short = json.loads((tmp_path / "short.json").read_text())
    assert not short["same_as_bare_steps"]
    assert short["succeeded"] == 2
    assert {"flights", "carrier_daily"} <= set(short["differ"])


def test_tree_peak_counts_descendants() -> None:
    import subprocess

    from etl_shared.bench_year import TreePeak

    hold = (
        "x = bytearray(200 * 2**20); x[::4096] = b'1' * len(x[::4096]); import time; time.sleep(1)"
    )
    with TreePeak(interval=0.05) as peak:
        subprocess.run([sys.executable, "-c", hold], check=True)
    assert peak.mib > 200

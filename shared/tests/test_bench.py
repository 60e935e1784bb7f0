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

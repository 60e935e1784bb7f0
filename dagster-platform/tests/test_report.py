"""`make report MONTH=`'s command (`python -m dagster_platform.report`) in a subprocess, with
its own Dagster instance: a bad month is refused in one line with exit 2 before Dagster
loads; a month with a day missing fails its run with exit 1 naming the day and writes
nothing; a complete month writes carrier_monthly and says so."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from etl_shared.partitions import month_bounds
from etl_shared.runner import run_partitions
from etl_shared.testing.contract import load_month_but
from etl_shared.testing.landing import GOLDEN_MONTH
from etl_shared.warehouse import open_warehouse

PLATFORM_DIR = Path(__file__).resolve().parents[1]


def _report(month: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    shutil.copyfile(PLATFORM_DIR / "dagster.local.yaml", home / "dagster.yaml")  # as `make` does
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    argv = [sys.executable, "-m", "dagster_platform.report", "--month", month]
    return subprocess.run(argv, env=env, capture_output=True, text=True, check=False, timeout=300)


@pytest.mark.parametrize("month", ["2013-13", "2014-01", "february"])
def test_report_command_refuses_a_bad_month_in_one_line(month: str, tmp_path: Path) -> None:
    proc = _report(month, tmp_path)
    assert proc.returncode == 2, proc
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "invalid month" in proc.stderr, proc.stderr
    assert month in proc.stderr, proc.stderr
    assert not (tmp_path / "dagster_home" / "history").exists()  # no run was started


def test_report_command_writes_a_complete_month_and_refuses_an_incomplete_one(
    landing_zone: Path,
    golden_month_landing: Path,
    duckdb_warehouse: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WAREHOUSE_URL", duckdb_warehouse)
    days = load_month_but(landing_zone, golden_month_landing, skip=1)

    incomplete = _report(GOLDEN_MONTH, tmp_path)
    assert incomplete.returncode == 1, incomplete
    (line,) = incomplete.stderr.strip().splitlines()
    assert f"carrier report {GOLDEN_MONTH} FAILED" in line, incomplete.stderr
    assert "not complete" in line, line
    assert days[-1] in line, line
    first = month_bounds(GOLDEN_MONTH)[0]
    with open_warehouse(duckdb_warehouse) as wh:
        assert wh.query("SELECT count(*) FROM carrier_monthly") == [(0,)]

    (last,) = run_partitions(days[-1:], platform="bare")
    assert last.ok, last.error
    complete = _report(GOLDEN_MONTH, tmp_path)
    assert complete.returncode == 0, complete.stderr
    with open_warehouse(duckdb_warehouse) as wh:
        ((carriers, flights),) = wh.query(
            "SELECT count(*), sum(flights) FROM carrier_monthly WHERE month = ?", [first]
        )
    assert carriers > 0
    assert (
        f"carrier report {GOLDEN_MONTH}: {carriers} carriers, {flights} flights" in complete.stdout
    )

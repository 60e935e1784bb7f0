"""The `etl` CLI: seed, run, backfill, verify, and its exit codes (0 ok, 1 failed, 2 bad args)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from etl_shared.cli import app
from etl_shared.landing import flights_file

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ETL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("LANDING_DIR", raising=False)
    monkeypatch.delenv("WAREHOUSE_URL", raising=False)
    monkeypatch.delenv("STAGING_DIR", raising=False)
    monkeypatch.setenv("ETL_RETRY_DELAY_SECONDS", "0.1")
    return tmp_path / "data"


def test_seed_run_backfill_verify(env: Path) -> None:
    result = runner.invoke(app, ["seed", "--start", "2013-01-01", "--end", "2013-01-03"])
    assert result.exit_code == 0, result.output
    assert flights_file(env / "landing", "2013-01-03").is_file()

    result = runner.invoke(app, ["run", "--date", "2013-01-01"])
    assert result.exit_code == 0, result.output
    assert "success" in result.output
    assert "842" in result.output

    kept = flights_file(env / "landing", "2013-01-02")
    kept.write_text(kept.read_text().splitlines()[0] + "\n")  # prepared by hand: header only
    result = runner.invoke(
        app, ["seed", "--start", "2013-01-01", "--end", "2013-01-04", "--only-missing"]
    )
    assert result.exit_code == 0, result.output
    assert "seeded 1 of 4 partitions" in result.output
    assert len(kept.read_text().splitlines()) == 1
    runner.invoke(app, ["seed", "--start", "2013-01-02", "--end", "2013-01-02"])
    assert len(kept.read_text().splitlines()) == 944

    result = runner.invoke(app, ["backfill", "--start", "2013-01-01", "--end", "2013-01-03"])
    assert result.exit_code == 0, result.output
    assert result.output.count("success") == 3

    result = runner.invoke(app, ["verify", "--date", "2013-01-02"])
    assert result.exit_code == 0, result.output
    assert "rows_reconcile" in result.output
    assert "FAIL" not in result.output

    result = runner.invoke(app, ["summary", "--start", "2013-01-01", "--end", "2013-01-03"])
    assert result.exit_code == 0
    assert "842" in result.output


def test_failed_run_exits_1_and_names_the_file(env: Path) -> None:
    runner.invoke(app, ["seed", "--start", "2013-01-01", "--end", "2013-01-01"])
    result = runner.invoke(app, ["run", "--date", "2013-01-02"])
    assert result.exit_code == 1
    assert "no landing file" in result.output
    assert "date=2013-01-02" in result.output


def test_verify_of_a_never_loaded_partition_fails(env: Path) -> None:
    result = runner.invoke(app, ["verify", "--date", "2013-03-01"])
    assert result.exit_code == 1
    assert "no successful run recorded" in result.output


@pytest.mark.parametrize("bad", ["2013-02-30", "../x", "2013-1-5", ""])
def test_invalid_partition_argument_exits_2_and_touches_nothing(env: Path, bad: str) -> None:
    for args in (
        ["run", "--date", bad],
        ["verify", "--date", bad],
        ["backfill", "--start", bad, "--end", "2013-01-02"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert "invalid partition" in result.output
    assert not env.exists(), "a bad argument must not create the data folder or the warehouse"


def test_range_with_end_before_start_exits_2(env: Path) -> None:
    result = runner.invoke(app, ["backfill", "--start", "2013-01-05", "--end", "2013-01-01"])
    assert result.exit_code == 2
    assert "before start" in result.output


def test_unreachable_warehouse_is_a_clear_error_without_password(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("WAREHOUSE_URL", f"postgresql://etl:topsecret@127.0.0.1:{port}/warehouse")
    runner.invoke(app, ["seed", "--start", "2013-01-01", "--end", "2013-01-01"])
    result = runner.invoke(app, ["run", "--date", "2013-01-01"])
    assert result.exit_code == 1
    assert "cannot connect to PostgreSQL warehouse" in result.output
    assert "etl:***@127.0.0.1" in result.output
    assert "topsecret" not in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--date", "2014-01-01"],
        ["run", "--date", "2012-12-31"],
        ["verify", "--date", "2014-01-01"],
        ["seed", "--start", "2013-12-31", "--end", "2014-01-01"],
        ["backfill", "--start", "2013-12-30", "--end", "2014-01-02"],
    ],
)
def test_partition_outside_the_data_exits_2_in_one_line(env: Path, args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: invalid partition"), lines
    assert "outside the data (2013-01-01..2013-12-31)" in lines[0]
    assert not env.exists(), "a bad argument must not create the data folder or the warehouse"


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("mysql://etl:topsecret@db:3306/wh", "unsupported WAREHOUSE_URL 'mysql://etl:***@db"),
        ("duckdb:/x.duckdb", "unsupported WAREHOUSE_URL"),
        ("duckdb://warehouse.duckdb", "is a relative DuckDB path"),
    ],
)
def test_unsupported_warehouse_url_exits_2_in_one_line(
    env: Path, monkeypatch: pytest.MonkeyPatch, url: str, fragment: str
) -> None:
    monkeypatch.setenv("WAREHOUSE_URL", url)
    for args in (["run", "--date", "2013-01-01"], ["verify", "--date", "2013-01-01"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1, lines
        assert fragment in lines[0]
        assert "duckdb:///absolute/path/file.duckdb or postgresql://" in lines[0]
        assert "topsecret" not in result.output
    assert not (Path.cwd() / "warehouse.duckdb").exists()


def test_without_local_mode_a_missing_warehouse_url_is_refused(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deployment never falls back to a DuckDB file silently."""
    monkeypatch.delenv("ETL_LOCAL_MODE", raising=False)
    result = runner.invoke(app, ["run", "--date", "2013-01-01"])
    assert result.exit_code == 2, result.output
    assert "no warehouse configured: set WAREHOUSE_URL" in result.output
    assert "ETL_LOCAL_MODE=1" in result.output
    assert not (env / "warehouse.duckdb").exists()
    monkeypatch.setenv("ETL_LOCAL_MODE", "1")
    runner.invoke(app, ["seed", "--start", "2013-01-01", "--end", "2013-01-01"])
    assert runner.invoke(app, ["run", "--date", "2013-01-01"]).exit_code == 0
    assert (env / "warehouse.duckdb").exists()

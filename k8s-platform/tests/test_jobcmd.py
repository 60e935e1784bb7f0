"""The job container's entry point: which partition a pod runs, and its exit codes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from k8s_platform import builders, jobcmd, localrun

from etl_shared.errors import InvalidPartitionError


def test_cronjob_pod_runs_yesterday_in_the_pipeline_time_zone():
    now = dt.datetime(2026, 1, 10, 3, 0, tzinfo=dt.UTC)  # still Jan 9 in New York
    assert (
        jobcmd.resolve_partition("yesterday", None, None, {"ETL_TIMEZONE": "America/New_York"}, now)
        == "2026-01-08"
    )
    assert (
        jobcmd.resolve_partition("yesterday", None, None, {"ETL_TIMEZONE": "Asia/Tokyo"}, now)
        == "2026-01-09"
    )


def test_backfill_pod_runs_the_day_of_its_completion_index():
    env = {"JOB_COMPLETION_INDEX": "4"}
    assert jobcmd.resolve_partition(None, "2013-01-30", "2013-02-05", env) == "2013-02-03"


def test_index_past_the_range_or_missing_is_refused():
    with pytest.raises(InvalidPartitionError, match="past the end"):
        jobcmd.resolve_partition(None, "2013-01-01", "2013-01-02", {"JOB_COMPLETION_INDEX": "2"})
    with pytest.raises(InvalidPartitionError, match="JOB_COMPLETION_INDEX"):
        jobcmd.resolve_partition(None, "2013-01-01", "2013-01-02", {})


def test_invalid_date_exits_with_the_not_retryable_code(capsys):
    assert jobcmd.main(["--date", "2013-02-30"]) == builders.EXIT_BAD_ARGS
    assert "2013-02-30" in capsys.readouterr().err


def test_report_pod_reports_last_month_in_its_time_zone():
    now = dt.datetime(2013, 3, 1, 3, 0, tzinfo=dt.UTC)  # still Feb 28 in New York
    assert jobcmd.resolve_month("last", {"ETL_TIMEZONE": "America/New_York"}, now) == "2013-01"
    assert jobcmd.resolve_month("last", {"ETL_TIMEZONE": "UTC"}, now) == "2013-02"
    assert jobcmd.resolve_month("2013-02", {}, now) == "2013-02"


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--month", "2013-13"], "2013-13"),
        (["--month", "February"], "YYYY-MM"),
        (["--month", "2012-12"], "outside the data"),
        (["--month", "2013-02", "--date", "2013-02-01"], "--month"),
    ],
)
def test_a_bad_month_exits_2_with_one_line(argv, words, capsys):
    assert jobcmd.main(argv) == builders.EXIT_BAD_ARGS
    err = capsys.readouterr().err
    assert words in err
    assert err.startswith("error: ")
    assert err.count("\n") == 1


def test_local_environment_maps_volumes_and_lets_secrets_come_from_the_shell(tmp_path: Path):
    body = localrun.pipeline_for_range("2013-01-01", "2013-01-03")
    body["spec"]["warehouseSecretRef"] = {"name": "etl-warehouse"}
    job = builders.build_backfill_job(body)
    env = localrun.job_environment(
        job,
        2,
        environ={
            "PATH": "/usr/bin",
            "ETL_DATA_DIR": str(tmp_path),
            "WAREHOUSE_URL": "duckdb:///x.duckdb",
            "AWS_SECRET": "must-not-leak",
            "ETL_FAULT_LOAD": "1",
        },
        tmp_dir=tmp_path / "tmp",
    )
    assert env["JOB_COMPLETION_INDEX"] == "2"
    assert env["STAGING_DIR"] == str(tmp_path / "tmp" / "staging")  # /tmp/staging in the pod
    assert env["ETL_DATA_DIR"] == str(tmp_path)
    assert env["WAREHOUSE_URL"] == "duckdb:///x.duckdb"
    assert env["ETL_TIMEZONE"] == "America/New_York"
    assert env["ETL_FAULT_LOAD"] == "1"
    assert "AWS_SECRET" not in env


def test_missing_partition_fails_the_index_with_the_not_retryable_code(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("ETL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LANDING_DIR", str(tmp_path / "empty-landing"))
    monkeypatch.setenv("WAREHOUSE_URL", f"duckdb:///{tmp_path / 'wh.duckdb'}")
    job = builders.build_backfill_job(localrun.pipeline_for_range("2013-01-01", "2013-01-02"))
    results = localrun.run_job(job)
    assert [r.partition for r in results] == ["2013-01-01", "2013-01-02"]
    assert {r.returncode for r in results} == {builders.EXIT_NOT_RETRYABLE}
    assert "no landing file" in results[0].stderr


def test_job_path_loads_the_same_carrier_daily_rows_as_the_plain_cli(tmp_path: Path, monkeypatch):
    """What `make run DATE=2013-01-05` does, against `etl run --date 2013-01-05`."""
    import subprocess
    import sys

    from etl_shared.warehouse import open_warehouse

    day = "2013-01-05"
    landing = tmp_path / "landing"
    bin_dir = Path(sys.executable).parent
    base = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "LANDING_DIR": str(landing),
        "ETL_DATA_DIR": str(tmp_path),
    }
    subprocess.run(
        [bin_dir / "etl", "seed", "--start", day, "--end", day],
        env=base,
        check=True,
        capture_output=True,
    )
    k8s_url, cli_url = (
        f"duckdb:///{tmp_path / 'k8s.duckdb'}",
        f"duckdb:///{tmp_path / 'cli.duckdb'}",
    )
    subprocess.run(
        [bin_dir / "etl", "run", "--date", day],
        env={**base, "WAREHOUSE_URL": cli_url},
        check=True,
        capture_output=True,
    )
    for key, value in {**base, "WAREHOUSE_URL": k8s_url}.items():
        monkeypatch.setenv(key, value)
    (result,) = localrun.run_job(builders.build_backfill_job(localrun.pipeline_for_range(day, day)))
    assert result.ok, result.stderr
    with open_warehouse(k8s_url) as k8s, open_warehouse(cli_url) as cli:
        rows = k8s.table_rows("carrier_daily", day)
        assert rows
        assert rows == cli.table_rows("carrier_daily", day)
        assert k8s.query("SELECT platform, status FROM pipeline_runs") == [("k8s", "success")]


def test_cronjob_yesterday_outside_the_data_is_refused_in_one_line(capsys, monkeypatch):
    monkeypatch.setenv("ETL_TIMEZONE", "UTC")
    assert jobcmd.main(["--date", "yesterday"]) == builders.EXIT_BAD_ARGS  # today: 2014+
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: invalid partition")
    assert "outside the data (2013-01-01..2013-12-31)" in line


def test_a_pod_without_warehouse_url_fails_naming_the_secret(tmp_path: Path, monkeypatch, capsys):
    """No silent DuckDB file inside the pod: outside local mode WAREHOUSE_URL is required."""
    monkeypatch.delenv("ETL_LOCAL_MODE", raising=False)
    monkeypatch.delenv("WAREHOUSE_URL", raising=False)
    monkeypatch.setenv("ETL_DATA_DIR", str(tmp_path))
    assert jobcmd.main(["--date", "2013-01-01"]) == builders.EXIT_BAD_ARGS
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "no warehouse configured: set WAREHOUSE_URL" in line
    assert "spec.warehouseSecretRef" in line
    assert not list(tmp_path.rglob("*.duckdb"))


def test_local_mode_reaches_the_local_job_from_the_shell(tmp_path: Path):
    job = builders.build_backfill_job(localrun.pipeline_for_range("2013-01-01", "2013-01-01"))
    env = localrun.job_environment(
        job, 0, environ={"PATH": "/usr/bin", "ETL_LOCAL_MODE": "1"}, tmp_dir=tmp_path
    )
    assert env["ETL_LOCAL_MODE"] == "1"
    assert "ETL_LOCAL_MODE" not in localrun.job_environment(
        job, 0, environ={"PATH": "/usr/bin"}, tmp_dir=tmp_path
    )

"""`make bench-year`'s Airflow backfill (bench/bench_year.py) on two days: Airflow's own
backfill, run by a real scheduler with the LocalExecutor (api-server, scheduler and
dag-processor as local processes), into a fresh warehouse equal to the bare steps'."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from etl_shared.bench_year import DAILY_TABLES
from etl_shared.compare import checksums
from etl_shared.landing import seed
from etl_shared.warehouse import open_warehouse

ROOT = Path(__file__).resolve().parents[1]
DAYS = ["2013-01-01", "2013-01-02"]


def _bench_year():
    spec = importlib.util.spec_from_file_location("bench_year", ROOT / "bench" / "bench_year.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _env(work: Path, landing: Path) -> dict[str, str]:
    (work / "staging").mkdir(parents=True)
    return {
        **os.environ,
        "ETL_LOCAL_MODE": "1",
        "ETL_DATA_DIR": str(work),
        "LANDING_DIR": str(landing),
        "STAGING_DIR": str(work / "staging"),
        "WAREHOUSE_URL": f"duckdb://{work / 'warehouse.duckdb'}",
    }


def test_bench_year_backfill(tmp_path: Path, airflow_db: Path) -> None:
    from importlib.metadata import version

    landing = tmp_path / "landing"
    seed(landing, DAYS[0], DAYS[-1])
    env, bare = _env(tmp_path / "airflow", landing), _env(tmp_path / "bare", landing)
    template = airflow_db.parent / f"template-airflow-{version('apache-airflow')}.db"

    _bench_year().backfill(DAYS, env, metadata_db=template)

    with open_warehouse(env["WAREHOUSE_URL"]) as wh:
        runs = wh.query(
            "SELECT CAST(partition_date AS TEXT), platform, status, run_id FROM pipeline_runs "
            "ORDER BY 1"
        )
    assert [r[:3] for r in runs] == [(day, "airflow", "success") for day in DAYS]
    # run by Airflow's backfill: the DAG runs' ids are backfill run ids
    assert all(r[3].startswith("airflow-backfill__") for r in runs), runs

    etl = Path(sys.executable).with_name("etl")
    done = subprocess.run(
        [str(etl), "backfill", "--start", DAYS[0], "--end", DAYS[-1]],
        env=bare, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    ours = checksums(env["WAREHOUSE_URL"], tables=DAILY_TABLES)
    assert ours == checksums(bare["WAREHOUSE_URL"], tables=DAILY_TABLES)
    assert ours["flights"][0] > 0
    # nothing it started is left running (the `etl backfill` above was waited for)
    import psutil

    left = [" ".join(p.cmdline()) for p in psutil.Process().children(recursive=True)]
    assert left == [], left

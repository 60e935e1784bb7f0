"""Test session set-up: a private Airflow home with its own SQLite metadata DB.

The environment is set here, before anything imports airflow: Airflow reads its
configuration once, at import.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest

PLATFORM_DIR = Path(__file__).resolve().parents[1]
TEST_HOME = PLATFORM_DIR / "airflow_home" / "tests"

os.environ["AIRFLOW_HOME"] = str(TEST_HOME)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(PLATFORM_DIR / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(PLATFORM_DIR / "plugins")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] = "True"
os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"
# Retry delays are read when the DAG file is parsed: keep them short for the session.
os.environ["ETL_RETRY_DELAY_SECONDS"] = "1"
for name in ("WAREHOUSE_URL", "AIRFLOW_CONN_ETL_WAREHOUSE", "LANDING_DIR", "STAGING_DIR"):
    os.environ.pop(name, None)


def _fresh_metadata_db() -> Path:
    """A clean, migrated SQLite metadata DB for this session.

    Migrating takes ~10 s, so it happens once per Airflow version into a template that
    every session copies: each session starts from the same empty state (no DAG versions
    or runs left over from an earlier session with other DAG code).
    """
    TEST_HOME.mkdir(parents=True, exist_ok=True)
    db = TEST_HOME / "airflow.db"
    template = TEST_HOME / f"template-airflow-{version('apache-airflow')}.db"
    if not template.exists():
        db.unlink(missing_ok=True)
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        shutil.copy(db, template)
    shutil.copy(template, db)
    return db


# Before any test module imports airflow (and opens the DB).
_METADATA_DB = _fresh_metadata_db()


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """The session's metadata DB (SQLite under airflow_home/tests)."""
    return _METADATA_DB


# dag.test()'s loop sleeps a whole second whenever no task is ready to run: after a failed
# task it marks the tasks below it upstream_failed one level per pass (five passes for
# flights_daily), and it waits the same way for a retry's time to come. Every failed or
# retried run in this suite paid those seconds. The tests poll that loop every tenth of a
# second instead: the passes, their order, the states and the retry times are Airflow's
# own, unchanged (the retry delays are Airflow's, at least a second each).
DAG_TEST_POLL_SECONDS = 0.1


@pytest.fixture(scope="session", autouse=True)
def _dag_test_polls_quickly() -> Iterator[None]:
    import time

    from airflow.sdk import DAG

    loop = DAG.test.__code__
    sleep = time.sleep

    def poll(seconds: float) -> None:
        caller = sys._getframe(1).f_code
        sleep(min(seconds, DAG_TEST_POLL_SECONDS) if caller is loop else seconds)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(time, "sleep", poll)
        yield

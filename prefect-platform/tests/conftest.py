"""Test session: a real Prefect API (the test harness) on its own temporary PREFECT_HOME.

The etl-shared pytest plugin provides the landing zone, warehouses (DuckDB file, real
PostgreSQL), fault switches and golden rows; this file adds the Prefect side.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from typing import Any

# Before Prefect is imported: its settings are read at import time.
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="prefect-platform-tests-")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

import pytest
from prefect.testing.utilities import prefect_test_harness

# On 2 busy cores the API server's first start (SQLite migrations) can take well over
# the harness's default 30 s.
SERVER_STARTUP_TIMEOUT = 240


@pytest.fixture(scope="session", autouse=True)
def prefect_api() -> Iterator[None]:
    """One Prefect API server (SQLite in a temp folder) for the whole session."""
    with prefect_test_harness(server_startup_timeout=SERVER_STARTUP_TIMEOUT):
        yield


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETL_RETRY_DELAY_SECONDS", "0.2")


@pytest.fixture
def warehouse(landing_zone: Any, duckdb_warehouse: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh DuckDB warehouse and a private landing zone (the etl-shared fixtures)."""
    monkeypatch.setenv("WAREHOUSE_URL", duckdb_warehouse)
    return duckdb_warehouse

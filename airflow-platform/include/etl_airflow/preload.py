"""Imports that flights_daily's task processes need, loaded once into the process that
forks them.

The LocalExecutor's workers are forked from the scheduler, and each task try is forked
from a worker (Airflow's supervisor, a bare `os.fork` on Linux), which then parses the
DAG file: ~1 s of imports per task (DuckDB's module alone ~0.6 s), most of a short
task's cost. Imported once in the scheduler, they come with every fork for free.

`make bench-year` loads this from the `airflow_local_settings.py` of its Airflow home
(:data:`LOCAL_SETTINGS`), in the scheduler only. Only modules that do not import
Airflow: airflow_local_settings runs while Airflow itself is still being imported.
"""

from __future__ import annotations

import importlib

MODULES = (
    "duckdb",
    "croniter",
    "sqlparse",
    "etl_shared.steps",
    "etl_shared.warehouse",
    "etl_shared.policy",
    "etl_shared.partitions",
)

LOCAL_SETTINGS = '''"""The scheduler preloads what the task processes it forks import (etl_airflow.preload)."""

import sys

__all__: list[str] = []  # nothing here overrides Airflow's settings

if sys.argv[1:2] == ["scheduler"]:
    from etl_airflow import preload

    preload.modules()
'''


def modules() -> None:
    for name in MODULES:
        importlib.import_module(name)

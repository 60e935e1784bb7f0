"""One DuckDB compute engine per process, shared by the tasks that run in it.

etl-shared computes every step in an in-memory DuckDB engine that caches the reference
tables (airlines, airports, weather). Under `dag.test()` all tasks of all runs share one
process, so one engine saves re-reading the reference files in every task (~0.4 s a
partition). In a deployment each task is its own process and simply gets its own engine.
"""

from __future__ import annotations

import os

from etl_shared.stage import Engine

_engine: Engine | None = None
_pid: int | None = None


def shared_engine() -> Engine:
    global _engine, _pid
    if _engine is None or _pid != os.getpid():  # a forked child never reuses its parent's
        _engine, _pid = Engine(), os.getpid()
    return _engine

"""Helpers for the tests: read the warehouse, read what the Prefect API recorded."""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from etl_shared.warehouse import open_warehouse


def task_runs(
    flow_run_id: UUID, expect: set[str] | None = None, timeout: float = 30
) -> dict[str, Any]:
    """The flow run's task runs by task name, as the API recorded them.

    Task run states reach the API through events, a moment after the flow returns: poll
    until every name in `expect` is there with a final state.
    """
    deadline = time.monotonic() + timeout
    while True:
        with get_client(sync_client=True) as client:
            runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )
        by_name = {r.name.rsplit("-", 1)[0]: r for r in runs}  # "extract-0d8" -> "extract"
        done = {n for n, r in by_name.items() if r.state is not None and r.state.is_final()}
        if expect is None or expect <= done or time.monotonic() > deadline:
            return by_name
        time.sleep(0.2)


def query(url: str, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with open_warehouse(url) as wh:
        return wh.query(sql, params or [])

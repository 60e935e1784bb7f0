"""Small helpers the platform tests share."""

import datetime as dt
from typing import Any

from etl_shared.warehouse import open_warehouse


def runs_of(url: str, partition: str) -> list[tuple[Any, ...]]:
    """(run_id, platform, status, error) of every recorded run of a partition, oldest first."""
    with open_warehouse(url) as wh:
        return wh.query(
            "SELECT run_id, platform, status, error FROM pipeline_runs "
            "WHERE partition_date = ? ORDER BY started_at",
            [dt.date.fromisoformat(partition)],
        )

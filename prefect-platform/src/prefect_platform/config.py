"""Platform settings read from the environment when a flow runs (one exception below).

| variable                  | default                          | meaning |
| ------------------------- | -------------------------------- | ------- |
| `ETL_RETRY_DELAY_SECONDS` | `30`                             | first retry delay; later ones double (`etl_shared.policy`) |
| `ETL_ALERT_FILE`          | `$ETL_DATA_DIR/alerts.jsonl`     | where a failed run's alert is appended (one JSON line) |
| `BACKFILL_MAX_WORKERS`    | `2`                              | partitions a backfill runs at the same time (read when `flows/backfill.py` is imported: it sizes the flow's declared task runner) |

The pipeline's own settings (`LANDING_DIR`, `WAREHOUSE_URL`, `STAGING_DIR`) are read by
`etl_shared.config.Settings.from_env()`; the retry policy (attempts, backoff, the first
delay's `ETL_RETRY_DELAY_SECONDS`) by `etl_shared.policy.retry_policy()`.
"""

from __future__ import annotations

import os
from pathlib import Path

PLATFORM = "prefect"


def backfill_max_workers() -> int:
    return max(1, int(os.environ.get("BACKFILL_MAX_WORKERS", "2")))


def alert_file() -> Path:
    explicit = os.environ.get("ETL_ALERT_FILE")
    if explicit:
        return Path(explicit).absolute()
    data_dir = Path(os.environ.get("ETL_DATA_DIR") or "data").absolute()
    return data_dir / "alerts.jsonl"

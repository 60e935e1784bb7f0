"""Configuration from the environment, with one documented default for local use.

| variable        | default                                  |
| --------------- | ---------------------------------------- |
| `ETL_DATA_DIR`  | `./data` (relative to the working dir)   |
| `LANDING_DIR`   | `$ETL_DATA_DIR/landing`                  |
| `WAREHOUSE_URL` | `duckdb://$ETL_DATA_DIR/warehouse.duckdb` (an absolute path) |
| `STAGING_DIR`   | `$ETL_DATA_DIR/staging`                  |

Settings are read when a step runs, never at import time, so a test or an
orchestrator can point a run somewhere else by setting the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    landing_dir: Path
    warehouse_url: str
    staging_dir: Path

    @classmethod
    def from_env(cls, environ: os._Environ[str] | dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("ETL_DATA_DIR") or "data").absolute()
        landing = Path(env.get("LANDING_DIR") or data_dir / "landing").absolute()
        staging = Path(env.get("STAGING_DIR") or data_dir / "staging").absolute()
        url = env.get("WAREHOUSE_URL") or f"duckdb://{data_dir / 'warehouse.duckdb'}"
        return cls(landing_dir=landing, warehouse_url=url, staging_dir=staging)

    def replace(self, **changes: object) -> Settings:
        from dataclasses import replace

        return replace(self, **changes)

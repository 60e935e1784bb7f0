"""Configuration from the environment, with one documented default for local use.

| variable         | default                                  |
| ---------------- | ---------------------------------------- |
| `ETL_DATA_DIR`   | `./data` (relative to the working dir)   |
| `LANDING_DIR`    | `$ETL_DATA_DIR/landing`                  |
| `WAREHOUSE_URL`  | local mode only: `duckdb://$ETL_DATA_DIR/warehouse.duckdb` (an absolute path) |
| `STAGING_DIR`    | `$ETL_DATA_DIR/staging`                  |
| `ETL_LOCAL_MODE` | unset: `1` allows the local warehouse default above |

A deployment never falls back silently: without `ETL_LOCAL_MODE=1` a missing
`WAREHOUSE_URL` (or a platform's warehouse connection) fails the run with a message
naming what to set. The Makefiles and the test suites set `ETL_LOCAL_MODE=1`.

`WAREHOUSE_URL` takes two forms, checked before anything runs (ConfigError, exit 2):
`duckdb:///absolute/path/file.duckdb` or `postgresql://user:pass@host:port/db`. A relative
DuckDB path (`duckdb://file.duckdb`) is refused: it would resolve against whatever the
working directory of the process happens to be.

Settings are read when a step runs, never at import time, so a test or an
orchestrator can point a run somewhere else by setting the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from etl_shared.errors import ConfigError

LOCAL_MODE_ENV = "ETL_LOCAL_MODE"
WAREHOUSE_URL_FORMS = "duckdb:///absolute/path/file.duckdb or postgresql://user:pass@host:port/db"


def local_mode(environ: Mapping[str, str] | None = None) -> bool:
    """True when `ETL_LOCAL_MODE` is set to 1/true/yes: local defaults are allowed."""
    env = os.environ if environ is None else environ
    return (env.get(LOCAL_MODE_ENV) or "").strip().lower() in ("1", "true", "yes")


def default_warehouse_url(environ: Mapping[str, str] | None = None) -> str:
    """The local DuckDB file under ETL_DATA_DIR (only ever used in local mode)."""
    env = os.environ if environ is None else environ
    data_dir = Path(env.get("ETL_DATA_DIR") or "data").absolute()
    return f"duckdb://{data_dir / 'warehouse.duckdb'}"


def missing_warehouse_message(source: str = "WAREHOUSE_URL") -> str:
    return (
        f"no warehouse configured: set {source} ({WAREHOUSE_URL_FORMS}); "
        f"{LOCAL_MODE_ENV}=1 allows the local DuckDB default (make sets it)"
    )


def check_warehouse_url(url: str | None, *, source: str = "WAREHOUSE_URL") -> str:
    """Return `url` when it has one of the two accepted forms; raise ConfigError otherwise.

    The message is one line, names the two forms and never carries a password.
    """
    from etl_shared.warehouse.base import redact_url

    if not url:
        raise ConfigError(missing_warehouse_message(source))
    if url.startswith(("postgresql://", "postgres://")):
        return url
    if url.startswith("duckdb://"):
        path = url.removeprefix("duckdb://")
        if not path.strip("/"):
            raise ConfigError(f"{source} {url!r} names no file: use {WAREHOUSE_URL_FORMS}")
        if not path.startswith("/"):
            raise ConfigError(
                f"{source} {url!r} is a relative DuckDB path: use {WAREHOUSE_URL_FORMS}"
            )
        return url
    raise ConfigError(f"unsupported {source} {redact_url(url)!r}: use {WAREHOUSE_URL_FORMS}")


@dataclass(frozen=True)
class Settings:
    landing_dir: Path
    warehouse_url: str
    staging_dir: Path

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from the environment. Without WAREHOUSE_URL, `warehouse_url` is the
        local default in local mode and empty otherwise (opening it then fails clearly)."""
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("ETL_DATA_DIR") or "data").absolute()
        landing = Path(env.get("LANDING_DIR") or data_dir / "landing").absolute()
        staging = Path(env.get("STAGING_DIR") or data_dir / "staging").absolute()
        url = env.get("WAREHOUSE_URL") or (default_warehouse_url(env) if local_mode(env) else "")
        return cls(landing_dir=landing, warehouse_url=url, staging_dir=staging)

    def replace(self, **changes: object) -> Settings:
        from dataclasses import replace

        return replace(self, **changes)

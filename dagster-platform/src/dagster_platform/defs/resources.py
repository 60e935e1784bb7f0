"""Resources, chosen by one setting: DAGSTER_DEPLOYMENT=local or prod.

Without DAGSTER_DEPLOYMENT the deployment is `prod`, unless local mode is explicit
(`ETL_LOCAL_MODE=1`, which the Makefile and the tests set): a deployment never falls back
to a local file silently.

* local: every field is left empty, so etl-shared's own environment defaults apply when a
  step runs (`ETL_DATA_DIR`, `LANDING_DIR`, `WAREHOUSE_URL`, `STAGING_DIR`; the DuckDB file
  under `data/` only in local mode, else a run without `WAREHOUSE_URL` fails saying so).
  A test or `make run` points a run elsewhere by setting the environment.
* prod: every location is required from the environment (`dg.EnvVar`), so a pod without
  `WAREHOUSE_URL` fails at start instead of writing to a local file; the StageRefs passed
  between assets go to the shared volume (`DAGSTER_STORAGE_DIR`).

The classes live outside `defs/` (`dagster_platform.resources`, `dagster_platform.io_managers`):
this module only binds them for the code location.
"""

from __future__ import annotations

import os
from typing import Any

import dagster as dg

from dagster_platform.io_managers import WarehouseIOManager
from dagster_platform.resources import EtlResource
from etl_shared.config import local_mode

DEPLOYMENTS = ("local", "prod")
# What a prod container must have in its environment (deploy/values.yaml provides them).
PROD_ENV = ("LANDING_DIR", "STAGING_DIR", "WAREHOUSE_URL", "DAGSTER_STORAGE_DIR")


def build_resources(deployment: str) -> dict[str, Any]:
    """The resources of one deployment."""
    if deployment == "local":
        etl = EtlResource()
        io_manager: Any = dg.FilesystemIOManager()  # under $DAGSTER_HOME/storage
    elif deployment == "prod":
        etl = EtlResource(
            landing_dir=dg.EnvVar("LANDING_DIR"),
            staging_dir=dg.EnvVar("STAGING_DIR"),
            warehouse_url=dg.EnvVar("WAREHOUSE_URL"),
        )
        io_manager = dg.FilesystemIOManager(base_dir=dg.EnvVar("DAGSTER_STORAGE_DIR"))
    else:
        raise ValueError(f"DAGSTER_DEPLOYMENT must be one of {DEPLOYMENTS}, not {deployment!r}")
    return {
        "etl": etl,
        # StageRef dicts between assets (a few hundred bytes each, never rows).
        "io_manager": io_manager,
        # The warehouse tables: one partition replaced atomically through etl-shared.
        "warehouse_io_manager": WarehouseIOManager(etl=etl),
    }


def current_deployment() -> str:
    """DAGSTER_DEPLOYMENT; unset, `local` in local mode and `prod` otherwise."""
    return os.environ.get("DAGSTER_DEPLOYMENT") or ("local" if local_mode() else "prod")


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=build_resources(current_deployment()))

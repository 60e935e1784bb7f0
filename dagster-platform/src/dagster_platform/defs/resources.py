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

Asset code only asks these resources for `Settings`; nothing environment-specific is
written anywhere else.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import PrivateAttr

from etl_shared.config import Settings, local_mode
from etl_shared.stage import Engine
from etl_shared.warehouse import Warehouse, open_warehouse

DEPLOYMENTS = ("local", "prod")
# What a prod container must have in its environment (deploy/values.yaml provides them).
PROD_ENV = ("LANDING_DIR", "STAGING_DIR", "WAREHOUSE_URL", "DAGSTER_STORAGE_DIR")


class EtlResource(dg.ConfigurableResource):
    """Where the pipeline reads its landing files, stages rows and keeps its warehouse.

    An empty field means "etl-shared's default from the environment, read at run time".
    """

    landing_dir: str = ""
    staging_dir: str = ""
    warehouse_url: str = ""

    _engine: Engine | None = PrivateAttr(default=None)

    def engine(self) -> Engine:
        """The DuckDB engine the steps of this run compute with, created on first use.

        Resources live as long as the run's process, so with the in-process executor every
        step of a run shares one engine and the reference tables it has cached (saves
        ~0.2 s a partition); each step still hands the next one only its StageRef.
        """
        if self._engine is None:
            self._engine = Engine()
        return self._engine

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None

    def settings(self) -> Settings:
        settings = Settings.from_env()
        changes: dict[str, Any] = {}
        if self.landing_dir:
            changes["landing_dir"] = Path(self.landing_dir)
        if self.staging_dir:
            changes["staging_dir"] = Path(self.staging_dir)
        if self.warehouse_url:
            changes["warehouse_url"] = self.warehouse_url
        return settings.replace(**changes) if changes else settings

    @contextmanager
    def warehouse(self) -> Iterator[Warehouse]:
        """The warehouse, for checks and run records (assets never open it themselves)."""
        with open_warehouse(self.settings().warehouse_url, self.engine()) as wh:
            yield wh


def build_resources(deployment: str) -> dict[str, Any]:
    """The resources of one deployment."""
    from dagster_platform.defs.io_managers import WarehouseIOManager  # it depends on EtlResource

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

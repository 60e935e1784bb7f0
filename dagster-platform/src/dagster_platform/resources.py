"""`EtlResource`: where the pipeline reads, stages and keeps its warehouse.

A resource class, not a definition: `defs/resources.py` binds it (and the IO managers) for
the deployment. Asset code only asks it for `Settings`, a DuckDB engine or the warehouse;
nothing environment-specific is written anywhere else.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import PrivateAttr

from etl_shared.config import Settings
from etl_shared.stage import Engine
from etl_shared.warehouse import Warehouse, open_warehouse


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

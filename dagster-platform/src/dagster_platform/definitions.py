"""The code location: everything under `defs/`, assembled and nothing else.

`dagster dev`, `dagster asset materialize -m dagster_platform.definitions` and the
Helm chart's user-code server all load this module. It stays cheap to import: the
modules under `defs/` build definitions and read no data and open no connections.
"""

import functools
from pathlib import Path

import dagster as dg


@dg.definitions
@functools.cache
def defs() -> dg.Definitions:
    # Cached: Dagster calls a @definitions function again each time it reconstructs the
    # code location (six times for one `dagster asset materialize`, ~0.25 s each here).
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)

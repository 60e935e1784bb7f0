"""The shared contract suite, through the plain-Python runner, on DuckDB and PostgreSQL."""

from etl_shared.testing.contract import *  # noqa: F403

"""Test set-up shared by every test module.

Dagster retry policies are part of the definitions, so the first retry delay is read
when the code location loads: set it before anything imports `dagster_platform.defs`.
"""

import os

os.environ.setdefault("ETL_RETRY_DELAY_SECONDS", "0.2")
os.environ.setdefault("DAGSTER_DEPLOYMENT", "local")

import dagster as dg
import pytest
from dagster_platform.runs import load_definitions


@pytest.fixture(scope="session")
def defs() -> dg.Definitions:
    return load_definitions()


@pytest.fixture(scope="session")
def instance() -> dg.DagsterInstance:
    """One ephemeral Dagster instance (in-memory run storage, temp folders) per session."""
    with dg.DagsterInstance.ephemeral() as inst:
        yield inst

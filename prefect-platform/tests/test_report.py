"""The monthly report starts itself: `flights_daily`'s event, `prefect.yaml`'s trigger and
the session server's event services (triggers and actions, on by default in the server).

`prefect deploy` registers the `carrier-report-monthly` deployment of `prefect.yaml`,
whose `triggers:` entry becomes an automation on the server. A `flights_daily` run then
publishes the month's last day for real; the server's trigger service matches the event
and its action service creates a flow run of the report deployment with the month from
the event. Nothing serves the Kubernetes work pool here, so the test executes that flow
run itself, as the worker's pod does (`prefect.engine`: load the run, `run_flow`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from helpers import query
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
from prefect.client.schemas.objects import FlowRun
from prefect.events.filters import EventFilter, EventNameFilter, EventRelatedFilter
from prefect.flow_engine import load_flow_run, run_flow
from prefect.settings import PREFECT_API_URL
from prefect_platform.events import COMPLETE_LABEL, MONTH_LABEL, PUBLISHED
from prefect_platform.flows import carrier_report_monthly, flights_daily

from etl_shared.partitions import month_bounds
from etl_shared.testing.contract import load_month_but
from etl_shared.testing.landing import GOLDEN_MONTH

ROOT = Path(__file__).resolve().parents[1]
REPORT = "carrier_report_monthly/carrier-report-monthly"
TIMEOUT = 120  # seconds: event -> trigger -> action -> flow run, on 2 busy cores


@pytest.fixture(scope="module")
def report_deployment() -> Iterator[UUID]:
    """`prefect deploy --name carrier-report-monthly` from `prefect.yaml`; removed after
    the module with its automation, so later tests' months start nothing."""
    template = json.loads((ROOT / "deploy" / "k8s-base-job-template.json").read_text())
    with get_client(sync_client=True) as client:
        client.create_work_pool(
            WorkPoolCreate(name="k8s-pipelines", type="kubernetes", base_job_template=template),
            overwrite=True,
        )
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(),
           "PREFECT_PLATFORM_IMAGE": "registry.example/prefect-platform:test"}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--prefect-file",
         "prefect.yaml", "--name", "carrier-report-monthly"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    with get_client(sync_client=True) as client:
        deployment_id = client.read_deployment_by_name(REPORT).id
    yield deployment_id
    with get_client(sync_client=True) as client:
        client.delete_resource_owned_automations(f"prefect.deployment.{deployment_id}")
        client.delete_deployment(deployment_id)


def _report_runs(deployment_id: UUID) -> dict[UUID, FlowRun]:
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
        )
    return {run.id: run for run in runs}


def _new_report_run(deployment_id: UUID, before: dict[UUID, FlowRun]) -> FlowRun:
    """The one flow run of the report deployment created since `before`, once there is one."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        new = [run for i, run in _report_runs(deployment_id).items() if i not in before]
        if new:
            assert len(new) == 1, [(run.name, run.parameters) for run in new]
            return new[0]
        assert time.monotonic() < deadline, f"no flow run of {REPORT} within {TIMEOUT} s"
        time.sleep(0.5)


def _event_of(name: str, flow_run_id: UUID) -> Any:
    """The one event `name` related to the flow run, as the server stored it."""
    deadline = time.monotonic() + TIMEOUT
    event_filter = EventFilter(
        event=EventNameFilter(name=[name]),
        related=EventRelatedFilter(id=[f"prefect.flow-run.{flow_run_id}"]),
    )
    while True:
        with get_client(sync_client=True) as client:
            events = client.read_events(filter=event_filter, limit=10).events
        if events:
            (event,) = events
            return event
        assert time.monotonic() < deadline, f"no {name} event within {TIMEOUT} s"
        time.sleep(0.5)


def _published_event(flow_run_id: UUID) -> Any:
    """The `etl.partition.published` event the flow run emitted."""
    return _event_of(PUBLISHED, flow_run_id)


def _triggering_event_id(report_run_id: UUID) -> str:
    """The event that started the report run: the automation's action records it."""
    executed = _event_of("prefect.automation.action.executed", report_run_id)
    (triggering,) = [r for r in executed.related if r.role == "triggering-event"]
    return triggering.id


def _report_rows(warehouse: str) -> list[tuple[Any, ...]]:
    first, _after = month_bounds(GOLDEN_MONTH)
    return query(warehouse, "SELECT carrier, flights FROM carrier_monthly WHERE month = ?", [first])


def test_report_runs_when_the_month_is_complete(
    report_deployment: UUID,
    warehouse: str,
    landing_zone: Path,
    golden_month_landing: Path,
    golden_carrier_monthly: list[dict[str, Any]],
) -> None:
    days = load_month_but(landing_zone, golden_month_landing, skip=1)
    before = _report_runs(report_deployment)

    published = flights_daily(date=days[-1], return_state=True)  # the month's last day
    assert published.is_completed(), published.message
    event = _published_event(published.state_details.flow_run_id)
    assert (event.resource[MONTH_LABEL], event.resource[COMPLETE_LABEL]) == (GOLDEN_MONTH, "true")
    assert event.payload["completed_month"] == GOLDEN_MONTH

    triggered = _new_report_run(report_deployment, before)
    assert triggered.parameters == {"month": GOLDEN_MONTH}
    assert _triggering_event_id(triggered.id) == f"prefect.event.{event.id}"
    assert _report_rows(warehouse) == []  # nothing written until the run executes

    # What the worker's pod does with the run: prefect.engine loads it and runs the flow.
    state = run_flow(
        carrier_report_monthly, flow_run=load_flow_run(triggered.id), return_type="state"
    )
    assert state.is_completed(), state.message
    rows = _report_rows(warehouse)
    assert len(rows) == len(golden_carrier_monthly)
    assert sorted(rows) == sorted((g["carrier"], g["flights"]) for g in golden_carrier_monthly)
    with get_client(sync_client=True) as client:
        final = client.read_flow_run(triggered.id)
    assert (final.deployment_id, final.state_name) == (report_deployment, "Completed")
    assert final.name == f"carrier_report_monthly-{GOLDEN_MONTH}"


def test_report_waits_for_an_incomplete_month(
    report_deployment: UUID, warehouse: str, landing_zone: Path, golden_month_landing: Path
) -> None:
    """The last day arrives before the one before it: its event says the month is not
    complete and starts nothing. Only when the missing day is published does the report
    run, once, started by that day's event (the automation's action event names it). The
    server's trigger service reads events in the order they arrive, so a run started by
    the first event would exist by the time the second one's does."""
    days = load_month_but(landing_zone, golden_month_landing, skip=2)
    before = _report_runs(report_deployment)

    last = flights_daily(date=days[-1], return_state=True)
    assert last.is_completed(), last.message
    event = _published_event(last.state_details.flow_run_id)
    assert (event.resource[MONTH_LABEL], event.resource[COMPLETE_LABEL]) == (GOLDEN_MONTH, "false")
    assert event.payload["completed_month"] is None

    missing = flights_daily(date=days[-2], return_state=True)
    assert missing.is_completed(), missing.message
    completing = _published_event(missing.state_details.flow_run_id)
    assert completing.resource[COMPLETE_LABEL] == "true"
    triggered = _new_report_run(report_deployment, before)  # exactly one new run
    assert triggered.parameters == {"month": GOLDEN_MONTH}
    assert _triggering_event_id(triggered.id) == f"prefect.event.{completing.id}"
    assert _report_rows(warehouse) == []  # the trigger only creates the run
    with get_client(sync_client=True) as client:  # nothing left for a later worker to pick up
        client.delete_flow_run(triggered.id)

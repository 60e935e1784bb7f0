"""Prefect's configuration equals etl-shared's policy (the same tests run on every platform).

Schedule, retries, "yesterday" and the warehouse Secret are declared once in
`etl_shared.policy`; these tests read them back from the objects Prefect itself uses:
the served deployments, the task objects, and `prefect.yaml` (YAML cannot import the
policy, so it is asserted equal here).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from prefect_platform import tasks

from etl_shared import policy

ROOT = Path(__file__).resolve().parents[1]
STEPS = (tasks.extract, tasks.validate, tasks.transform, tasks.load, tasks.check)


def test_schedule_matches_shared_policy() -> None:
    from prefect_platform.serve import deployments

    daily, _back, _report = deployments()
    ((schedule,),) = [daily.schedules]
    assert (schedule.schedule.cron, schedule.schedule.timezone) == (
        policy.DAILY.cron,
        policy.DAILY.timezone,
    )
    project = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    (deployment,) = [d for d in project["deployments"] if d["name"] == "flights-daily"]
    ((declared,),) = [deployment["schedules"]]
    assert (declared["cron"], declared["timezone"]) == (policy.DAILY.cron, policy.DAILY.timezone)


def test_retry_policy_matches_shared_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    production = policy.retry_policy({})
    monkeypatch.setenv("ETL_RETRY_DELAY_SECONDS", "0.5")
    at_run_time = policy.retry_policy()
    for step in STEPS:
        assert step.retries == production.attempts - 1, step.name
        assert step.retry_delay_seconds == production.delays(), step.name
        assert step.retry_condition_fn is tasks.retry_transient_only
        configured = tasks.configured(step)
        assert configured.retries == at_run_time.attempts - 1
        assert configured.retry_delay_seconds == at_run_time.delays() == [0.5, 1.0, 2.0]


@pytest.mark.parametrize(
    ("scheduled", "expected"),
    [
        (dt.datetime(2013, 1, 6, 11, 0, tzinfo=dt.UTC), "2013-01-05"),  # 06:00 New York
        (dt.datetime(2013, 1, 6, 2, 0, tzinfo=dt.UTC), "2013-01-04"),  # still Jan 5 there
    ],
)
def test_yesterday_partition_matches_shared_policy(scheduled: dt.datetime, expected: str) -> None:
    from prefect_platform.hooks import partition_of

    assert partition_of(None, scheduled) == policy.yesterday_partition(scheduled) == expected


def test_warehouse_secret_matches_shared_policy() -> None:
    template = json.loads((ROOT / "deploy" / "k8s-base-job-template.json").read_text())
    assert template["variables"]["properties"]["warehouse_secret"]["default"] == (
        policy.WAREHOUSE_SECRET
    )
    pod = template["job_configuration"]["job_manifest"]["spec"]["template"]["spec"]
    # envFrom: the Secret's key becomes the variable, so the key must be WAREHOUSE_URL
    assert pod["containers"][0]["envFrom"] == [{"secretRef": {"name": "{{ warehouse_secret }}"}}]
    readme = (ROOT / "README.md").read_text()
    assert f"`{policy.WAREHOUSE_SECRET}` with key `{policy.WAREHOUSE_SECRET_KEY}=" in readme


def test_run_id_and_staging_follow_shared_policy() -> None:
    from types import SimpleNamespace

    from prefect_platform.hooks import run_id_of

    flow_run = SimpleNamespace(id="0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
    assert run_id_of(flow_run) == policy.run_id_for("prefect", flow_run.id)  # type: ignore[arg-type]


@pytest.mark.parametrize("day", ["2013-01-31", "2013-02-01", "2013-02-28", "2013-12-31"])
def test_report_schedule_matches_shared_policy(day: str) -> None:
    """The report is event-driven here: the trigger in `prefect.yaml` and `serve.py` is
    `events.REPORT_TRIGGER`; a day's event matches it only when its month is complete, and
    the month it passes is etl-shared's month of the day: the month that MONTHLY_REPORT's
    next tick (the 1st at 07:00 New York time) would report."""
    from prefect.events.schemas.deployment_triggers import DeploymentEventTrigger
    from prefect.server.events.actions import RunDeployment
    from prefect.server.events.schemas.automations import EventTrigger
    from prefect.server.events.schemas.events import ReceivedEvent
    from prefect.utilities.schema_tools.hydration import HydrationContext, hydrate
    from prefect_platform.events import PUBLISHED, REPORT_TRIGGER, published_resource
    from prefect_platform.serve import deployments

    from etl_shared.partitions import month_bounds, month_key

    project = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    (deployment,) = [d for d in project["deployments"] if d["name"] == "carrier-report-monthly"]
    (declared,) = deployment["triggers"]
    assert DeploymentEventTrigger.model_validate(declared) == REPORT_TRIGGER
    *_, served = deployments()
    assert served.triggers == [REPORT_TRIGGER]

    trigger = EventTrigger.model_validate(
        REPORT_TRIGGER.model_dump(include=set(EventTrigger.model_fields) - {"id"})
    )

    def event(completed: str | None) -> ReceivedEvent:
        resource = published_resource(day, completed)
        now = dt.datetime.now(dt.UTC)
        return ReceivedEvent(event=PUBLISHED, resource=resource, occurred=now, id=uuid.uuid4())

    assert not trigger.covers(event(None))  # an incomplete month starts nothing
    complete = event(month_key(day))
    assert trigger.covers(complete)
    parameters = dict(REPORT_TRIGGER.parameters or {})
    RunDeployment._upgrade_v1_templates(parameters)
    rendered = hydrate(
        parameters,
        HydrationContext(raise_on_error=True, render_jinja=True, jinja_context={"event": complete}),
    )
    _first, next_first = month_bounds(day)
    tick = dt.datetime.combine(next_first, dt.time(7), ZoneInfo(policy.MONTHLY_REPORT.timezone))
    assert rendered == {"month": month_key(day)} == {"month": policy.previous_month(tick)}

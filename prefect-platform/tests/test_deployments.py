"""Deployment files: prefect.yaml registers against a real API on the Kubernetes work pool."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.flows import load_flow_from_entrypoint
from prefect.settings import PREFECT_API_URL

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "deploy" / "k8s-base-job-template.json"


def test_k8s_base_job_template_is_generated_from_installed_prefect_kubernetes() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "k8s_template.py"), "--check"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    template = json.loads(TEMPLATE.read_text())
    pod = template["job_configuration"]["job_manifest"]["spec"]["template"]["spec"]
    assert pod["containers"][0]["envFrom"] == [{"secretRef": {"name": "{{ warehouse_secret }}"}}]
    assert template["variables"]["properties"]["backoff_limit"]["default"] == 0


def test_prefect_yaml_entrypoints_load_the_flows() -> None:
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    names = {}
    for deployment in config["deployments"]:
        flow = load_flow_from_entrypoint(str(ROOT / deployment["entrypoint"]))
        names[deployment["name"]] = flow.name
    assert names == {
        "flights-daily": "flights_daily",
        "backfill": "backfill",
        "carrier-report-monthly": "carrier_report_monthly",
    }


def test_prefect_deploy_registers_daily_cron_on_kubernetes_pool() -> None:
    with get_client(sync_client=True) as client:
        client.create_work_pool(
            WorkPoolCreate(
                name="k8s-pipelines",
                type="kubernetes",
                base_job_template=json.loads(TEMPLATE.read_text()),
            ),
            overwrite=True,
        )
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(),
           "PREFECT_PLATFORM_IMAGE": "registry.example/prefect-platform:test"}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr

    with get_client(sync_client=True) as client:
        daily = client.read_deployment_by_name("flights_daily/flights-daily")
        back = client.read_deployment_by_name("backfill/backfill")
    assert daily.work_pool_name == back.work_pool_name == "k8s-pipelines"
    ((schedule,),) = [daily.schedules]
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 6 * * *", "America/New_York")
    assert schedule.active
    assert daily.job_variables["image"] == "registry.example/prefect-platform:test"
    assert daily.pull_steps == [
        {"prefect.deployments.steps.set_working_directory": {"directory": "/opt/prefect-platform"}}
    ]

    # The report's `triggers:` entry became an automation that runs its deployment.
    with get_client(sync_client=True) as client:
        report = client.read_deployment_by_name("carrier_report_monthly/carrier-report-monthly")
        owner = f"prefect.deployment.{report.id}"
        (automation,) = client.read_resource_related_automations(owner)
        client.delete_resource_owned_automations(owner)  # later tests' months start nothing
    assert automation.name == "carrier-report-monthly-on-complete-month"
    assert automation.trigger.expect == {"etl.partition.published"}
    assert automation.trigger.match.root == {
        "prefect.resource.id": "etl.partition.*",
        "etl.month.complete": "true",
    }
    ((action,),) = [automation.actions]
    assert (action.type, action.deployment_id) == ("run-deployment", report.id)


def test_serve_builds_local_deployments_with_the_daily_cron() -> None:
    from prefect_platform.serve import deployments

    daily, back, report = deployments()
    assert (daily.name, daily.flow_name, back.name, report.name) == (
        "flights-daily-local",
        "flights_daily",
        "backfill-local",
        "carrier-report-monthly-local",
    )
    assert daily.schedules[0].schedule.cron == "0 6 * * *"

"""The deployment files stay consistent with what the tests install (uv.lock)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _locked(name: str) -> str:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    return next(p["version"] for p in lock["package"] if p["name"] == name)


def test_image_chart_and_lock_pin_the_same_airflow() -> None:
    airflow = _locked("apache-airflow")
    assert airflow.startswith("3.3.")
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(rf"^ARG AIRFLOW_VERSION={re.escape(airflow)}$", dockerfile, re.M)
    assert "uv sync --frozen --no-dev" in dockerfile  # the same lock, not a second resolution
    values = yaml.safe_load((ROOT / "deploy" / "values.yaml").read_text())
    assert values["airflowVersion"] == airflow
    assert values["executor"] == "KubernetesExecutor"
    assert values["jwtSecretName"]


def test_compose_runs_the_airflow3_components_with_one_jwt_secret() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
    services = compose["services"]
    commands = {name: svc.get("command") for name, svc in services.items()}
    for component in ("api-server", "scheduler", "dag-processor", "triggerer"):
        assert component in commands.values(), component
    airflow_services = [s for s in services.values() if s.get("image") == "etl-airflow:latest"]
    secrets = {s["environment"]["AIRFLOW__API_AUTH__JWT_SECRET"] for s in airflow_services}
    assert len(secrets) == 1
    assert all(
        s["environment"]["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql")
        for s in airflow_services
    )

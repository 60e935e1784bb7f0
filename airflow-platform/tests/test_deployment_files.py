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


def test_compose_init_hands_the_mounted_folders_to_the_airflow_user() -> None:
    """The one-off init runs as root (as in the official compose file) and, after the last
    command that writes, chowns every folder the Airflow containers mount to AIRFLOW_UID."""
    compose = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
    init = compose["services"]["airflow-init"]
    script = init["command"][-1]
    lines = [line.strip() for line in script.splitlines() if line.strip()]
    (chown,) = [i for i, line in enumerate(lines) if line.startswith("chown ")]
    writers = [i for i, line in enumerate(lines) if line.startswith(("etl ", "airflow ", "mkdir "))]
    assert chown > max(writers), "chown must come after everything the init writes"
    assert '-R "${AIRFLOW_UID:-50000}:0"' in lines[chown]
    mounted = [v.split(":")[1] for v in compose["x-airflow-common"]["volumes"]]
    for target in mounted:
        assert target in lines[chown].split(), f"{target} is mounted but not chowned"
    assert init["user"] == "0:0"
    others = [s for n, s in compose["services"].items() if s.get("image") == "etl-airflow:latest"]
    assert {s["user"] for s in others if s is not init} == {"${AIRFLOW_UID:-50000}:0"}


def test_every_pool_in_airflow_settings_is_used_by_a_task() -> None:
    settings = yaml.safe_load((ROOT / "airflow_settings.yaml").read_text())
    declared = {p["pool_name"] for p in settings["airflow"]["pools"] or []}
    code = "\n".join(p.read_text() for p in (ROOT / "dags").rglob("*.py"))
    code += "\n".join(p.read_text() for p in (ROOT / "include").rglob("*.py"))
    used = set(re.findall(r"""pool\s*=\s*["']([\w-]+)["']""", code))
    assert declared <= used, f"pools no task uses: {sorted(declared - used)}"


def test_helm_values_give_task_pods_the_data_volume_and_resources() -> None:
    """The task pods' template (`podTemplate`, which the chart uses instead of generating
    one from `workers.*`): the shared claim at ETL_DATA_DIR, requests and limits, and no
    `workers.*` key the chart would then ignore. tests/test_k8s_deploy.py runs it."""
    values = yaml.safe_load((ROOT / "deploy" / "values.yaml").read_text())
    assert set(values["workers"]) == {"serviceAccount"}
    template = yaml.safe_load(values["podTemplate"])
    (container,) = template["spec"]["containers"]
    volumes = {v["name"]: v for v in template["spec"]["volumes"]}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    pvc = yaml.safe_load((ROOT / "deploy" / "etl-data-pvc.yaml").read_text())
    (claim,) = [n for n, v in volumes.items() if "persistentVolumeClaim" in v]
    assert volumes[claim]["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert mounts[claim] == env["ETL_DATA_DIR"]
    assert env["ETL_DATA_DIR"] == {e["name"]: e["value"] for e in values["env"]}["ETL_DATA_DIR"]
    assert container["resources"]["requests"]
    assert container["resources"]["limits"]
    assert template["spec"]["serviceAccountName"] == values["workers"]["serviceAccount"]["name"]

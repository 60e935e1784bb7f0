"""The deployment files agree with the code, and the production instance config works."""

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from urllib.parse import urlparse

import dagster as dg
import yaml
from dagster._core.instance.ref import InstanceRef
from dagster_platform.defs.resources import PROD_ENV
from dagster_platform.runs import run_partitions

from etl_shared.testing.landing import GOLDEN_DAYS

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _locked_version(package: str) -> str:
    lock = (ROOT / "uv.lock").read_text()
    return re.search(rf'name = "{package}"\nversion = "([^"]+)"', lock).group(1)


def test_prod_instance_config_runs_a_partition_on_postgresql(
    tmp_path: Path, postgres_server, landing_zone, postgres_warehouse, monkeypatch
) -> None:
    """deploy/dagster.yaml, as is, stores a real run in PostgreSQL (the K8s launcher aside)."""
    url = urlparse(postgres_server.create_database("dagster_instance"))
    for name, value in {
        "DAGSTER_PG_HOST": url.hostname,
        "DAGSTER_PG_PORT": str(url.port),
        "DAGSTER_PG_USERNAME": url.username,
        "DAGSTER_PG_PASSWORD": url.password,
        "DAGSTER_PG_DB": "dagster_instance",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("WAREHOUSE_URL", postgres_warehouse)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY / "dagster.yaml", home / "dagster.yaml")
    try:
        # Loading the instance validates every section against the installed classes'
        # config schemas (dagster-postgres, dagster-k8s); the run launcher itself is only
        # built when a run is launched, which needs a cluster.
        with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
            assert instance.get_ref().run_launcher_data.class_name == "K8sRunLauncher"
            (run,) = run_partitions([GOLDEN_DAYS[0]], instance=instance)
            assert run.ok, run.error
            stored = instance.get_run_by_id(run.run_id)
            assert stored is not None
            assert stored.is_success
            assert stored.tags["dagster/partition"] == GOLDEN_DAYS[0]
    finally:
        postgres_server.drop_database("dagster_instance")


def test_helm_values_deploy_this_code_location_with_the_k8s_run_launcher() -> None:
    values = yaml.safe_load((DEPLOY / "values.yaml").read_text())
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    module = _pyproject()["tool"]["dagster"]["module_name"]
    assert deployment["dagsterApiGrpcArgs"] == ["-m", module]
    assert deployment["includeConfigInLaunchedRuns"] == {"enabled": True}
    env = {e["name"]: e["value"] for e in deployment["env"]}
    assert env["DAGSTER_DEPLOYMENT"] == "prod"
    secrets = {s["name"] for s in deployment["envSecrets"]}
    assert secrets == {"dagster-platform-warehouse"}  # holds WAREHOUSE_URL
    assert set(PROD_ENV) - set(env) == {"WAREHOUSE_URL"}
    mounts = {m["mountPath"] for m in deployment["volumeMounts"]}
    assert all(any(env[v].startswith(m) for m in mounts) for v in PROD_ENV if v in env)
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["postgresql"]["enabled"] is False


def test_helm_chart_version_and_image_match_the_lock() -> None:
    dagster_version = _locked_version("dagster")
    values = (DEPLOY / "values.yaml").read_text()
    assert f"--version {dagster_version}" in values
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "uv sync --frozen" in dockerfile
    assert "FROM python:3.11" in dockerfile
    assert "DAGSTER_DEPLOYMENT=prod" in dockerfile
    module = _pyproject()["tool"]["dagster"]["module_name"]
    assert f'"-m", "{module}"' in dockerfile


def test_workspace_points_at_the_user_code_server() -> None:
    workspace = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())
    (entry,) = workspace["load_from"]
    assert (
        entry["grpc_server"]["location_name"]
        == _pyproject()["tool"]["dagster"]["code_location_name"]
    )
    assert f'-p", "{entry["grpc_server"]["port"]}"' in (ROOT / "Dockerfile").read_text()


def test_local_instance_config_is_sqlite_with_one_run_at_a_time(tmp_path: Path) -> None:
    shutil.copy(ROOT / "dagster.local.yaml", tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(tmp_path))) as instance:
        assert type(instance.run_storage).__name__ == "SqliteRunStorage"
        coordinator = instance.run_coordinator
        assert type(coordinator).__name__ == "QueuedRunCoordinator"
        assert coordinator.get_run_queue_config().max_concurrent_runs == 1


def test_dg_cli_loads_and_lists_the_projects_definitions() -> None:
    """The scaffold's own CLI works on this project (`dg list defs` loads the code location
    from [tool.dg] as `dg check defs` and `dg dev` do): every asset and job is listed."""
    dg_cli = Path(sys.executable).parent / "dg"
    assert dg_cli.is_file(), "dg missing: `make setup` installs dagster-dg-cli (dev group)"
    out = subprocess.run(
        [str(dg_cli), "list", "defs", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "DAGSTER_DISABLE_TELEMETRY": "1"},
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    listed = json.loads(out.stdout)
    assets = {a["asset_key"] for a in listed["assets"]}
    assert {"landing_file", "validated_rows", "flights", "carrier_daily", "quarantine"} <= assets
    assert "flights_daily" in {j["name"] for j in listed["jobs"]}


def test_make_shows_commands_not_their_stderr_filters() -> None:
    """A recipe line that pipes stderr through a filter is silent (`@`): make would echo
    the whole filter pipeline on every run otherwise."""
    loud = [
        line
        for line in (ROOT / "Makefile").read_text().splitlines()
        if line.startswith("\t") and "2> >(" in line and not line.lstrip("\t").startswith("@")
    ]
    assert loud == []

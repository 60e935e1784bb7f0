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
    assert secrets == {"etl-warehouse"}  # holds WAREHOUSE_URL
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


def _values() -> dict:
    return yaml.safe_load((DEPLOY / "values.yaml").read_text())


def _user_deployment() -> dict:
    (deployment,) = _values()["dagster-user-deployments"]["deployments"]
    return deployment


def test_one_grpc_port_across_dockerfile_workspace_and_helm_values() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    (cmd_port,) = re.findall(r'"-p", "(\d+)"', dockerfile)
    (exposed,) = re.findall(r"^EXPOSE (\d+)$", dockerfile, re.M)
    (entry,) = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())["load_from"]
    ports = {
        "Dockerfile CMD": int(cmd_port),
        "Dockerfile EXPOSE": int(exposed),
        "workspace.yaml": entry["grpc_server"]["port"],
        "values.yaml": _user_deployment()["port"],
    }
    assert len(set(ports.values())) == 1, ports
    assert entry["grpc_server"]["host"] == _user_deployment()["name"]


def _referenced_objects() -> dict[str, set[str]]:
    """Every object of the cluster that deploy/dagster.yaml and deploy/values.yaml name."""
    launcher = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())["run_launcher"]["config"]
    values, deployment = _values(), _user_deployment()
    claims = {
        v["persistentVolumeClaim"]["claimName"]
        for v in [*launcher["volumes"], *deployment["volumes"]]
        if "persistentVolumeClaim" in v
    }
    return {
        "Secret": {
            launcher["postgres_password_secret"],
            *launcher["env_secrets"],
            values["global"]["postgresqlSecretName"],
            *(s["name"] for s in deployment["envSecrets"]),
        },
        "PersistentVolumeClaim": claims,
        "ServiceAccount": {launcher["service_account_name"]},
        "ConfigMap": {launcher["instance_config_map"], *launcher["env_config_maps"]},
    }


def test_every_object_the_deploy_files_name_is_in_the_readmes_before_you_install() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("**Before you install**", 1)[1].split("3. **Helm.**", 1)[0]
    rows = {
        (kind, name) for kind, name in re.findall(r"^\s*\| (\w+) \| `([\w.-]+)` \|", section, re.M)
    }
    for kind, names in _referenced_objects().items():
        for name in names:
            assert (kind, name) in rows, f"{kind} {name} is named by deploy/ but not in the README"
    # and each listed object is created by a command shown there
    commands = {
        "Secret": "secret generic",
        "PersistentVolumeClaim": "PersistentVolumeClaim",
        "ServiceAccount": "serviceaccount",
        "ConfigMap": "configmap",
    }
    for kind, name in rows:
        assert re.search(rf"{commands[kind]}.*\b{re.escape(name)}\b", section), (kind, name)


def test_code_server_pod_has_every_variable_of_the_images_instance_config() -> None:
    """The chart's user-code pod reads the image's dagster.yaml (deploy/dagster.yaml; the
    chart mounts no instance ConfigMap there): every `env:` it names is set on the pod,
    and matches the instance database of the values."""
    needed = set(re.findall(r"env: (\w+)", (DEPLOY / "dagster.yaml").read_text()))
    env = {e["name"]: e["value"] for e in _user_deployment()["env"]}
    set_by_chart = {"DAGSTER_PG_PASSWORD"}  # from global.postgresqlSecretName
    assert needed - set(env) == set_by_chart
    pg = _values()["postgresql"]
    assert env["DAGSTER_PG_HOST"] == pg["postgresqlHost"]
    assert env["DAGSTER_PG_PORT"] == str(pg["service"]["port"])
    assert env["DAGSTER_PG_USERNAME"] == pg["postgresqlUsername"]
    assert env["DAGSTER_PG_DB"] == pg["postgresqlDatabase"]


def test_run_pod_resources_are_set_where_they_take_effect() -> None:
    """With includeConfigInLaunchedRuns the chart passes the deployment's resources to
    every run and they win over runK8sConfig: so resources live on the deployment only,
    sized for a run."""
    deployment = _user_deployment()
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True
    run_config = _values()["runLauncher"]["config"]["k8sRunLauncher"].get("runK8sConfig", {})
    assert "resources" not in run_config.get("containerConfig", {})
    resources = deployment["resources"]
    assert resources["requests"] == {"cpu": "500m", "memory": "1Gi"}
    assert resources["limits"]["memory"] == "4Gi"

"""The platform's Kubernetes deployment runs a partition on a real control plane.

etcd, kube-apiserver and kube-controller-manager v1.37 run on loopback for the session
(`kube_control_plane`, built by `make -C ../shared controlplane`); the test node
(`kube_test_node`) binds pods and runs their containers as local processes with the
environment the API gives them (the image is ignored, so the container's `dagster`
is this venv's).

What comes from the deploy files, unchanged: the instance config `deploy/dagster.yaml`
(PostgreSQL storage from `DAGSTER_PG_*`, the QueuedRunCoordinator, the `K8sRunLauncher`
with its namespace, service account, Secrets, ConfigMaps and volume), the code server's
command (the Dockerfile's CMD), the image (`deploy/values.yaml`) and the objects the
README's "Before you install" creates (its "without Helm" column). What differs here, and
only that: the launcher reads a kubeconfig instead of the in-cluster config; the
instance database and the warehouse are the session's PostgreSQL on loopback; the gRPC
server listens on a free loopback port; the PVC `etl-data` is a local folder.

The run goes the way the daemon sends it: submitted to the QueuedRunCoordinator, dequeued
by the coordinator daemon's iteration, launched by the `K8sRunLauncher` as a Job running
`dagster api execute_run`; the Job controller makes the pod, the test node runs it, and
the run worker writes its events to the instance's PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import dagster as dg
import pytest
import yaml
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.dagster_run import DagsterRunStatus
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import GrpcServerTarget
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import (
    QueuedRunCoordinatorDaemon,
)
from dagster._grpc.client import DagsterGrpcClient
from dagster_k8s.job import (
    DagsterK8sJobConfig,
    UserDefinedDagsterK8sConfig,
    construct_dagster_k8s_job,
    get_job_name_from_run_id,
)
from dagster_platform.runs import JOB_NAME, load_definitions

from etl_shared.testing.deploy import (
    DEPLOY_DAY,
    assert_pod_hardened,
    assert_same_as_bare_steps,
    save_pod_spec,
    wait_for,
)
from etl_shared.warehouse import open_warehouse

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
DAY = DEPLOY_DAY


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _instance_config() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "dagster.yaml").read_text())


def _user_deployment() -> dict[str, Any]:
    values = yaml.safe_load((DEPLOY / "values.yaml").read_text())
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    return deployment


@pytest.fixture
def dagster_on_kube(
    tmp_path: Path,
    kube_control_plane: Any,
    kube_test_node: Any,
    postgres_server: Any,
    postgres_warehouse: str,
    seeded_landing: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[dict[str, Any]]:
    """The deploy files' objects in the cluster, the instance, the code server, a workspace."""
    from kubernetes import client

    config = _instance_config()
    launcher = config["run_launcher"]["config"]
    namespace = launcher["job_namespace"]
    api = kube_control_plane.api_client()
    core = client.CoreV1Api(api)

    # The instance database: deploy/dagster.yaml reads it from DAGSTER_PG_*.
    db = f"dagster_k8s_{os.getpid()}"
    pg = urlparse(postgres_server.create_database(db))
    pg_env = {
        "DAGSTER_PG_HOST": pg.hostname,
        "DAGSTER_PG_PORT": str(pg.port),
        "DAGSTER_PG_USERNAME": pg.username,
        "DAGSTER_PG_DB": db,
    }
    for name, value in {**pg_env, "DAGSTER_PG_PASSWORD": pg.password}.items():
        monkeypatch.setenv(name, value)

    # The README's "Before you install" (without Helm), in the namespace of dagster.yaml.
    deployment = _user_deployment()
    (warehouse_secret,) = launcher["env_secrets"]
    (env_config_map,) = launcher["env_config_maps"]
    (claim,) = {
        v["persistentVolumeClaim"]["claimName"]
        for v in launcher["volumes"]
        if "persistentVolumeClaim" in v
    }
    deployment_env = {e["name"]: e["value"] for e in deployment["env"]}
    objects = [
        client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)),
        client.V1Secret(
            metadata=client.V1ObjectMeta(name=launcher["postgres_password_secret"]),
            string_data={"postgresql-password": pg.password},
        ),
        client.V1Secret(
            metadata=client.V1ObjectMeta(name=warehouse_secret),
            string_data={"WAREHOUSE_URL": postgres_warehouse},
        ),
        client.V1PersistentVolumeClaim(
            metadata=client.V1ObjectMeta(name=claim),
            spec=client.V1PersistentVolumeClaimSpec(
                access_modes=["ReadWriteMany"],
                resources=client.V1VolumeResourceRequirements(requests={"storage": "5Gi"}),
            ),
        ),
        client.V1ServiceAccount(
            metadata=client.V1ObjectMeta(name=launcher["service_account_name"])
        ),
        client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name=launcher["instance_config_map"]),
            data={"dagster.yaml": (DEPLOY / "dagster.yaml").read_text()},
        ),
        client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name=env_config_map),
            data={**deployment_env, **pg_env},
        ),
    ]
    core.create_namespace(objects[0])
    create = {
        "V1Secret": core.create_namespaced_secret,
        "V1PersistentVolumeClaim": core.create_namespaced_persistent_volume_claim,
        "V1ServiceAccount": core.create_namespaced_service_account,
        "V1ConfigMap": core.create_namespaced_config_map,
    }
    for obj in objects[1:]:
        create[type(obj).__name__](namespace, obj)

    # The PVC's volume: the landing zone under /data (LANDING_DIR=/data/landing).
    data = tmp_path / "etl-data"
    shutil.copytree(seeded_landing, data / "landing")
    kube_test_node.volumes[claim] = data

    # The instance: deploy/dagster.yaml with the launcher pointed at this cluster.
    home = tmp_path / "dagster_home"
    home.mkdir()
    launcher.update(load_incluster_config=False, kubeconfig_file=str(kube_control_plane.kubeconfig))
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))

    # The code server as the image runs it (Dockerfile CMD), on a free loopback port, with
    # the image the chart gives it (DAGSTER_CURRENT_IMAGE): the image of every run pod.
    dockerfile = (ROOT / "Dockerfile").read_text()
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", dockerfile, re.M).group(1))
    port = _free_port()
    cmd[cmd.index("-h") + 1] = "127.0.0.1"
    cmd[cmd.index("-p") + 1] = str(port)
    cmd[0] = str(Path(sys.executable).parent / cmd[0])
    image = f"{deployment['image']['repository']}:{deployment['image']['tag']}"
    server_env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "DAGSTER_DEPLOYMENT": "prod",
        "DAGSTER_CURRENT_IMAGE": image,
    }
    server_log = (tmp_path / "grpc.log").open("wb")
    server = subprocess.Popen(
        cmd, cwd=ROOT, env=server_env, stdout=server_log, stderr=subprocess.STDOUT
    )
    try:

        def serving() -> bool:
            assert server.poll() is None, (tmp_path / "grpc.log").read_text()[-3000:]
            try:
                return DagsterGrpcClient(port=port, host="127.0.0.1").ping("") is not None
            except Exception:
                return False

        wait_for(serving, 60, "the code server (dagster api grpc)")
        (location,) = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())["load_from"]
        target = GrpcServerTarget(
            host="127.0.0.1",
            port=port,
            socket=None,
            location_name=location["grpc_server"]["location_name"],
        )
        with (
            dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance,
            WorkspaceProcessContext(instance, target) as workspace,
        ):
            yield {
                "instance": instance,
                "workspace": workspace,
                "location": location["grpc_server"]["location_name"],
                "namespace": namespace,
                "api": api,
                "image": image,
                "warehouse_secret": warehouse_secret,
                "warehouse": postgres_warehouse,
            }
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:  # a busy machine: the server's shutdown lags
            server.kill()
            server.wait()
        server_log.close()
        core.delete_namespace(namespace)
        postgres_server.drop_database(db)


def _launch(ctx: dict[str, Any], partition: str) -> str:
    """Submit one partition's run and let the coordinator daemon's iteration launch it."""
    instance, workspace = ctx["instance"], ctx["workspace"]
    request = workspace.create_request_context()
    location = request.get_code_location(ctx["location"])
    (repository,) = location.get_repositories().values()
    remote_job = repository.get_full_job(JOB_NAME)
    run = instance.create_run_for_job(
        job_def=load_definitions().resolve_job_def(JOB_NAME),
        remote_job_origin=remote_job.get_remote_origin(),
        job_code_origin=remote_job.get_python_origin(),
        tags={"dagster/partition": partition},
    )
    instance.submit_run(run.run_id, request)
    assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.QUEUED
    with QueuedRunCoordinatorDaemon(interval_seconds=1) as daemon:
        list(daemon.run_iteration(workspace))
    return run.run_id


def _pod_manifest(api: Any, job: Any) -> dict[str, Any]:
    """The pod the launcher generated: its Job's pod template as a Pod (with the API server's
    defaults, without what admission adds to the pod it creates, e.g. the token volume)."""
    template = api.sanitize_for_serialization(job.spec.template)
    meta = template["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": job.metadata.name,
            "namespace": job.metadata.namespace,
            "labels": meta.get("labels", {}),
        },
        "spec": template["spec"],
    }


def test_k8s_deployment_runs_a_partition(
    dagster_on_kube: dict[str, Any], kube_test_node, seeded_landing: Path
) -> None:
    from kubernetes import client

    ctx = dagster_on_kube
    instance, ns = ctx["instance"], ctx["namespace"]
    core, batch = client.CoreV1Api(ctx["api"]), client.BatchV1Api(ctx["api"])

    run_id = _launch(ctx, DAY)
    job_name = get_job_name_from_run_id(run_id)
    job = batch.read_namespaced_job(job_name, ns)
    (container,) = job.spec.template.spec.containers
    assert container.args[:3] == ["dagster", "api", "execute_run"], container.args
    assert container.image == ctx["image"]

    pods = wait_for(
        lambda: core.list_namespaced_pod(ns, label_selector=f"job-name={job_name}").items,
        30,
        f"the Job controller to create {job_name}'s pod",
    )

    def finished() -> Any:
        run = instance.get_run_by_id(run_id)
        return run if run.is_finished else None

    run = wait_for(finished, 180, f"run {run_id} to finish")
    logs = kube_test_node.logs(ns, pods[0].metadata.name)
    assert run.status == DagsterRunStatus.SUCCESS, logs[-5000:]

    # The Job controller saw the pod succeed (the test node reported exit code 0).
    wait_for(
        lambda: (batch.read_namespaced_job_status(job_name, ns).status.succeeded or 0) >= 1,
        30,
        f"Job {job_name} to complete",
    )

    # Every asset of the partition materialized and every check passed, in the run pod.
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    ).records
    materializations = [
        r.event_log_entry.dagster_event.event_specific_data.materialization for r in records
    ]
    materialized = {m.asset_key.to_user_string() for m in materializations if m.partition == DAY}
    assert {"landing_file", "validated_rows", "flights", "carrier_daily", "quarantine"} <= (
        materialized
    )
    checks = [
        r.event_log_entry.dagster_event.event_specific_data
        for r in instance.get_records_for_run(
            run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
        ).records
    ]
    expected = load_definitions().resolve_asset_graph().asset_check_keys
    assert {c.asset_check_key for c in checks} == set(expected)
    assert all(c.passed for c in checks), checks
    assert "execute_run" in logs.splitlines()[0]  # the pod ran the launcher's command

    # The day is in the warehouse whose URL reached the pod only through the Secret.
    with open_warehouse(ctx["warehouse"]) as wh:
        ((count,),) = wh.query(
            "SELECT count(*) FROM flights WHERE flight_date = ?", [dt.date.fromisoformat(DAY)]
        )
    assert count > 0

    assert_same_as_bare_steps(ctx["warehouse"], DAY, seeded_landing, platform="dagster")

    manifest = _pod_manifest(ctx["api"], job)
    save_pod_spec(manifest, platform="dagster", name="pod")
    assert_pod_hardened(manifest, secret=ctx["warehouse_secret"], secret_values=[ctx["warehouse"]])
    _assert_no_warehouse_in_config_maps(manifest, core, ns)


def _assert_no_warehouse_in_config_maps(manifest: dict[str, Any], core: Any, ns: str) -> None:
    """WAREHOUSE_URL is not in a ConfigMap the run container reads either."""
    (container,) = manifest["spec"]["containers"]
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            data = core.read_namespaced_config_map(source["configMapRef"]["name"], ns).data
            assert "WAREHOUSE_URL" not in data


def test_helm_values_give_run_pods_the_launchers_security_context() -> None:
    """The chart path (not rendered here) sets the same hardening as deploy/dagster.yaml,
    whose pod the test above runs, and the user is the image's."""
    from kubernetes import client

    launcher = _instance_config()["run_launcher"]["config"]
    values = yaml.safe_load((DEPLOY / "values.yaml").read_text())
    run_k8s = values["runLauncher"]["config"]["k8sRunLauncher"]["runK8sConfig"]
    assert run_k8s["containerConfig"]["securityContext"] == launcher["security_context"]
    tmp = {m["name"]: m["mountPath"] for m in launcher["volume_mounts"]}["tmp"]
    assert run_k8s["containerConfig"]["volumeMounts"] == [{"name": "tmp", "mountPath": tmp}]
    assert run_k8s["podSpecConfig"]["volumes"] == [{"name": "tmp", "emptyDir": {}}]
    (uid,) = re.findall(r"useradd --uid (\d+)", (ROOT / "Dockerfile").read_text())
    assert launcher["security_context"]["runAsUser"] == int(uid)
    # and dagster-k8s builds the chart's runK8sConfig into the run container as given
    user_config = UserDefinedDagsterK8sConfig(
        container_config=run_k8s["containerConfig"], pod_spec_config=run_k8s["podSpecConfig"]
    )
    job_config = DagsterK8sJobConfig(
        job_image="image:tag",
        dagster_home="/opt/dagster/dagster_home",
        instance_config_map=launcher["instance_config_map"],
    )
    job = construct_dagster_k8s_job(
        job_config,
        args=["dagster"],
        job_name="run",
        user_defined_k8s_config=user_config,
        pod_name="run",
        component="run_worker",
    )
    manifest = client.ApiClient().sanitize_for_serialization(job)
    (container,) = manifest["spec"]["template"]["spec"]["containers"]
    assert container["securityContext"] == launcher["security_context"]

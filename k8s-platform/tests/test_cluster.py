"""The chart and the operator against a real Kubernetes control plane on loopback.

etcd, kube-apiserver and kube-controller-manager (v1.37, built by `make controlplane`)
run for the session (`kube_control_plane` from etl-shared's plugin); the test node
(`kube_test_node`) binds pods and runs their containers as local processes, so the Jobs
that the CronJob and Job controllers make really run `etl-k8s-job` against a real
PostgreSQL warehouse whose URL comes from a Secret.

* the chart goes in with the real helm CLI; the API server validates EtlPipelines with
  the CRD's schema;
* the operator runs in-process (kopf's KopfRunner, with the arguments of the chart's
  Deployment) as the chart's ServiceAccount, with a token from the TokenRequest API:
  a verb missing from the chart's RBAC fails these tests (the API server also enforces
  the RBAC that blockOwnerDeletion needs);
* writes are counted in the API server's audit log, by user.

The operator checks drift every ETL_RECONCILE_INTERVAL seconds (conftest.py sets 3 for
the tests; the chart's default is 60).
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from k8s_platform import builders, metrics

from etl_shared import policy
from etl_shared.landing import seed
from etl_shared.testing.contract import assert_golden_day
from etl_shared.testing.deploy import (
    DEPLOY_DAY,
    assert_pod_hardened,
    assert_same_as_bare_steps,
    pod_manifest,
    save_pod_spec,
    wait_for,
)
from etl_shared.warehouse import open_warehouse

from .conftest import CHART, EXAMPLES, tool

NS = "etl"
RELEASE, RELEASE_NS = "etl", "etl-system"
GOLDEN_DAY = DEPLOY_DAY


@dataclass
class Cluster:
    plane: Any
    node: Any
    api: Any  # admin kubernetes.client.ApiClient

    def __post_init__(self) -> None:
        from kubernetes import client

        self.core = client.CoreV1Api(self.api)
        self.batch = client.BatchV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)
        self.ext = client.ApiextensionsV1Api(self.api)
        self.apps = client.AppsV1Api(self.api)

    def pipeline(self, name: str) -> dict[str, Any] | None:
        from kubernetes.client.exceptions import ApiException

        try:
            return self.custom.get_namespaced_custom_object(
                builders.GROUP, builders.VERSION, NS, builders.PLURAL, name
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def create_pipeline(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        body = {
            "apiVersion": builders.API_VERSION,
            "kind": builders.KIND,
            "metadata": {"name": name, "namespace": NS},
            "spec": spec,
        }
        return self.custom.create_namespaced_custom_object(
            builders.GROUP, builders.VERSION, NS, builders.PLURAL, body
        )

    def patch_pipeline(self, name: str, spec: dict[str, Any]) -> None:
        self.custom.patch_namespaced_custom_object(
            builders.GROUP, builders.VERSION, NS, builders.PLURAL, name, {"spec": spec}
        )

    def delete_pipeline(self, name: str) -> None:
        self.custom.delete_namespaced_custom_object(
            builders.GROUP, builders.VERSION, NS, builders.PLURAL, name
        )

    def cronjob(self, name: str) -> dict[str, Any] | None:
        from kubernetes.client.exceptions import ApiException

        try:
            obj = self.batch.read_namespaced_cron_job(name, NS)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return self.api.sanitize_for_serialization(obj)

    def job(self, name: str) -> dict[str, Any] | None:
        from kubernetes.client.exceptions import ApiException

        try:
            return self.api.sanitize_for_serialization(self.batch.read_namespaced_job(name, NS))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def children(self, pipeline: str) -> list[str]:
        selector = f"{builders.LABEL_PIPELINE}={pipeline}"
        cjs = self.batch.list_namespaced_cron_job(NS, label_selector=selector).items
        jobs = self.batch.list_namespaced_job(NS, label_selector=selector).items
        return [f"CronJob/{c.metadata.name}" for c in cjs] + [
            f"Job/{j.metadata.name}" for j in jobs
        ]

    def pods_of(self, job: str) -> list[Any]:
        return self.core.list_namespaced_pod(NS, label_selector=f"job-name={job}").items


def condition(obj: dict[str, Any] | None, kind: str) -> bool:
    return any(
        c.get("type") == kind and c.get("status") == "True"
        for c in ((obj or {}).get("status") or {}).get("conditions") or []
    )


# ------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def cluster(kube_control_plane, kube_test_node) -> Cluster:  # type: ignore[no-untyped-def]
    return Cluster(kube_control_plane, kube_test_node, kube_control_plane.api_client())


def install_chart(cluster: Cluster, release: str, namespace: str) -> Any:
    """`helm install` of the chart as `release` into `namespace` of the API server; waits
    for the CRD to be established; returns the operator Deployment's pod spec."""
    out = subprocess.run(
        [
            tool("HELM", "helm"),
            "install",
            release,
            str(CHART),
            "--namespace",
            namespace,
            "--create-namespace",
            "--kubeconfig",
            str(cluster.plane.kubeconfig),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    crd = f"{builders.PLURAL}.{builders.GROUP}"
    wait_for(
        lambda: any(
            c.type == "Established" and c.status == "True"
            for c in (cluster.ext.read_custom_resource_definition(crd).status.conditions or [])
        ),
        30,
        "the CRD to be established",
    )
    deployment = next(
        d
        for d in cluster.apps.list_namespaced_deployment(namespace).items
        if d.metadata.labels.get("app.kubernetes.io/component") == "operator"
    )
    return deployment.spec.template.spec


@pytest.fixture(scope="module")
def release(cluster: Cluster) -> dict[str, Any]:
    """`helm install` of the chart into the API server; returns its ServiceAccount name."""
    pod_spec = install_chart(cluster, RELEASE, RELEASE_NS)
    return {
        "service_account": pod_spec.service_account_name,
        "args": list(pod_spec.containers[0].args),
    }


@pytest.fixture(scope="module")
def data_dir(
    cluster: Cluster, seeded_landing: Path, postgres_server, tmp_path_factory
) -> Iterator[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """Namespace `etl`: the warehouse Secret (a real PostgreSQL database) and the data
    volume `etl-data` (the test node's folder for that claim) with the landing zone."""
    from kubernetes import client

    data = tmp_path_factory.mktemp("etl-data")
    shutil.copytree(seeded_landing, data / "landing")
    seed(data / "landing", "2013-01-02", "2013-01-02")  # 01-01 is a golden day; 01-03 missing
    url = postgres_server.create_database("k8s_cluster")
    cluster.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NS)))
    cluster.core.create_namespaced_secret(
        NS,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name=policy.WAREHOUSE_SECRET),
            data={policy.WAREHOUSE_SECRET_KEY: base64.b64encode(url.encode()).decode()},
        ),
    )
    cluster.node.volumes["etl-data"] = data
    yield {"dir": data, "url": url}
    cluster.node.volumes.pop("etl-data", None)


@pytest.fixture(scope="module")
def operator(
    cluster: Cluster, release: dict[str, Any], data_dir, tmp_path_factory, monkeypatch_module
):  # type: ignore[no-untyped-def]
    """The operator in-process, as the chart's ServiceAccount (a TokenRequest token)."""
    from kopf.testing import KopfRunner

    from etl_shared.testing.kube import _free_port

    kubeconfig = cluster.plane.token_kubeconfig(
        tmp_path_factory.mktemp("operator") / "kubeconfig", RELEASE_NS, release["service_account"]
    )
    monkeypatch_module.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch_module.setenv("ETL_METRICS_PORT", "0")
    args = [
        a
        if not a.startswith("--liveness=")
        else f"--liveness=http://127.0.0.1:{_free_port()}/healthz"
        for a in release["args"]
    ]
    with KopfRunner(args, timeout=60) as runner:
        yield {
            "user": f"system:serviceaccount:{RELEASE_NS}:{release['service_account']}",
            "kubeconfig": kubeconfig,
        }
    assert runner.exit_code == 0, runner.output


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def example_spec(**changes: Any) -> dict[str, Any]:
    spec = copy.deepcopy(yaml.safe_load((EXAMPLES / "flights-daily.yaml").read_text())["spec"])
    spec.update(retryDelaySeconds=0)
    spec.update(changes)
    return spec


# ---------------------------------------------------------------------------- tests
def test_chart_installs_and_the_api_server_validates_pipelines(cluster, release, data_dir):
    from kubernetes.client.exceptions import ApiException

    for bad in (
        {"schedule": "0 6 * * *"},  # no image
        example_spec(concurrencyPolicy="Sometimes"),
        example_spec(backoffLimit=-1),
        example_spec(backfill={"start": "2013-01-01"}),  # no end
    ):
        with pytest.raises(ApiException) as err:
            cluster.create_pipeline("rejected", bad)
        assert err.value.status == 422, err.value.body
    assert cluster.pipeline("rejected") is None
    # the defaults of the CRD schema are applied by the server
    cluster.create_pipeline("defaults", {"image": "etl:1"})
    stored = cluster.pipeline("defaults")
    assert stored is not None
    assert stored["spec"]["schedule"] == builders.DEFAULTS["schedule"]
    assert stored["spec"]["backoffLimit"] == builders.DEFAULTS["backoffLimit"]
    cluster.delete_pipeline("defaults")


def test_operator_acts_as_the_chart_service_account(cluster, operator, release):
    from kubernetes import client

    sa_api = cluster.plane.api_client(operator["kubeconfig"])
    review = client.AuthenticationV1Api(sa_api).create_self_subject_review(
        client.V1SelfSubjectReview()
    )
    assert review.status.user_info.username == operator["user"]
    authz = client.AuthorizationV1Api(sa_api)

    def can(verb: str, resource: str, group: str = "", sub: str | None = None) -> bool:
        attrs = client.V1ResourceAttributes(
            namespace=NS, verb=verb, resource=resource, group=group, subresource=sub
        )
        review = client.V1SelfSubjectAccessReview(
            spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=attrs)
        )
        return authz.create_self_subject_access_review(review).status.allowed

    assert can("create", "cronjobs", "batch")
    assert can("update", "etlpipelines", builders.GROUP, "finalizers")
    assert not can("list", "secrets")
    assert not can("patch", "jobs", "batch")
    assert not can("delete", "etlpipelines", builders.GROUP)


def test_create_then_update_writes_the_cronjob_once_and_then_nothing(cluster, operator):
    name = "flights-daily"
    spec = example_spec(
        resources={
            "requests": {"cpu": "0.5", "memory": "1024Mi"},
            "limits": {"cpu": 1, "memory": "1.5Gi"},
        }
    )
    cluster.create_pipeline(name, spec)
    cj_name = builders.cronjob_name(name)
    cj = wait_for(lambda: cluster.cronjob(cj_name), 30, "the CronJob")
    assert cj["spec"]["schedule"] == "0 6 * * *"
    assert cj["spec"]["timeZone"] == "America/New_York"
    assert cj["spec"]["concurrencyPolicy"] == "Forbid"
    job_spec = cj["spec"]["jobTemplate"]["spec"]
    assert job_spec["podFailurePolicy"]["rules"][0]["onExitCodes"]["values"] == [2, 3]
    container = job_spec["template"]["spec"]["containers"][0]
    assert container["command"] == builders.JOB_COMMAND
    assert container["args"] == ["--date", "yesterday"]
    # the server stored the quantities in canonical form
    assert container["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "1", "memory": "1536Mi"},
    }
    owner = cj["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["blockOwnerDeletion"]) == (
        builders.KIND,
        name,
        True,
    )
    wait_for(
        lambda: (cluster.pipeline(name) or {}).get("status", {}).get("phase") == "Ready",
        30,
        "status phase Ready",
    )

    def writes(verb: str) -> int:
        return len(
            cluster.plane.audit_events(
                verbs=(verb,),
                resource="cronjobs",
                namespace=NS,
                name=cj_name,
                user=operator["user"],
            )
        )

    assert (writes("create"), writes("update")) == (1, 0)
    cluster.patch_pipeline(
        name,
        {
            "schedule": "15 3 * * *",
            "resources": {
                "requests": {"cpu": "250m", "memory": "0.5Gi"},
                "limits": {"cpu": 2, "memory": "2e9"},
            },
        },
    )
    cj = wait_for(
        lambda: (c := cluster.cronjob(cj_name)) and c["spec"]["schedule"] == "15 3 * * *" and c,
        30,
        "the CronJob to follow the update",
    )
    version = cj["metadata"]["resourceVersion"]
    reconciles = metrics.RECONCILES.labels("ok")._value.get()
    # a quiet period that spans several timer reconciles and the CronJob's own events
    quiet_until = time.monotonic() + 12
    while time.monotonic() < quiet_until:
        assert cluster.cronjob(cj_name)["metadata"]["resourceVersion"] == version
        time.sleep(0.5)
    assert metrics.RECONCILES.labels("ok")._value.get() > reconciles  # it did look
    assert writes("update") == 1
    resources = cluster.cronjob(cj_name)["spec"]["jobTemplate"]["spec"]["template"]["spec"][
        "containers"
    ][0]["resources"]
    assert resources == {
        "requests": {"cpu": "250m", "memory": "512Mi"},
        "limits": {"cpu": "2", "memory": "2e9"},  # kept in its exponent form
    }


def test_a_cronjob_deleted_by_hand_is_restored(cluster, operator):
    name = builders.cronjob_name("flights-daily")
    before = wait_for(lambda: cluster.cronjob(name), 30, "the CronJob")
    cluster.batch.delete_namespaced_cron_job(name, NS)
    restored = wait_for(
        lambda: (
            (c := cluster.cronjob(name)) and c["metadata"]["uid"] != before["metadata"]["uid"] and c
        ),
        30,
        "the CronJob to be re-created",
    )
    assert restored["spec"]["schedule"] == before["spec"]["schedule"]


def test_invalid_spec_sets_the_condition_and_creates_nothing(cluster, operator):
    cluster.create_pipeline("atlantis", example_spec(timeZone="Europe/Atlantis"))
    status = wait_for(
        lambda: (
            (p := cluster.pipeline("atlantis"))
            and p.get("status", {}).get("phase") == "Invalid"
            and p["status"]
        ),
        30,
        "the Invalid phase",
    )
    (cond,) = status["conditions"]
    assert (cond["type"], cond["status"], cond["reason"]) == ("Ready", "False", "UnknownTimeZone")
    assert "Europe/Atlantis" in cond["message"]
    assert cluster.children("atlantis") == []
    cluster.delete_pipeline("atlantis")


def test_backfill_runs_an_indexed_job_and_a_data_error_fails_its_index_at_once(
    cluster, operator, data_dir
):
    name = "flights-history"
    cluster.create_pipeline(
        name,
        example_spec(
            suspend=True, backfill={"start": "2013-01-01", "end": "2013-01-03", "parallelism": 2}
        ),
    )
    job_name = "flights-history-backfill-20130101-20130103"
    job = wait_for(
        lambda: (
            (j := cluster.job(job_name))
            and (condition(j, "Complete") or condition(j, "Failed"))
            and j
        ),
        120,
        "the backfill Job to finish",
    )
    assert job["spec"]["completionMode"] == "Indexed"
    # 2013-01-03 has no landing file: exit 3, the pod failure policy fails index 2 at once
    assert job["status"]["completedIndexes"] == "0,1"
    assert job["status"]["failedIndexes"] == "2"
    index_2 = [
        p
        for p in cluster.pods_of(job_name)
        if p.metadata.labels.get("batch.kubernetes.io/job-completion-index") == "2"
    ]
    assert len(index_2) == 1, "a data error must not be retried (backoffLimitPerIndex is 2)"
    (terminated,) = [s.state.terminated for s in index_2[0].status.container_statuses]
    assert terminated.exit_code == builders.EXIT_NOT_RETRYABLE
    with open_warehouse(data_dir["url"]) as wh:
        loaded = {str(d) for (d,) in wh.query("SELECT DISTINCT flight_date FROM flights")}
    assert {"2013-01-01", "2013-01-02"} <= loaded
    assert "2013-01-03" not in loaded
    status = wait_for(
        lambda: (
            (p := cluster.pipeline(name))
            and p.get("status", {}).get("lastSuccessfulPartition") == "2013-01-02"
            and p["status"].get("failedJobs") == 1
            and p["status"]
        ),
        60,
        "status: lastSuccessfulPartition 2013-01-02 and failedJobs 1",
    )
    assert status["phase"] == "Failing"


def test_a_job_from_the_cronjob_loads_the_golden_day_and_retries_a_transient_failure(
    cluster, operator, data_dir, golden_carrier_daily
):
    cj = wait_for(lambda: cluster.cronjob(builders.cronjob_name("flights-daily")), 30, "CronJob")
    # the CronJob as the schedule would run it: yesterday has no landing file (the data is
    # 2013), a data error, so the pod failure policy fails the Job at once
    job = _job_from_cronjob(cj, "manual-yesterday")
    cluster.batch.create_namespaced_job(NS, job)
    done = wait_for(
        lambda: (j := cluster.job("manual-yesterday")) and condition(j, "Failed") and j,
        60,
        "the Job to fail",
    )
    assert [c["reason"] for c in done["status"]["conditions"] if c["type"] == "Failed"] == [
        "PodFailurePolicy"
    ]
    assert len(cluster.pods_of("manual-yesterday")) == 1

    # the same template for the golden day, with a transient source failure on the first
    # two reads: the pod retries it itself (etl_shared.policy's attempts, backoff from
    # ETL_RETRY_DELAY_SECONDS), so one pod completes and the Job never needs a second
    counter = data_dir["dir"] / "faults" / "transient"  # /data/faults/transient in the pod
    counter.parent.mkdir(exist_ok=True)
    counter.write_text("2")
    job = _job_from_cronjob(cj, "manual-golden", args=["--date", GOLDEN_DAY])
    container = job["spec"]["template"]["spec"]["containers"][0]
    container["env"] = [e for e in container["env"] if e["name"] != "ETL_RETRY_DELAY_SECONDS"]
    container["env"] += [
        {"name": "ETL_FAULT_TRANSIENT_SOURCE", "value": "/data/faults/transient"},
        {"name": "ETL_RETRY_DELAY_SECONDS", "value": "0.2"},
    ]
    cluster.batch.create_namespaced_job(NS, job)
    done = wait_for(
        lambda: (
            (j := cluster.job("manual-golden"))
            and (condition(j, "Complete") or condition(j, "Failed"))
            and j
        ),
        90,
        "the golden-day Job to finish",
    )
    logs = {
        p.metadata.name: cluster.node.logs(NS, p.metadata.name)
        for p in cluster.pods_of("manual-golden")
    }
    assert condition(done, "Complete"), (done["status"], logs)
    assert not done["status"].get("failed"), logs
    assert done["status"]["succeeded"] == 1
    exit_codes = [
        s.state.terminated.exit_code
        for p in cluster.pods_of("manual-golden")
        for s in p.status.container_statuses
    ]
    assert exit_codes == [0]
    assert counter.read_text() == "0", "both injected faults were met, and retried"
    with open_warehouse(data_dir["url"]) as wh:
        assert_golden_day(wh, GOLDEN_DAY, golden_carrier_daily[GOLDEN_DAY])
        runs = wh.query(
            "SELECT platform, status FROM pipeline_runs WHERE partition_date = ?",
            [dt.date.fromisoformat(GOLDEN_DAY)],
        )
    assert ("k8s", "success") in runs
    assert_same_as_bare_steps(
        data_dir["url"], GOLDEN_DAY, data_dir["dir"] / "landing", platform="k8s"
    )

    # the pod the Job controller made from the operator's CronJob template
    (pod,) = cluster.pods_of("manual-golden")
    manifest = pod_manifest(pod)
    save_pod_spec(manifest, platform="k8s", name="pod")
    assert_pod_hardened(manifest, secret_values=[data_dir["url"]])


def _job_from_cronjob(cj: dict[str, Any], name: str, args: list[str] | None = None) -> dict:
    """What `kubectl create job --from=cronjob/...` makes (optionally other args)."""
    template = copy.deepcopy(cj["spec"]["jobTemplate"])
    if args is not None:
        template["spec"]["template"]["spec"]["containers"][0]["args"] = args
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": NS,
            "labels": template.get("metadata", {}).get("labels", {}),
            "annotations": {"cronjob.kubernetes.io/instantiate": "manual"},
            "ownerReferences": [
                {
                    "apiVersion": "batch/v1",
                    "kind": "CronJob",
                    "name": cj["metadata"]["name"],
                    "uid": cj["metadata"]["uid"],
                    "controller": True,
                }
            ],
        },
        "spec": template["spec"],
    }


def test_deleting_the_pipeline_lets_the_garbage_collector_remove_its_children(cluster, operator):
    assert cluster.children("flights-history")
    cluster.delete_pipeline("flights-history")
    wait_for(lambda: cluster.pipeline("flights-history") is None, 30, "the pipeline to go")
    wait_for(
        lambda: cluster.children("flights-history") == [],
        90,
        "the garbage collector to delete the CronJob and the backfill Job",
    )


def test_cluster_up_make_run_and_cluster_down_as_the_makefile_runs_them(tmp_path, seeded_landing):
    """`make cluster-up`, `make run DATE=…` on it, `make cluster-down`: no process left."""
    import os
    import sys

    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "ETL_DATA_DIR": str(tmp_path)}
    for key in ("WAREHOUSE_URL", "LANDING_DIR", "STAGING_DIR", "KUBECONFIG"):
        env.pop(key, None)
    shutil.copytree(seeded_landing, tmp_path / "landing")

    def cli(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(bin_dir / argv[0]), *argv[1:]],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    up = cli("etl-k8s-cluster", "up")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert (tmp_path / "cluster" / "kubeconfig").exists()
        pid = int((tmp_path / "cluster" / "supervisor.pid").read_text())
        run = cli("etl-k8s-local", "run", "--date", "2013-01-01")
        assert run.returncode == 0, run.stdout + run.stderr
        assert "running the operator's Job on the API server" in run.stdout
        assert "started a control plane" not in run.stdout  # it used the running one
        assert "Job Complete" in run.stdout
    finally:
        down = cli("etl-k8s-cluster", "down")
    assert down.returncode == 0, down.stderr
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with open_warehouse(f"duckdb://{tmp_path / 'warehouse.duckdb'}") as wh:
        assert wh.query("SELECT platform, status FROM pipeline_runs") == [("k8s", "success")]

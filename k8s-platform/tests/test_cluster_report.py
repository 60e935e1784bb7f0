"""The monthly carrier report's CronJob against the real control plane of test_cluster.py.

The same session control plane and test node (etl-shared's `kube_control_plane` and
`kube_test_node`), and the same helpers (`Cluster`, `wait_for`, a Job made from a
CronJob as `kubectl create job --from` makes it). This module installs the chart as a
release of its own (`etl-report`; helm leaves the CRD alone when it is already there)
and runs that release's operator in-process as its ServiceAccount, so it needs nothing
from test_cluster.py's fixtures and runs alone or after it. Its pipeline's warehouse is
a PostgreSQL database of its own, behind a Secret of its own: February 2013 is loaded
there with the bare steps, all but its last day first.

* the operator creates `<pipeline>-carrier-report-monthly` (MONTHLY_REPORT's schedule,
  `--month last`, owned by the pipeline), restores it when deleted by hand, writes it
  once per change and then nothing, removes it when `spec.report.enabled` is false, and
  the garbage collector removes it with the pipeline;
* a Job from the report CronJob for an incomplete month fails at once (exit 3, the pod
  failure policy), one line naming the missing day, nothing written; once the month's
  last day is loaded the same Job writes `carrier_monthly` equal to the golden rows, and
  so does the Job `make report` submits.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from k8s_platform import builders, metrics

from etl_shared import policy
from etl_shared.config import Settings
from etl_shared.partitions import month_bounds, month_days
from etl_shared.report import REPORT_TABLE
from etl_shared.runner import run_partitions
from etl_shared.testing.contract import assert_golden_month
from etl_shared.testing.landing import GOLDEN_MONTH
from etl_shared.warehouse import open_warehouse

from .test_cluster import (
    NS,
    Cluster,
    _job_from_cronjob,
    condition,
    example_spec,
    install_chart,
    wait_for,
)

RELEASE, RELEASE_NS = "etl-report", "etl-report-system"
SECRET = "etl-report-warehouse"
PIPELINE = "flights-report"
REPORT_CJ = builders.report_cronjob_name(PIPELINE)


# ------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def cluster(kube_control_plane, kube_test_node) -> Cluster:  # type: ignore[no-untyped-def]
    return Cluster(kube_control_plane, kube_test_node, kube_control_plane.api_client())


@pytest.fixture(scope="module")
def warehouse(cluster: Cluster, postgres_server) -> str:  # type: ignore[no-untyped-def]
    """Namespace `etl` (made here when test_cluster.py did not run first) and a Secret
    with the URL of this module's own PostgreSQL database."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    url = postgres_server.create_database("k8s_report")
    try:
        cluster.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NS)))
    except ApiException as exc:
        if exc.status != 409:
            raise
    cluster.core.create_namespaced_secret(
        NS,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name=SECRET),
            data={policy.WAREHOUSE_SECRET_KEY: base64.b64encode(url.encode()).decode()},
        ),
    )
    return url


@pytest.fixture(scope="module")
def month_loaded(warehouse: str, golden_month_landing: Path, tmp_path_factory) -> list[str]:  # type: ignore[no-untyped-def]
    """GOLDEN_MONTH loaded with the bare steps but for its last day; returns its days."""
    days = month_days(GOLDEN_MONTH)
    results = run_partitions(
        days[:-1],
        settings=_settings(warehouse, golden_month_landing, tmp_path_factory),
        platform="bare",
        batch_size=31,
    )
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    return days


def _settings(url: str, landing: Path, tmp_path_factory) -> Settings:  # type: ignore[no-untyped-def]
    data = tmp_path_factory.mktemp("report-bare")
    return Settings.from_env(
        {"WAREHOUSE_URL": url, "LANDING_DIR": str(landing), "ETL_DATA_DIR": str(data)}
    )


@pytest.fixture(scope="module")
def operator(cluster: Cluster, tmp_path_factory, monkeypatch_module) -> Iterator[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """`helm install` of the chart as release `etl-report`, and its operator in-process as
    the release's ServiceAccount (a TokenRequest token)."""
    from kopf.testing import KopfRunner

    from etl_shared.testing.kube import _free_port

    pod_spec = install_chart(cluster, RELEASE, RELEASE_NS)
    account = pod_spec.service_account_name
    kubeconfig = cluster.plane.token_kubeconfig(
        tmp_path_factory.mktemp("report-operator") / "kubeconfig", RELEASE_NS, account
    )
    monkeypatch_module.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch_module.setenv("ETL_METRICS_PORT", "0")
    args = [
        a
        if not a.startswith("--liveness=")
        else f"--liveness=http://127.0.0.1:{_free_port()}/healthz"
        for a in pod_spec.containers[0].args
    ]
    with KopfRunner(args, timeout=60) as runner:
        yield {"user": f"system:serviceaccount:{RELEASE_NS}:{account}"}
    assert runner.exit_code == 0, runner.output


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def _writes(cluster: Cluster, operator: dict[str, Any], verb: str) -> int:
    return len(
        cluster.plane.audit_events(
            verbs=(verb,), resource="cronjobs", namespace=NS, name=REPORT_CJ, user=operator["user"]
        )
    )


def _month_rows(url: str) -> list[tuple[Any, ...]]:
    first, _ = month_bounds(GOLDEN_MONTH)
    with open_warehouse(url) as wh:
        return wh.query(f"SELECT * FROM {REPORT_TABLE} WHERE month = ? ORDER BY carrier", [first])


def _run_report_job(cluster: Cluster, name: str, month: str) -> dict[str, Any]:
    """A Job from the report CronJob for `month`, run to its end through the test node."""
    cj = wait_for(lambda: cluster.cronjob(REPORT_CJ), 30, "the report CronJob")
    cluster.batch.create_namespaced_job(NS, _job_from_cronjob(cj, name, args=["--month", month]))
    return wait_for(
        lambda: (
            (j := cluster.job(name)) and (condition(j, "Complete") or condition(j, "Failed")) and j
        ),
        90,
        f"the report Job {name} to finish",
    )


# ---------------------------------------------------------------------------- tests
def test_the_operator_creates_the_report_cronjob_and_restores_it(cluster, operator, warehouse):
    cluster.create_pipeline(PIPELINE, example_spec(warehouseSecretRef={"name": SECRET}))
    cj = wait_for(lambda: cluster.cronjob(REPORT_CJ), 30, "the report CronJob")
    assert (cj["spec"]["schedule"], cj["spec"]["timeZone"]) == (
        policy.MONTHLY_REPORT.cron,
        policy.MONTHLY_REPORT.timezone,
    )
    assert cj["metadata"]["labels"][builders.LABEL_COMPONENT] == "report"
    job_spec = cj["spec"]["jobTemplate"]["spec"]
    assert job_spec["podFailurePolicy"]["rules"][0]["onExitCodes"]["values"] == [2, 3]
    (container,) = job_spec["template"]["spec"]["containers"]
    assert container["command"] == builders.JOB_COMMAND
    assert container["args"] == ["--month", "last"]
    owner = cj["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"]) == (builders.KIND, PIPELINE, True)
    status = wait_for(
        lambda: (
            (p := cluster.pipeline(PIPELINE))
            and p.get("status", {}).get("phase") == "Ready"
            and p["status"]
        ),
        30,
        "status phase Ready",
    )
    assert status["reportCronJob"] == REPORT_CJ
    assert cluster.cronjob(builders.cronjob_name(PIPELINE)) is not None
    # deleted by hand: its event brings it back at once
    cluster.batch.delete_namespaced_cron_job(REPORT_CJ, NS)
    wait_for(
        lambda: (c := cluster.cronjob(REPORT_CJ)) and c["metadata"]["uid"] != cj["metadata"]["uid"],
        30,
        "the report CronJob to be re-created",
    )


def test_report_waits_for_an_incomplete_month(cluster, operator, warehouse, month_loaded):
    """All of the month but its last day: the report Job fails at once (exit 3, one pod,
    the pod failure policy), its one line names the missing day, nothing is written."""
    done = _run_report_job(cluster, "report-incomplete", GOLDEN_MONTH)
    assert condition(done, "Failed"), done["status"]
    assert [c["reason"] for c in done["status"]["conditions"] if c["type"] == "Failed"] == [
        "PodFailurePolicy"
    ]
    (pod,) = cluster.pods_of("report-incomplete")
    (state,) = [s.state.terminated for s in pod.status.container_statuses]
    assert state.exit_code == builders.EXIT_NOT_RETRYABLE
    (line,) = [x for x in cluster.node.logs(NS, pod.metadata.name).splitlines() if "failed" in x]
    assert f"report {GOLDEN_MONTH} failed" in line
    assert "not complete" in line
    assert month_loaded[-1] in line
    assert _month_rows(warehouse) == []


def test_report_runs_when_the_month_is_complete(
    cluster,
    operator,
    warehouse,
    month_loaded,
    golden_month_landing,
    golden_carrier_monthly,
    tmp_path_factory,
):
    """The month's last day is loaded: a Job from the report CronJob writes its
    carrier_monthly rows, equal to the golden ones."""
    settings = _settings(warehouse, golden_month_landing, tmp_path_factory)
    (last,) = run_partitions([month_loaded[-1]], settings=settings, platform="bare")
    assert last.ok, last.error
    done = _run_report_job(cluster, "report-complete", GOLDEN_MONTH)
    logs = {
        p.metadata.name: cluster.node.logs(NS, p.metadata.name)
        for p in cluster.pods_of("report-complete")
    }
    assert condition(done, "Complete"), (done["status"], logs)
    assert done["status"]["succeeded"] == 1
    assert not done["status"].get("failed"), logs
    assert_golden_month(warehouse, golden_carrier_monthly)


def test_make_report_submits_a_job_of_the_report_cronjob(
    cluster, warehouse, month_loaded, monkeypatch, capsys
):
    """What `make report MONTH=…` submits when the control plane binaries are there
    (`cluster.report_on_cluster`), on this session's API server instead of one started
    for the command (starting one is test_cluster.py's `make run` test)."""
    import contextlib

    from k8s_platform import cluster as local_cluster

    @contextlib.contextmanager
    def session_cluster():  # type: ignore[no-untyped-def]
        yield cluster.plane.kubeconfig, cluster.node

    monkeypatch.setattr(local_cluster, "_cluster", session_cluster)
    monkeypatch.setenv("WAREHOUSE_URL", warehouse)
    assert local_cluster.report_on_cluster(GOLDEN_MONTH, timeout=90) == 0
    out = capsys.readouterr().out
    assert f"args --month {GOLDEN_MONTH}" in out
    assert f"report {GOLDEN_MONTH} ok: carrier_monthly" in out
    assert "Job Complete" in out


def test_the_report_cronjob_is_written_once_per_change_and_removed_when_disabled(cluster, operator):
    # the tests before spanned many timer reconciles and the CronJob's own events
    assert (_writes(cluster, operator, "create"), _writes(cluster, operator, "update")) == (2, 0)
    cluster.patch_pipeline(PIPELINE, {"report": {"enabled": True, "schedule": "30 7 1 * *"}})
    wait_for(
        lambda: (cluster.cronjob(REPORT_CJ) or {}).get("spec", {}).get("schedule") == "30 7 1 * *",
        30,
        "the report CronJob to follow the update",
    )
    seen = metrics.RECONCILES.labels("ok")._value.get()
    wait_for(
        lambda: metrics.RECONCILES.labels("ok")._value.get() >= seen + 2,
        30,
        "two more reconciles",
    )
    assert _writes(cluster, operator, "update") == 1
    cluster.patch_pipeline(PIPELINE, {"report": {"enabled": False}})
    wait_for(lambda: cluster.cronjob(REPORT_CJ) is None, 30, "the report CronJob to go")
    assert cluster.cronjob(builders.cronjob_name(PIPELINE)) is not None
    wait_for(
        lambda: (cluster.pipeline(PIPELINE) or {}).get("status", {}).get("reportCronJob") is None,
        30,
        "status.reportCronJob to be cleared",
    )


def test_deleting_the_pipeline_lets_the_garbage_collector_remove_the_report_cronjob(
    cluster, operator
):
    cluster.patch_pipeline(PIPELINE, {"report": {"enabled": True}})
    wait_for(lambda: cluster.cronjob(REPORT_CJ), 30, "the report CronJob to come back")
    cluster.delete_pipeline(PIPELINE)
    wait_for(lambda: cluster.pipeline(PIPELINE) is None, 30, "the pipeline to go")
    wait_for(
        lambda: cluster.children(PIPELINE) == [],
        90,
        "the garbage collector to delete both CronJobs and their Jobs",
    )

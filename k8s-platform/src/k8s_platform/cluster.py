"""The operator's Job on a real Kubernetes control plane on this machine, when it is built.

    etl-k8s-cluster up       # etcd + kube-apiserver + kube-controller-manager + test node,
                             # in the background; kubeconfig in $ETL_DATA_DIR/cluster/
    etl-k8s-cluster down     # stop them (controller manager, API server, etcd)
    etl-k8s-cluster status

The binaries come from `make controlplane` (shared/Makefile, about 250 MB in
`.tools/kube-v1.37.2/`); nothing here builds them. `etl-k8s-local run|report` (what
`make run` / `make report` call) submits the Job to this control plane when the binaries
are present (the cluster that `up` started, or one started for the run and stopped after
it), and falls back to running the Job's container as local processes otherwise. It says
which path it took.

On the cluster, the Job is the one `builders.build_backfill_job` makes for the range, or
for a report one from the template of `builders.build_report_cronjob` (no EtlPipeline
owns it), with the warehouse URL from a Secret `etl-warehouse` and the data
volume claim `etl-data`, which the test node maps to $ETL_DATA_DIR. The Job controller
creates the pods; the test node (etl_shared.testing.kube) binds them and runs their
command as local processes.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from etl_shared import policy
from etl_shared.testing import kube
from k8s_platform import builders

NAMESPACE = "etl-local"
CLAIM = "etl-data"


def data_dir() -> Path:
    return Path(os.environ.get("ETL_DATA_DIR") or "data").absolute()


def cluster_dir() -> Path:
    return data_dir() / "cluster"


def binaries_present() -> bool:
    return not kube.missing_binaries(kube.default_bin_dir())


def _pid() -> int | None:
    try:
        pid = int((cluster_dir() / "supervisor.pid").read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def running() -> bool:
    return _pid() is not None and (cluster_dir() / "ready").exists()


def up(timeout: float = 120.0) -> int:
    if running():
        print(f"already running; kubeconfig {cluster_dir() / 'kubeconfig'}")
        return 0
    if not binaries_present():
        print(
            f"control plane binaries missing in {kube.default_bin_dir()}: build them with "
            "`make controlplane`",
            file=sys.stderr,
        )
        return 1
    folder = cluster_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ready").unlink(missing_ok=True)
    log = folder / "supervisor.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "etl_shared.testing.kube",
                "up",
                "--dir",
                str(folder),
                "--volume",
                f"{CLAIM}={data_dir()}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # outlives `make cluster-up`
        )
    (folder / "supervisor.pid").write_text(str(proc.pid))
    deadline = time.monotonic() + timeout
    while not (folder / "ready").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            print(f"the control plane did not start; {log}:", file=sys.stderr)
            print(log.read_text(errors="replace")[-3000:], file=sys.stderr)
            down()
            return 1
        time.sleep(0.2)
    print(log.read_text(errors="replace").strip().splitlines()[-1])
    print(f"  export KUBECONFIG={folder / 'kubeconfig'}   # then kubectl, or the Python client")
    print(f"  pod output: {folder / 'cluster' / 'node' / 'logs'}/<namespace>_<pod>.log")
    print("  stop it with `make cluster-down`")
    return 0


def down(timeout: float = 60.0) -> int:
    pid = _pid()
    if pid is None:
        print("no control plane running")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            break
        time.sleep(0.2)
    else:
        os.kill(pid, signal.SIGKILL)
    (cluster_dir() / "supervisor.pid").unlink(missing_ok=True)
    (cluster_dir() / "ready").unlink(missing_ok=True)
    print("control plane stopped")
    return 0


# --------------------------------------------------------------------- a Job on it
@contextlib.contextmanager
def _cluster() -> Iterator[tuple[Path, Any]]:
    """(kubeconfig, test node or None): the running cluster, or one for this command."""
    if running():
        yield cluster_dir() / "kubeconfig", None
        return
    with kube.running_cluster(volumes={CLAIM: data_dir()}) as (plane, node):
        print(f"  started a control plane for this run ({plane.ready_seconds:.1f} s to ready)")
        yield plane.kubeconfig, node


def _logs(node: Any, pod: str) -> str:
    if node is not None:
        return node.logs(NAMESPACE, pod)
    path = cluster_dir() / "cluster" / "node" / "logs" / f"{NAMESPACE}_{pod}.log"
    return path.read_text(errors="replace") if path.exists() else ""


def run_on_cluster(start: str, end: str, timeout: float = 1800.0) -> int:
    """Submit the operator's Job for start..end and wait for it; 0 when every index loaded."""
    from k8s_platform.localrun import pipeline_for_range

    pipeline = pipeline_for_range(start, end, namespace=NAMESPACE)
    pipeline["spec"].update(
        warehouseSecretRef={"name": policy.WAREHOUSE_SECRET}, dataVolumeClaim=CLAIM
    )
    job = builders.build_backfill_job(pipeline)
    assert job is not None
    job["metadata"].pop("ownerReferences")
    job["metadata"]["name"] = (
        f"run-{start.replace('-', '')}-{end.replace('-', '')}-{int(time.time())}"
    )
    print(
        "Kubernetes control plane binaries present: running the operator's Job on the API server."
    )
    return _submit(job, f"completionMode=Indexed completions={job['spec']['completions']}", timeout)


def report_on_cluster(month: str, timeout: float = 1800.0) -> int:
    """Submit a Job from the report CronJob's template for `month` and wait for it."""
    from k8s_platform.localrun import report_job_for

    job = report_job_for(
        month,
        namespace=NAMESPACE,
        spec={"warehouseSecretRef": {"name": policy.WAREHOUSE_SECRET}, "dataVolumeClaim": CLAIM},
    )
    spec = job["spec"]["template"]["spec"]
    job["metadata"]["name"] = f"report-{month.replace('-', '')}-{int(time.time())}"
    print(
        "Kubernetes control plane binaries present: running a Job of the report CronJob "
        "on the API server."
    )
    return _submit(job, f"args {' '.join(spec['containers'][0]['args'])}", timeout)


def wait_for_job(batch: Any, name: str, timeout: float) -> tuple[set[str], Any]:
    """Poll the Job in NAMESPACE until it is Complete or Failed, at most `timeout` seconds:
    which of the two it is (empty when the time ran out) and its last status."""
    deadline = time.monotonic() + timeout
    while True:
        status = batch.read_namespaced_job(name, NAMESPACE).status
        kinds = {c.type for c in status.conditions or [] if c.status == "True"}
        kinds &= {"Complete", "Failed"}
        if kinds or time.monotonic() > deadline:
            return kinds, status
        time.sleep(0.5)


def _submit(job: dict[str, Any], describe: str, timeout: float) -> int:
    """Create the Job (with the warehouse Secret) and wait for it; 0 when it completed."""
    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException

    url = os.environ.get("WAREHOUSE_URL") or f"duckdb://{data_dir() / 'warehouse.duckdb'}"
    with _cluster() as (kubeconfig, node):
        api = config.new_client_from_config(str(kubeconfig))
        core, batch = client.CoreV1Api(api), client.BatchV1Api(api)
        with contextlib.suppress(ApiException):
            core.create_namespace({"metadata": {"name": NAMESPACE}})
        secret = {
            "metadata": {"name": policy.WAREHOUSE_SECRET},
            "data": {policy.WAREHOUSE_SECRET_KEY: base64.b64encode(url.encode()).decode()},
        }
        try:
            core.create_namespaced_secret(NAMESPACE, secret)
        except ApiException as exc:
            if exc.status != 409:
                raise
            core.replace_namespaced_secret(policy.WAREHOUSE_SECRET, NAMESPACE, secret)
        name = job["metadata"]["name"]
        batch.create_namespaced_job(NAMESPACE, job)
        print(f"  Job {NAMESPACE}/{name}: {describe} (kubeconfig {kubeconfig})")
        kinds, status = wait_for_job(batch, name, timeout)
        if not kinds:
            print(f"  Job {name} did not finish in {timeout:.0f} s", file=sys.stderr)
            return 1
        pods = core.list_namespaced_pod(NAMESPACE, label_selector=f"job-name={name}").items
        for pod in sorted(pods, key=lambda p: p.metadata.creation_timestamp):
            index = pod.metadata.labels.get("batch.kubernetes.io/job-completion-index")
            where = f" (index {index})" if index is not None else ""
            print(f"  pod {pod.metadata.name}{where}: {pod.status.phase}")
            for line in _logs(node, pod.metadata.name).strip().splitlines()[-2:]:
                print(f"    {line}")
        result = "Complete" if "Complete" in kinds else "Failed"
        if status.completed_indexes is not None or status.failed_indexes is not None:
            result += (
                f": completed indexes {status.completed_indexes or '-'}, "
                f"failed {status.failed_indexes or '-'}"
            )
        print(f"  Job {result}")
        return 0 if "Complete" in kinds else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="etl-k8s-cluster", description=__doc__.splitlines()[0])
    parser.add_argument("cmd", choices=["up", "down", "status"])
    args = parser.parse_args(argv)
    if args.cmd == "up":
        return up()
    if args.cmd == "down":
        return down()
    if running():
        print(f"running; kubeconfig {cluster_dir() / 'kubeconfig'}")
        return 0
    print(
        "not running" + ("" if binaries_present() else " (binaries not built: make controlplane)")
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())

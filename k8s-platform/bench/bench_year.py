"""`make bench-year`: the full year (365 partitions) as the backfill Indexed Job on a real
Kubernetes control plane.

The Job is the one the operator creates for `spec.backfill` (`builders.build_backfill_job`
of an EtlPipeline like examples/flights-daily.yaml, as `etl-k8s-local backfill` builds
it): completionMode Indexed, completions = number of days, index i = start + i days,
each pod running the job container's `etl-k8s-job` for its index, the warehouse URL from
the Secret `etl-warehouse`, the data volume the claim `etl-data`.

What runs, all in this process tree (so the harness' peak memory counts it):

1. etcd + kube-apiserver + kube-controller-manager v1.37.2 on loopback
   (`etl_shared.testing.kube.running_cluster`, the binaries of `make -C ../shared
   controlplane`) and the test node, which binds the pods and runs their containers as
   local processes;
2. namespace `etl-local`, the Secret with the harness' DuckDB warehouse URL, and the Job;
   the claim `etl-data` is a folder holding the harness' landing zone (as `landing/`);
3. the Job controller creates the pods, at most PARALLELISM at a time; this waits for the
   Job's `Complete` (or `Failed`) condition, at most BENCH_YEAR_TIMEOUT seconds (default
   3600), then stops the node and the control plane, whatever happened.

Parallelism: 2 (the spec's `backfill.parallelism`), one pod per core. Each pod is a
fresh Python process (imports, DuckDB) and the loads queue for the one DuckDB file, so a
second pod overlaps one pod's start-up with the other's work; more would only compete
with the API server, etcd and the controller manager for the 2 cores.

Seeding, timing, peak memory, parity with the bare steps and the report are
`etl_shared.bench_year`'s. BENCH_YEAR_START/END narrow the range, BENCH_YEAR_OUT moves
the JSON.
"""

from __future__ import annotations

import base64
import os
import sys
from pathlib import Path
from typing import Any

from k8s_platform import builders
from k8s_platform.cluster import CLAIM, NAMESPACE, wait_for_job
from k8s_platform.localrun import pipeline_for_range

from etl_shared import bench_year, policy
from etl_shared.testing import kube

ROOT = Path(__file__).resolve().parents[1]
PARALLELISM = 2
MAKE_CONTROLPLANE = "make -C ../shared controlplane"


def missing_control_plane() -> str | None:
    """Why the control plane cannot start (binaries not built), or None."""
    missing = kube.missing_binaries(kube.default_bin_dir())
    if not missing:
        return None
    return (
        f"Kubernetes control plane binaries missing in {kube.default_bin_dir()}: "
        f"{', '.join(missing)}. Build them with `{MAKE_CONTROLPLANE}` (or `make controlplane` "
        "in k8s-platform; cold about 15 minutes on 2 cores)."
    )


def backfill_job(start: str, end: str, parallelism: int = PARALLELISM) -> dict[str, Any]:
    """The operator's backfill Job for start..end, with the local Secret and claim."""
    pipeline = pipeline_for_range(start, end, namespace=NAMESPACE)
    pipeline["spec"]["backfill"]["parallelism"] = parallelism
    pipeline["spec"].update(
        warehouseSecretRef={"name": policy.WAREHOUSE_SECRET}, dataVolumeClaim=CLAIM
    )
    job = builders.build_backfill_job(pipeline)
    assert job is not None
    job["metadata"].pop("ownerReferences")  # no EtlPipeline object owns it here
    return job


def run_backfill_job(
    partitions: list[str], env: dict[str, str], timeout: float | None = None
) -> dict[str, Any]:
    """Start the control plane and the test node, run the backfill Job for the
    partitions with env's WAREHOUSE_URL and LANDING_DIR, wait for it, stop everything.
    Returns the Job's final status; raises when it did not complete."""
    from kubernetes import client

    reason = missing_control_plane()
    if reason:
        raise RuntimeError(reason)
    timeout = timeout or float(os.environ.get("BENCH_YEAR_TIMEOUT") or 3600)
    work = Path(env["ETL_DATA_DIR"])
    claim = work / "claim"  # the pods' /data: the landing zone as landing/
    claim.mkdir(parents=True, exist_ok=True)
    (claim / "landing").unlink(missing_ok=True)
    (claim / "landing").symlink_to(Path(env["LANDING_DIR"]).absolute())
    job = backfill_job(partitions[0], partitions[-1])
    assert job["spec"]["completions"] == len(partitions)
    name = job["metadata"]["name"]
    with kube.running_cluster(work / "cluster", volumes={CLAIM: claim}) as (plane, node):
        api = plane.api_client()
        core, batch = client.CoreV1Api(api), client.BatchV1Api(api)
        core.create_namespace({"metadata": {"name": NAMESPACE}})
        url = env["WAREHOUSE_URL"].encode()
        core.create_namespaced_secret(
            NAMESPACE,
            {
                "metadata": {"name": policy.WAREHOUSE_SECRET},
                "data": {policy.WAREHOUSE_SECRET_KEY: base64.b64encode(url).decode()},
            },
        )
        batch.create_namespaced_job(NAMESPACE, job)
        kinds, status = wait_for_job(batch, name, timeout)
        if not kinds:
            raise RuntimeError(
                f"Job {NAMESPACE}/{name} did not finish in {timeout:.0f} s "
                f"(completed indexes {status.completed_indexes or '-'})"
            )
        if "Complete" not in kinds:
            failed = [
                p
                for p in core.list_namespaced_pod(
                    NAMESPACE, label_selector=f"job-name={name}"
                ).items
                if p.status.phase == "Failed"
            ]
            tail = node.logs(NAMESPACE, failed[0].metadata.name)[-2000:] if failed and node else ""
            raise RuntimeError(
                f"Job {NAMESPACE}/{name} failed: completed indexes "
                f"{status.completed_indexes or '-'}, failed {status.failed_indexes or '-'}\n{tail}"
            )
        return status.to_dict()


def backfill(partitions: list[str], env: dict[str, str]) -> None:
    run_backfill_job(partitions, env)


def main(cwd: Path = ROOT) -> int:
    """The harness over the Indexed Job; its data under `cwd`/data (bench-cache, bench-year)."""
    reason = missing_control_plane()
    if reason:
        print(reason, file=sys.stderr)
        return 1
    return bench_year.main(
        "k8s",
        backfill,
        how=f"Indexed Job on kube-apiserver + Job controller, parallelism {PARALLELISM}",
        cwd=cwd,
    )


if __name__ == "__main__":
    sys.exit(main())

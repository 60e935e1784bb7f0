"""Run the Job the operator would create, as local processes (no cluster needed).

    etl-k8s-local run --date 2013-01-05
    etl-k8s-local backfill --start 2013-01-01 --end 2013-01-07
    etl-k8s-local report --month 2013-02

`run` and `report` submit the Job to a real control plane instead when its binaries are
built (`make controlplane`; see `k8s_platform.cluster`), unless `--local` is given.
`backfill` (what `make demo` times) always runs locally.

The manifest comes from the same builder the operator uses (`build_backfill_job` for a
range, one day being a range of one; for `report`, a Job from the template of the
report's CronJob, `build_report_cronjob`, with `--month M` in place of `--month last`). For each completion index this runs the
container's `command + args` as a subprocess with the container's environment plus
what the kubelet would add (`JOB_COMPLETION_INDEX`). The pod's volumes become local
folders: `/data` is $ETL_DATA_DIR, `/tmp` a temporary folder. Variables the local
environment sets (WAREHOUSE_URL, ETL_LOCAL_MODE, LANDING_DIR, STAGING_DIR,
ETL_RETRY_DELAY_SECONDS, the fault switches) win, as a Secret or a ConfigMap would in the
cluster. A bad date (outside 2013-01-01..2013-12-31), month or WAREHOUSE_URL is refused
before any Job is built: one line, exit code 2.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from etl_shared.config import Settings, check_warehouse_url
from etl_shared.errors import EXIT_BAD_ARGS, EtlError, one_line
from etl_shared.partitions import date_range, month_key
from k8s_platform import builders

# What the local environment may set in place of the pod's own value (the warehouse
# Secret, the data volume, test switches).
LOCAL_WINS = (
    "WAREHOUSE_URL",
    "ETL_LOCAL_MODE",
    "LANDING_DIR",
    "STAGING_DIR",
    "ETL_DATA_DIR",
    "ETL_RETRY_DELAY_SECONDS",
)
# Never handed to the job from the local shell: the pod has only what its manifest says.
LOCAL_PASSTHROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "PYTHONPATH", "VIRTUAL_ENV")


@dataclass
class IndexResult:
    index: int
    partition: str
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def pipeline_for_range(
    start: str,
    end: str,
    *,
    name: str = "flights-daily",
    namespace: str = "local",
    image: str = "etl-pipeline-job:local",
) -> dict[str, Any]:
    """An EtlPipeline like examples/flights-daily.yaml with a backfill of start..end."""
    return {
        "apiVersion": builders.API_VERSION,
        "kind": builders.KIND,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": "00000000-0000-0000-0000-000000000000",
        },
        "spec": {
            "image": image,
            "timeZone": "America/New_York",
            "backfill": {"start": start, "end": end, "parallelism": 1},
        },
    }


def report_job_for(
    month: str,
    *,
    namespace: str = "local",
    image: str = "etl-pipeline-job:local",
    spec: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The Job for `month`'s report: the operator's report CronJob (a pipeline like
    examples/flights-daily.yaml, `spec.report` on, plus `spec`) as `kubectl create job
    --from` makes it, with `--month <month>` instead of `--month last`."""
    pipeline = pipeline_for_range(month_key(month) + "-01", month_key(month) + "-01")
    pipeline["metadata"]["namespace"] = namespace
    pipeline["spec"].pop("backfill")
    pipeline["spec"].update(image=image, report={"enabled": True}, **(spec or {}))
    cronjob = builders.build_report_cronjob(pipeline)
    assert cronjob is not None
    name = f"{cronjob['metadata']['name']}-{month_key(month).replace('-', '')}"
    return builders.report_job(cronjob, name, month_key(month))


def container_of(job: dict[str, Any]) -> dict[str, Any]:
    return job["spec"]["template"]["spec"]["containers"][0]


def _map_path(value: str, data_dir: Path, tmp_dir: Path) -> str:
    """Paths inside the pod's volumes, as local paths."""
    if value == builders.DATA_MOUNT or value.startswith(builders.DATA_MOUNT + "/"):
        return str(data_dir) + value[len(builders.DATA_MOUNT) :]
    if value == "/tmp" or value.startswith("/tmp/"):
        return str(tmp_dir) + value[len("/tmp") :]
    return value


def job_environment(
    job: dict[str, Any], index: int | None, *, environ: dict[str, str] | None = None, tmp_dir: Path
) -> dict[str, str]:
    """The container's environment, as the pod would see it, mapped to local folders."""
    local = dict(os.environ if environ is None else environ)
    data_dir = Path(local.get("ETL_DATA_DIR") or "data").absolute()
    env = {k: local[k] for k in LOCAL_PASSTHROUGH if k in local}
    for item in container_of(job).get("env") or []:
        if "value" in item:
            env[item["name"]] = _map_path(item["value"], data_dir, tmp_dir)
        # valueFrom (the warehouse Secret): only the local environment can supply it
    for key in LOCAL_WINS:
        if local.get(key):
            env[key] = local[key]
    env.update({k: v for k, v in local.items() if k.startswith("ETL_FAULT_")})
    if job["spec"].get("completionMode") == "Indexed" and index is not None:
        env["JOB_COMPLETION_INDEX"] = str(index)
    # the venv that holds the job's entry point comes first, as in the job image
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def _run_pod(
    job: dict[str, Any], index: int | None, environ: dict[str, str] | None
) -> subprocess.CompletedProcess[str]:
    """The container's command as a subprocess, with the pod's environment."""
    container = container_of(job)
    argv = list(container.get("command") or []) + list(container.get("args") or [])
    with tempfile.TemporaryDirectory(prefix="etl-k8s-pod-") as tmp:
        env = job_environment(job, index, environ=environ, tmp_dir=Path(tmp))
        exe = shutil.which(argv[0], path=env["PATH"]) or argv[0]
        return subprocess.run(
            [exe, *argv[1:]], env=env, capture_output=True, text=True, check=False
        )


def _echo(result: IndexResult, label: str) -> None:
    status = "ok" if result.ok else f"exit {result.returncode}"
    print(f"  {label}: {status}")
    for line in (result.stdout + result.stderr).strip().splitlines()[-3:]:
        print(f"    {line}")


def run_job(
    job: dict[str, Any], *, environ: dict[str, str] | None = None, echo: bool = False
) -> list[IndexResult]:
    """Run every completion index of the Job one after the other (parallelism 1)."""
    start, end = job["metadata"]["annotations"][builders.ANNOTATION_PARTITIONS].split("..")
    backfill = builders.backfill_of({"backfill": {"start": start, "end": end}})
    assert backfill is not None
    results = []
    for index in range(job["spec"]["completions"]):
        proc = _run_pod(job, index, environ)
        result = IndexResult(
            index, backfill.partition(index), proc.returncode, proc.stdout, proc.stderr
        )
        if echo:
            _echo(result, f"index {index} ({result.partition})")
        results.append(result)
    return results


def run_report_job(
    job: dict[str, Any], *, environ: dict[str, str] | None = None, echo: bool = False
) -> IndexResult:
    """Run the report Job's one pod; its `partition` is the month."""
    month = container_of(job)["args"][-1]
    proc = _run_pod(job, None, environ)
    result = IndexResult(0, month, proc.returncode, proc.stdout, proc.stderr)
    if echo:
        _echo(result, f"report {month}")
    return result


def _report(month: str, local: bool) -> int:
    if not local:
        from k8s_platform import cluster

        if cluster.binaries_present():
            return cluster.report_on_cluster(month)
        print("No Kubernetes control plane binaries (`make controlplane` builds them).")
    job = report_job_for(month)
    container = container_of(job)
    print("Running the report CronJob's Job as local processes (no cluster).")
    print(f"  Job {job['metadata']['name']}")
    print(f"  container command: {' '.join(container['command'] + container['args'])}")
    return 0 if run_report_job(job, echo=True).ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="etl-k8s-local", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    one = sub.add_parser("run", help="the Job for one date")
    one.add_argument("--date", required=True)
    many = sub.add_parser("backfill", help="the Indexed Job for a range")
    many.add_argument("--start", required=True)
    many.add_argument("--end", required=True)
    report = sub.add_parser("report", help="the report CronJob's Job for one month")
    report.add_argument("--month", required=True, help="YYYY-MM")
    parser.add_argument(
        "--local",
        action="store_true",
        help="run the Job as local processes even when the control plane binaries are built",
    )
    args = parser.parse_args(argv)
    if args.cmd == "report":
        try:
            month = month_key(args.month)
            check_warehouse_url(Settings.from_env().warehouse_url)
        except EtlError as exc:
            print(one_line(exc), file=sys.stderr)
            return EXIT_BAD_ARGS
        return _report(month, args.local)
    start, end = (args.date, args.date) if args.cmd == "run" else (args.start, args.end)
    # Bad arguments and settings are refused before any Job is built: one line, exit 2.
    try:
        date_range(start, end)
        check_warehouse_url(Settings.from_env().warehouse_url)
    except EtlError as exc:
        print(one_line(exc), file=sys.stderr)
        return EXIT_BAD_ARGS
    if args.cmd == "run" and not args.local:
        from k8s_platform import cluster

        if cluster.binaries_present():
            try:
                builders.backfill_of({"backfill": {"start": start, "end": end}})
            except builders.InvalidSpecError as exc:
                print(f"invalid range: {exc}", file=sys.stderr)
                return 2
            return cluster.run_on_cluster(start, end)
        print("No Kubernetes control plane binaries (`make controlplane` builds them).")
    try:
        job = builders.build_backfill_job(pipeline_for_range(start, end))
    except builders.InvalidSpecError as exc:
        print(f"invalid range: {exc}", file=sys.stderr)
        return 2
    assert job is not None
    container = container_of(job)
    print("Running the operator's Job as local processes (no cluster).")
    print(
        f"  Job {job['metadata']['name']}: completionMode={job['spec']['completionMode']} "
        f"completions={job['spec']['completions']}"
    )
    print(f"  container command: {' '.join(container['command'] + container['args'])}")
    results = run_job(job, echo=True)
    failed = [r for r in results if not r.ok]
    print(f"  {len(results) - len(failed)} of {len(results)} index(es) succeeded")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

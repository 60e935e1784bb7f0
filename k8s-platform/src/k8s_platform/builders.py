"""Pure builders: an EtlPipeline spec in, Kubernetes manifests (plain dicts) out.

Nothing here talks to a cluster. The kopf handlers only apply what these functions
return, and the tests validate every manifest strictly against the Kubernetes schemas
of `TARGET_K8S_VERSION`.

Up to three children per pipeline:

* a CronJob `<name>-daily` that runs the pipeline once a day; the container computes
  the partition ("yesterday" in the pipeline's time zone) when it starts;
* a CronJob `<name>-carrier-report-monthly` when `spec.report` is set (and not
  `enabled: false`): the monthly carrier report, `etl-k8s-job --month last` on the 1st,
  last month in the report's time zone;
* an Indexed Job `<name>-backfill-<start>-<end>` when `spec.backfill` is set: one
  completion index per day, `JOB_COMPLETION_INDEX` selects the date.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass
from typing import Any

from croniter import croniter

from etl_shared import errors, policy

GROUP = "etl.example.com"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "EtlPipeline"
PLURAL = "etlpipelines"
TARGET_K8S_VERSION = "1.35.0"

CONTAINER = "etl"
JOB_COMMAND = ["etl-k8s-job"]
# jobcmd exits with this code for errors another attempt cannot cure (bad data, bad
# argument): the pod failure policy then fails the Job (or the backfill index) at once
# instead of burning the backoff limit.
EXIT_NOT_RETRYABLE = 3
# A bad argument or setting (a day outside the data, no WAREHOUSE_URL): exit 2, as on every
# platform; another attempt cannot cure it either, so the pod failure policy fails it at once.
EXIT_BAD_ARGS = errors.EXIT_BAD_ARGS
EXIT_FAIL_NOW = (EXIT_BAD_ARGS, EXIT_NOT_RETRYABLE)
DATA_MOUNT = "/data"
LABEL_PIPELINE = f"{GROUP}/pipeline"
LABEL_COMPONENT = "app.kubernetes.io/component"
ANNOTATION_PARTITIONS = f"{GROUP}/partitions"
MANAGED_BY = "etl-pipeline-operator"
MAX_BACKFILL_DAYS = 366
# A CronJob's name is at most 52 characters (the Jobs it creates append 11).
MAX_CRONJOB_NAME = 52
REPORT_SUFFIX = "-carrier-report-monthly"  # the report's name on every platform

# The schedule, time zone, attempts (backoffLimit = retries) and first retry delay are
# etl_shared.policy's; the CRD's defaults and the chart's values equal them (tests/test_policy.py).
DEFAULTS: dict[str, Any] = {
    "schedule": policy.DAILY.cron,
    "timeZone": policy.DAILY.timezone,
    "suspend": False,
    "imagePullPolicy": "IfNotPresent",
    "concurrencyPolicy": "Forbid",
    "backoffLimit": policy.ATTEMPTS - 1,
    "activeDeadlineSeconds": 3600,
    "startingDeadlineSeconds": 600,
    "ttlSecondsAfterFinished": 86400,
    "successfulJobsHistoryLimit": 3,
    "failedJobsHistoryLimit": 3,
    "retryDelaySeconds": int(policy.DEFAULT_RETRY_DELAY_SECONDS),
    "resources": {
        "requests": {"cpu": "250m", "memory": "512Mi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    },
}
BACKFILL_DEFAULT_PARALLELISM = 2
# spec.report: the schedule is etl_shared.policy's MONTHLY_REPORT; its time zone and
# suspend follow the pipeline's (spec.timeZone defaults to the same zone) unless set.
REPORT_DEFAULTS: dict[str, Any] = {
    "enabled": True,
    "schedule": policy.MONTHLY_REPORT.cron,
}

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_CRON_MACROS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}


class InvalidSpecError(ValueError):
    """The spec cannot be turned into children; the message says what to fix."""

    def __init__(self, reason: str, message: str):
        self.reason = reason
        super().__init__(message)


@dataclass(frozen=True)
class Backfill:
    start: dt.date
    end: dt.date
    parallelism: int

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def partition(self, index: int) -> str:
        return (self.start + dt.timedelta(days=index)).isoformat()


def with_defaults(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec with every optional field filled in (the CRD schema has the same defaults)."""
    merged = copy.deepcopy(DEFAULTS)
    merged.update(copy.deepcopy(spec or {}))
    return merged


def validate_spec(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Return the defaulted spec, or raise InvalidSpecError with a message a user can act on."""
    s = with_defaults(spec)
    if not _NAME.match(name) or len(name) > 40:
        raise InvalidSpecError(
            "InvalidName",
            f"name {name!r} must be a DNS label of at most 40 characters "
            "(the children's names add up to 23 more)",
        )
    if not s.get("image"):
        raise InvalidSpecError("MissingImage", "spec.image is required (the ETL job image)")
    _check_schedule("spec", s["schedule"])
    _check_time_zone("spec", s["timeZone"])
    if s["concurrencyPolicy"] not in ("Allow", "Forbid", "Replace"):
        raise InvalidSpecError(
            "InvalidConcurrencyPolicy", "spec.concurrencyPolicy must be Allow, Forbid or Replace"
        )
    for key in ("backoffLimit", "ttlSecondsAfterFinished", "retryDelaySeconds"):
        if int(s[key]) < 0:
            raise InvalidSpecError("InvalidValue", f"spec.{key} must be >= 0")
    for key in ("activeDeadlineSeconds", "startingDeadlineSeconds"):
        if int(s[key]) < 1:
            raise InvalidSpecError("InvalidValue", f"spec.{key} must be >= 1")
    if s.get("backfill"):
        backfill_of(s)
    report = report_of(s)
    if report is not None:
        _check_schedule("spec.report", report["schedule"])
        _check_time_zone("spec.report", report["timeZone"])
        if len(report_cronjob_name(name)) > MAX_CRONJOB_NAME:
            raise InvalidSpecError(
                "InvalidName",
                f"name {name!r} is too long for the report's CronJob "
                f"{report_cronjob_name(name)!r} (at most {MAX_CRONJOB_NAME} characters): "
                f"use at most {MAX_CRONJOB_NAME - len(REPORT_SUFFIX)} with spec.report",
            )
    return s


def _check_schedule(where: str, value: Any) -> None:
    schedule = str(value).strip()
    if schedule.startswith(("TZ=", "CRON_TZ=")):
        raise InvalidSpecError(
            "InvalidSchedule", f"put the time zone in {where}.timeZone, not in {where}.schedule"
        )
    fields = schedule.split()
    if not (schedule in _CRON_MACROS or (len(fields) == 5 and croniter.is_valid(schedule))):
        raise InvalidSpecError(
            "InvalidSchedule",
            f"{where}.schedule {schedule!r} is not a cron expression "
            "(five fields 'minute hour day-of-month month day-of-week', or @daily)",
        )


def _check_time_zone(where: str, value: Any) -> None:
    try:
        zoneinfo.ZoneInfo(str(value))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InvalidSpecError(
            "UnknownTimeZone",
            f"{where}.timeZone {value!r} is not a tz database name (e.g. America/New_York)",
        ) from None


def report_of(spec: dict[str, Any]) -> dict[str, Any] | None:
    """The monthly report's settings with their defaults (schedule from the policy, time
    zone and suspend from the pipeline's), or None when there is no enabled report.
    `spec` is the defaulted spec (`with_defaults`)."""
    raw = spec.get("report")
    if raw is None:
        return None
    report = {**REPORT_DEFAULTS, **{k: v for k, v in dict(raw).items() if v is not None}}
    if not report["enabled"]:
        return None
    report.setdefault("timeZone", spec["timeZone"])
    report.setdefault("suspend", spec["suspend"])
    return report


def backfill_of(spec: dict[str, Any]) -> Backfill | None:
    """The backfill range of a spec, checked (end not before start, at most a year)."""
    raw = spec.get("backfill")
    if not raw:
        return None
    try:
        start = dt.date.fromisoformat(str(raw["start"]))
        end = dt.date.fromisoformat(str(raw["end"]))
    except (KeyError, ValueError) as exc:
        raise InvalidSpecError(
            "InvalidBackfill", f"spec.backfill needs start and end as YYYY-MM-DD dates ({exc})"
        ) from None
    if end < start:
        raise InvalidSpecError(
            "InvalidBackfill", f"spec.backfill.end {end} is before spec.backfill.start {start}"
        )
    days = (end - start).days + 1
    if days > MAX_BACKFILL_DAYS:
        raise InvalidSpecError(
            "InvalidBackfill",
            f"spec.backfill covers {days} days; split it (at most {MAX_BACKFILL_DAYS})",
        )
    parallelism = int(raw.get("parallelism", BACKFILL_DEFAULT_PARALLELISM))
    if parallelism < 1:
        raise InvalidSpecError("InvalidBackfill", "spec.backfill.parallelism must be >= 1")
    return Backfill(start=start, end=end, parallelism=parallelism)


# --------------------------------------------------------------------------- names
def cronjob_name(name: str) -> str:
    return f"{name}-daily"


def report_cronjob_name(name: str) -> str:
    return f"{name}{REPORT_SUFFIX}"


def backfill_job_name(name: str, backfill: Backfill) -> str:
    return f"{name}-backfill-{backfill.start:%Y%m%d}-{backfill.end:%Y%m%d}"


def labels(name: str, component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "etl-pipeline",
        "app.kubernetes.io/instance": name,
        LABEL_COMPONENT: component,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        LABEL_PIPELINE: name,
    }


def owner_reference(pipeline: dict[str, Any]) -> dict[str, Any]:
    meta = pipeline["metadata"]
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


# ----------------------------------------------------------------------------- pod
def container_env(name: str, spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The job container's environment. The warehouse URL comes only from the Secret the
    spec names; without one the pod fails naming `spec.warehouseSecretRef` (no fallback)."""
    env: list[dict[str, Any]] = [
        {"name": "ETL_PIPELINE", "value": name},
        {"name": "ETL_TIMEZONE", "value": spec["timeZone"]},
        {"name": "ETL_DATA_DIR", "value": DATA_MOUNT},
        {"name": "STAGING_DIR", "value": "/tmp/staging"},
        {"name": "ETL_RETRY_DELAY_SECONDS", "value": str(spec["retryDelaySeconds"])},
    ]
    ref = spec.get("warehouseSecretRef")
    if ref:
        env.append(
            {
                "name": "WAREHOUSE_URL",
                "valueFrom": {
                    "secretKeyRef": {
                        "name": ref["name"],
                        "key": ref.get("key", policy.WAREHOUSE_SECRET_KEY),
                    }
                },
            }
        )
    return env


def quantities(resources: dict[str, Any]) -> dict[str, Any]:
    """Requests and limits as quantity strings: the CRD accepts `cpu: 1`, the CronJob
    API's clients want "1" (the API server then stores its canonical form, e.g. "0.5" as
    "500m"; reconcile compares them as numbers)."""
    return {
        kind: {name: str(value) for name, value in (values or {}).items()}
        for kind, values in (resources or {}).items()
    }


def pod_spec(name: str, spec: dict[str, Any], args: list[str]) -> dict[str, Any]:
    """Non-root, read-only root filesystem, no capabilities; writes go to /tmp and /data."""
    data_volume: dict[str, Any] = {"name": "data"}
    if spec.get("dataVolumeClaim"):
        data_volume["persistentVolumeClaim"] = {"claimName": spec["dataVolumeClaim"]}
    else:
        data_volume["emptyDir"] = {}
    return {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "runAsGroup": 10001,
            "fsGroup": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                "name": CONTAINER,
                "image": spec["image"],
                "imagePullPolicy": spec["imagePullPolicy"],
                "command": list(JOB_COMMAND),
                "args": args,
                "env": container_env(name, spec),
                "resources": quantities(spec["resources"]),
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "readOnlyRootFilesystem": True,
                    "privileged": False,
                    "capabilities": {"drop": ["ALL"]},
                },
                "volumeMounts": [
                    {"name": "data", "mountPath": DATA_MOUNT},
                    {"name": "tmp", "mountPath": "/tmp"},
                ],
            }
        ],
        "volumes": [data_volume, {"name": "tmp", "emptyDir": {}}],
    }


def _pod_failure_policy(action: str) -> dict[str, Any]:
    return {
        "rules": [
            {
                "action": action,
                "onExitCodes": {
                    "containerName": CONTAINER,
                    "operator": "In",
                    "values": list(EXIT_FAIL_NOW),
                },
            },
            # A node drain or preemption is not the job's fault: do not count it.
            {
                "action": "Ignore",
                "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
            },
        ]
    }


# ------------------------------------------------------------------------ children
def _cronjob(
    pipeline: dict[str, Any],
    spec: dict[str, Any],
    *,
    name: str,
    component: str,
    schedule: str,
    time_zone: str,
    suspend: bool,
    args: list[str],
) -> dict[str, Any]:
    """A CronJob of the pipeline; its pods' ETL_TIMEZONE is the zone it is scheduled in."""
    pipeline_name = pipeline["metadata"]["name"]
    job_labels = labels(pipeline_name, component)
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {
            "name": name,
            "namespace": pipeline["metadata"]["namespace"],
            "labels": job_labels,
            "ownerReferences": [owner_reference(pipeline)],
        },
        "spec": {
            "schedule": schedule,
            "timeZone": time_zone,
            "suspend": bool(suspend),
            "concurrencyPolicy": spec["concurrencyPolicy"],
            "startingDeadlineSeconds": int(spec["startingDeadlineSeconds"]),
            "successfulJobsHistoryLimit": int(spec["successfulJobsHistoryLimit"]),
            "failedJobsHistoryLimit": int(spec["failedJobsHistoryLimit"]),
            "jobTemplate": {
                "metadata": {"labels": job_labels},
                "spec": {
                    "backoffLimit": int(spec["backoffLimit"]),
                    "activeDeadlineSeconds": int(spec["activeDeadlineSeconds"]),
                    "ttlSecondsAfterFinished": int(spec["ttlSecondsAfterFinished"]),
                    "podFailurePolicy": _pod_failure_policy("FailJob"),
                    "template": {
                        "metadata": {"labels": job_labels},
                        "spec": pod_spec(pipeline_name, {**spec, "timeZone": time_zone}, args),
                    },
                },
            },
        },
    }


def build_cronjob(pipeline: dict[str, Any]) -> dict[str, Any]:
    """The daily CronJob: `etl-k8s-job --date yesterday`, evaluated in spec.timeZone."""
    name = pipeline["metadata"]["name"]
    spec = validate_spec(name, pipeline.get("spec") or {})
    return _cronjob(
        pipeline,
        spec,
        name=cronjob_name(name),
        component="daily",
        schedule=spec["schedule"],
        time_zone=spec["timeZone"],
        suspend=spec["suspend"],
        args=["--date", "yesterday"],
    )


def build_report_cronjob(pipeline: dict[str, Any]) -> dict[str, Any] | None:
    """The monthly report's CronJob, or None without an enabled `spec.report`:
    `etl-k8s-job --month last` (the month before the run's start, in the report's zone).

    The same Job settings as the daily CronJob (deadlines, history, backoffLimit, pod
    failure policy, resources, Secret, volumes). An incomplete month exits 3, which the
    pod failure policy fails at once (jobcmd says why it is not retried).
    """
    name = pipeline["metadata"]["name"]
    spec = validate_spec(name, pipeline.get("spec") or {})
    report = report_of(spec)
    if report is None:
        return None
    return _cronjob(
        pipeline,
        spec,
        name=report_cronjob_name(name),
        component="report",
        schedule=report["schedule"],
        time_zone=report["timeZone"],
        suspend=report["suspend"],
        args=["--month", "last"],
    )


def report_job(cronjob: dict[str, Any], name: str, month: str) -> dict[str, Any]:
    """A Job from the report CronJob's template for one month (`--month YYYY-MM`): what
    `kubectl create job --from=cronjob/<pipeline>-carrier-report-monthly` makes, with the
    month given instead of "last" (`make report`, the contract suite)."""
    template = copy.deepcopy(cronjob["spec"]["jobTemplate"])
    template["spec"]["template"]["spec"]["containers"][0]["args"] = ["--month", month]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": cronjob["metadata"]["namespace"],
            "labels": dict(template["metadata"]["labels"]),
        },
        "spec": template["spec"],
    }


def build_backfill_job(pipeline: dict[str, Any]) -> dict[str, Any] | None:
    """The backfill as an Indexed Job: completions = days, index i = start + i days.

    Each index has its own backoff limit, and a non-retryable failure fails only that
    day's index, so one bad day does not stop the rest of the range.
    """
    name = pipeline["metadata"]["name"]
    spec = validate_spec(name, pipeline.get("spec") or {})
    backfill = backfill_of(spec)
    if backfill is None:
        return None
    job_labels = labels(name, "backfill")
    start, end = backfill.start.isoformat(), backfill.end.isoformat()
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": backfill_job_name(name, backfill),
            "namespace": pipeline["metadata"]["namespace"],
            "labels": job_labels,
            "annotations": {ANNOTATION_PARTITIONS: f"{start}..{end}"},
            "ownerReferences": [owner_reference(pipeline)],
        },
        "spec": {
            "completionMode": "Indexed",
            "completions": backfill.days,
            "parallelism": min(backfill.parallelism, backfill.days),
            "backoffLimitPerIndex": int(spec["backoffLimit"]),
            "activeDeadlineSeconds": int(spec["activeDeadlineSeconds"]) * backfill.days,
            "ttlSecondsAfterFinished": int(spec["ttlSecondsAfterFinished"]),
            "podFailurePolicy": _pod_failure_policy("FailIndex"),
            "template": {
                "metadata": {"labels": job_labels},
                "spec": pod_spec(name, spec, ["--start", start, "--end", end]),
            },
        },
    }


def desired_children(pipeline: dict[str, Any]) -> list[dict[str, Any]]:
    """Every child the pipeline should own (raises InvalidSpecError for a bad spec)."""
    children = [build_cronjob(pipeline)]
    report = build_report_cronjob(pipeline)
    if report is not None:
        children.append(report)
    job = build_backfill_job(pipeline)
    if job is not None:
        children.append(job)
    return children

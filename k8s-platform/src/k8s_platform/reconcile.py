"""Reconcile as a pure function: (pipeline, observed children) -> (actions, status).

The kopf handlers list what the cluster holds (the CronJob and the Jobs labelled with
the pipeline's name), call `plan()`, apply its actions with the Kubernetes API and
patch the status. Everything that decides something lives here and is tested without
a cluster:

* a missing child is created, a child that drifted from the desired manifest is
  replaced (the daily CronJob and the report's) or deleted and re-created (an
  unfinished backfill Job: a Job's pod template is immutable), a CronJob no longer
  desired (the report's, once `spec.report` is disabled or removed) is deleted, a
  backfill Job for a range no longer in the spec is deleted;
* the status's last successful partition comes from the daily and backfill Jobs (a
  report Job loads no day; a failed one counts in failedJobs like any other);
* a backfill that already finished is never started again, even after its TTL removed
  the Job (the status remembers it);
* an invalid spec creates nothing and sets the Ready condition to False with the reason.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from k8s_platform import builders

SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp"


@dataclass(frozen=True)
class Action:
    verb: str  # create | replace | delete
    kind: str  # CronJob | Job
    name: str
    body: dict[str, Any] | None = None
    why: str = ""


@dataclass
class Plan:
    actions: list[Action] = field(default_factory=list)
    status: dict[str, Any] = field(default_factory=dict)
    phase: str = "Ready"
    valid: bool = True


# ------------------------------------------------------------------------- helpers
def quantity(value: Any) -> Decimal | None:
    """A Kubernetes quantity (1, "0.5", "500m", "1Gi", "1024Mi", "1e3") as a number."""
    m = _QUANTITY.fullmatch(str(value).strip())
    if m is None:
        return None
    number, suffix = Decimal(m["number"]), m["suffix"] or ""
    if suffix.startswith(("e", "E")):
        return number * Decimal(10) ** int(suffix[1:])
    return number * _SUFFIXES[suffix]


_QUANTITY = re.compile(r"(?P<number>[+-]?(\d+\.?\d*|\.\d+))(?P<suffix>[eE][+-]?\d+|[a-zA-Z]*)")
_SUFFIXES = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    **{s: Decimal(1024) ** (i + 1) for i, s in enumerate(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"))},
}


def _same_quantity(desired: Any, observed: Any) -> bool:
    a, b = quantity(desired), quantity(observed)
    return a is not None and a == b


def is_subset(desired: Any, observed: Any, path: tuple[str, ...] = ()) -> bool:
    """True when every field of `desired` has the same value in `observed`.

    The API server adds defaults (terminationMessagePath, dnsPolicy, ...) and its own
    labels; those are not drift. It also stores quantities in canonical form (`1` as
    "1", "0.5" as "500m", "1024Mi" as "1Gi"): under `resources.requests` and
    `resources.limits` values are compared as numbers. A field we set that is missing or
    different is drift.
    """
    if isinstance(desired, dict):
        return isinstance(observed, dict) and all(
            k in observed and is_subset(v, observed[k], (*path, k)) for k, v in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(observed, list)
            and len(desired) == len(observed)
            and all(is_subset(d, o, path) for d, o in zip(desired, observed, strict=True))
        )
    if desired == observed:
        return True
    return path[-3:-1] in (("resources", "requests"), ("resources", "limits")) and _same_quantity(
        desired, observed
    )


def _drifted(desired: dict[str, Any], observed: dict[str, Any]) -> bool:
    want_meta = {"labels": desired["metadata"].get("labels", {})}
    if "annotations" in desired["metadata"]:
        want_meta["annotations"] = desired["metadata"]["annotations"]
    return not (
        is_subset(want_meta, observed.get("metadata", {}))
        and is_subset(desired["spec"], observed.get("spec", {}))
    )


def _condition(job: dict[str, Any], kind: str) -> bool:
    return any(
        c.get("type") == kind and c.get("status") == "True"
        for c in (job.get("status") or {}).get("conditions") or []
    )


def job_finished(job: dict[str, Any]) -> bool:
    return _condition(job, "Complete") or _condition(job, "Failed")


def _indexes(text: str | None) -> list[int]:
    """Parse a Job's completedIndexes ("0-3,5") into a list of ints."""
    out: list[int] = []
    for part in (text or "").split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def _parse_time(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def _backfill_range(job: dict[str, Any]) -> tuple[dt.date, dt.date] | None:
    text = ((job.get("metadata") or {}).get("annotations") or {}).get(
        builders.ANNOTATION_PARTITIONS, ""
    )
    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})", text)
    return (dt.date.fromisoformat(m[1]), dt.date.fromisoformat(m[2])) if m else None


def successful_partitions(job: dict[str, Any], tz: str) -> list[tuple[str, dt.datetime | None]]:
    """(partition, finished at) for every day a Job loaded successfully."""
    status = job.get("status") or {}
    meta = job.get("metadata") or {}
    finished = _parse_time(status.get("completionTime"))
    rng = _backfill_range(job)
    if rng is not None:  # an Indexed backfill Job: each completed index is a day
        start, end = rng
        days = [start + dt.timedelta(days=i) for i in _indexes(status.get("completedIndexes"))]
        return [(d.isoformat(), finished) for d in days if d <= end]
    if not _condition(job, "Complete") or _component(job) == "report":
        return []  # a report Job loads no day
    scheduled = _parse_time((meta.get("annotations") or {}).get(SCHEDULED_TIMESTAMP))
    scheduled = scheduled or _parse_time(meta.get("creationTimestamp"))
    if scheduled is None:
        return []
    day = scheduled.astimezone(zoneinfo.ZoneInfo(tz)).date() - dt.timedelta(days=1)
    return [(day.isoformat(), finished)]


# --------------------------------------------------------------------------- status
def observed_status(
    pipeline: dict[str, Any], cronjob: dict[str, Any] | None, jobs: list[dict[str, Any]], tz: str
) -> dict[str, Any]:
    """Status fields from what the cluster holds: last schedule, active, failed, last success."""
    previous = pipeline.get("status") or {}
    active = sum(1 for j in jobs if not job_finished(j))
    failed = sum(1 for j in jobs if _condition(j, "Failed"))
    best: tuple[str, dt.datetime | None] | None = None
    for job in jobs:
        for day, finished in successful_partitions(job, tz):
            if best is None or day > best[0]:
                best = (day, finished)
    last_partition = previous.get("lastSuccessfulPartition")
    last_success_time = previous.get("lastSuccessTime")
    if best is not None and (last_partition is None or best[0] >= last_partition):
        last_partition = best[0]
        last_success_time = _iso(best[1]) or last_success_time
    cj_status = (cronjob or {}).get("status") or {}
    return {
        "lastScheduleTime": _iso(_parse_time(cj_status.get("lastScheduleTime")))
        or previous.get("lastScheduleTime"),
        "active": active,
        "failedJobs": failed,
        "lastSuccessfulPartition": last_partition,
        "lastSuccessTime": last_success_time,
    }


def condition(
    status: str, reason: str, message: str, now: dt.datetime, previous: dict[str, Any]
) -> dict[str, Any]:
    """The Ready condition; lastTransitionTime changes only when the status does."""
    old = next((c for c in previous.get("conditions") or [] if c.get("type") == "Ready"), None)
    since = old["lastTransitionTime"] if old and old.get("status") == status else _iso(now)
    return {
        "type": "Ready",
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": since,
    }


# ----------------------------------------------------------------------------- plan
def plan(
    pipeline: dict[str, Any],
    cronjobs: list[dict[str, Any]],
    jobs: list[dict[str, Any]],
    now: dt.datetime | None = None,
) -> Plan:
    """What to do so the cluster matches the pipeline, and the status to report."""
    now = now or dt.datetime.now(dt.UTC)
    meta = pipeline["metadata"]
    previous = pipeline.get("status") or {}
    generation = meta.get("generation")
    owned_by_me = [c for c in cronjobs if _owned(c, meta)]
    try:
        desired = builders.desired_children(pipeline)
    except builders.InvalidSpecError as exc:
        status = {
            **observed_status(pipeline, None, jobs, "UTC"),
            "phase": "Invalid",
            "observedGeneration": generation,
            "conditions": [condition("False", exc.reason, str(exc), now, previous)],
        }
        return Plan(actions=[], status=status, phase="Invalid", valid=False)

    spec = builders.with_defaults(pipeline.get("spec") or {})
    actions: list[Action] = []
    wanted = [c for c in desired if c["kind"] == "CronJob"]  # the daily one, the report's
    cronjob = wanted[0]
    report_cj = wanted[1] if len(wanted) > 1 else None
    observed_cj = None
    for want in wanted:
        name = want["metadata"]["name"]
        observed = next((c for c in owned_by_me if c["metadata"]["name"] == name), None)
        if want is cronjob:
            observed_cj = observed
        if observed is not None and observed["metadata"].get("deletionTimestamp"):
            pass  # wait for it to go; its DELETED event (or the timer) creates the new one
        elif observed is None:
            actions.append(Action("create", "CronJob", name, want, "missing"))
        elif _drifted(want, observed):
            # optimistic concurrency: replace only the version this plan looked at
            version = observed["metadata"].get("resourceVersion")
            body = {**want, "metadata": {**want["metadata"], "resourceVersion": version}}
            actions.append(Action("replace", "CronJob", name, body, "drifted"))
    wanted_names = {c["metadata"]["name"] for c in wanted}
    for other in owned_by_me:
        name = other["metadata"]["name"]
        if name not in wanted_names and not other["metadata"].get("deletionTimestamp"):
            actions.append(Action("delete", "CronJob", name, why="not desired"))

    backfill_jobs = [j for j in jobs if _owned(j, meta) and _component(j) == "backfill"]
    desired_job = next((c for c in desired if c["kind"] == "Job"), None)
    done = set(previous.get("completedBackfills") or [])
    for job in backfill_jobs:
        name = job["metadata"]["name"]
        if job_finished(job):
            done.add(name)
        obsolete = desired_job is None or name != desired_job["metadata"]["name"]
        if obsolete and not job_finished(job) and not job["metadata"].get("deletionTimestamp"):
            actions.append(Action("delete", "Job", name, why="backfill range no longer in spec"))
    backfill_phase = None
    if desired_job is not None:
        name = desired_job["metadata"]["name"]
        observed_job = next((j for j in backfill_jobs if j["metadata"]["name"] == name), None)
        if observed_job is None:
            if name not in done:
                actions.append(Action("create", "Job", name, desired_job, "missing"))
                backfill_phase = "Backfilling"
        elif observed_job["metadata"].get("deletionTimestamp"):
            backfill_phase = "Backfilling"  # re-created once the old one is gone
        elif not job_finished(observed_job):
            backfill_phase = "Backfilling"
            if _drifted(desired_job, observed_job):
                actions.append(
                    Action("delete", "Job", name, why="drifted (pod template is immutable)")
                )
                # the create may get 409 while the old Job is still being deleted: the
                # apply step then retries later (handlers.KubeCluster.create)
                actions.append(Action("create", "Job", name, desired_job, "drifted"))

    status = observed_status(
        pipeline, observed_cj, [j for j in jobs if _labelled(j, meta)], spec["timeZone"]
    )
    phase = backfill_phase or ("Suspended" if spec["suspend"] else "Ready")
    if status["failedJobs"]:
        phase = "Failing"
    message = (
        f"CronJob {cronjob['metadata']['name']} scheduled '{spec['schedule']}' ({spec['timeZone']})"
    )
    if report_cj is not None:
        message += (
            f"; CronJob {report_cj['metadata']['name']} scheduled "
            f"'{report_cj['spec']['schedule']}' ({report_cj['spec']['timeZone']})"
        )
    if desired_job is not None:
        message += f"; backfill Job {desired_job['metadata']['name']}"
    status.update(
        phase=phase,
        observedGeneration=generation,
        cronJob=cronjob["metadata"]["name"],
        reportCronJob=report_cj["metadata"]["name"] if report_cj else None,
        backfillJob=desired_job["metadata"]["name"] if desired_job else None,
        completedBackfills=sorted(done) or None,
        conditions=[condition("True", "Reconciled", message, now, previous)],
    )
    return Plan(actions=actions, status=status, phase=phase)


def _component(obj: dict[str, Any]) -> str | None:
    return ((obj.get("metadata") or {}).get("labels") or {}).get(builders.LABEL_COMPONENT)


def _owned(obj: dict[str, Any], meta: dict[str, Any]) -> bool:
    return any(
        ref.get("uid") == meta.get("uid")
        for ref in (obj.get("metadata") or {}).get("ownerReferences") or []
    )


def _labelled(obj: dict[str, Any], meta: dict[str, Any]) -> bool:
    return ((obj.get("metadata") or {}).get("labels") or {}).get(builders.LABEL_PIPELINE) == meta[
        "name"
    ]

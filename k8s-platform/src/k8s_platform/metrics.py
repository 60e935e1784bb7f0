"""The operator's Prometheus metrics (served by prometheus-client on :9090/metrics).

Alert rules in the chart (templates/prometheusrule.yaml) use these names; the promtool
unit tests in tests/ feed synthetic series with the same names.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

REGISTRY = CollectorRegistry(auto_describe=True)

RECONCILES = Counter(
    "etl_operator_reconciles",
    "Reconciles of EtlPipelines by result (ok, invalid, error).",
    ["result"],
    registry=REGISTRY,
)
RECONCILE_DURATION = Histogram(
    "etl_operator_reconcile_duration_seconds",
    "Time to reconcile one EtlPipeline (list children, apply actions, compute status).",
    registry=REGISTRY,
)
PIPELINES = Gauge(
    "etl_operator_pipelines",
    "EtlPipelines by phase (Ready, Backfilling, Suspended, Failing, Invalid).",
    ["phase"],
    registry=REGISTRY,
)
JOBS_FAILED = Gauge(
    "etl_pipeline_jobs_failed",
    "Failed Jobs of a pipeline still kept by the cluster (history limit / TTL).",
    ["namespace", "pipeline"],
    registry=REGISTRY,
)
LAST_SUCCESS = Gauge(
    "etl_pipeline_last_success_timestamp_seconds",
    "When the pipeline last loaded a partition (its creation time until the first success).",
    ["namespace", "pipeline"],
    registry=REGISTRY,
)
SUSPENDED = Gauge(
    "etl_pipeline_suspended",
    "1 when the pipeline's schedule is suspended (its staleness alert is silenced).",
    ["namespace", "pipeline"],
    registry=REGISTRY,
)

PHASES = ("Ready", "Backfilling", "Suspended", "Failing", "Invalid")
_phases: dict[tuple[str, str], str] = {}


def observe_pipeline(
    namespace: str, name: str, status: dict, created: str | None, suspended: bool
) -> None:
    """Export one pipeline's state after a reconcile."""
    _phases[(namespace, name)] = status.get("phase", "Ready")
    for phase in PHASES:
        PIPELINES.labels(phase).set(sum(1 for p in _phases.values() if p == phase))
    JOBS_FAILED.labels(namespace, name).set(status.get("failedJobs") or 0)
    SUSPENDED.labels(namespace, name).set(1 if suspended else 0)
    when = status.get("lastSuccessTime") or created
    if when:
        LAST_SUCCESS.labels(namespace, name).set(
            dt.datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp()
        )


def forget_pipeline(namespace: str, name: str) -> None:
    """Drop a deleted pipeline's series so no alert fires for it."""
    _phases.pop((namespace, name), None)
    for phase in PHASES:
        PIPELINES.labels(phase).set(sum(1 for p in _phases.values() if p == phase))
    for gauge in (JOBS_FAILED, LAST_SUCCESS, SUSPENDED):
        with contextlib.suppress(KeyError):
            gauge.remove(namespace, name)


class Timer:
    """Times a reconcile into the duration histogram."""

    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        RECONCILE_DURATION.observe(time.perf_counter() - self.start)


def serve(port: int) -> None:
    start_http_server(port, registry=REGISTRY)

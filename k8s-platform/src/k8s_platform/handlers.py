"""The kopf operator: thin handlers that list children, call `reconcile.plan` and apply it.

Run it with `kopf run -m k8s_platform.handlers --all-namespaces --liveness=http://0.0.0.0:8080/healthz`
(the chart's Deployment does). Every handler goes through `reconcile_pipeline`:

* create / update / resume of an EtlPipeline;
* a timer every $ETL_RECONCILE_INTERVAL seconds, which restores a child edited or
  deleted by hand;
* an event on a CronJob or Job the operator manages, which reconciles its pipeline at
  once (a deleted child comes back without waiting for the timer).

Deletion needs no handler: every child has an ownerReference to its pipeline, so the
garbage collector removes them; the delete handler only drops the pipeline's metrics.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Protocol

import kopf

from k8s_platform import builders, metrics, reconcile

PIPELINES = (builders.GROUP, builders.VERSION, builders.PLURAL)
MANAGED = {"app.kubernetes.io/managed-by": builders.MANAGED_BY}


class ClusterApi(Protocol):
    """The few API calls the operator makes (all on batch/v1 in the pipeline's namespace)."""

    def list_children(self, namespace: str, pipeline: str) -> tuple[list[dict], list[dict]]: ...
    def create(self, kind: str, namespace: str, body: dict) -> None: ...
    def replace(self, kind: str, namespace: str, name: str, body: dict) -> None: ...
    def delete(self, kind: str, namespace: str, name: str) -> None: ...


class KubeCluster:
    """ClusterApi on the official kubernetes client (in-cluster or kubeconfig).

    Against a real API server (tests/test_cluster.py runs it on one):

    * a create that gets 409 (the name exists: a Job still being deleted after a
      delete-then-create, or a concurrent reconcile) raises `kopf.TemporaryError`, so
      kopf runs the handler again and the next plan sees what is really there;
    * a replace sends the resourceVersion the plan observed: a stale one gets 409 and
      is retried the same way, never written over blindly;
    * only CronJobs are replaced (a Job's pod template is immutable: the plan deletes and
      re-creates a drifted Job);
    * deletes are asynchronous (`propagationPolicy: Background`), 404 means done.
    """

    RETRY_DELAY = 2.0

    def __init__(self) -> None:
        from kubernetes import client, config

        try:
            config.load_incluster_config()
        except config.ConfigException:
            # $KUBECONFIG as it is now (the client's default is read once, at its import)
            config.load_kube_config(config_file=os.environ.get("KUBECONFIG"))
        self._client = client.ApiClient()
        self.batch = client.BatchV1Api(self._client)

    def _dicts(self, items: list[Any]) -> list[dict]:
        out = []
        for item, kind in items:
            obj = self._client.sanitize_for_serialization(item)
            obj.setdefault("kind", kind)
            out.append(obj)
        return out

    def list_children(self, namespace: str, pipeline: str) -> tuple[list[dict], list[dict]]:
        selector = f"{builders.LABEL_PIPELINE}={pipeline}"
        cronjobs = self.batch.list_namespaced_cron_job(namespace, label_selector=selector).items
        jobs = self.batch.list_namespaced_job(namespace, label_selector=selector).items
        return (
            self._dicts([(c, "CronJob") for c in cronjobs]),
            self._dicts([(j, "Job") for j in jobs]),
        )

    def create(self, kind: str, namespace: str, body: dict) -> None:
        from kubernetes.client.exceptions import ApiException

        create = (
            self.batch.create_namespaced_cron_job
            if kind == "CronJob"
            else self.batch.create_namespaced_job
        )
        try:
            create(namespace, body)
        except ApiException as exc:
            if exc.status == 409:
                raise kopf.TemporaryError(
                    f"{kind} {namespace}/{body['metadata']['name']} exists (being deleted, or "
                    "created meanwhile): reconciling again",
                    delay=self.RETRY_DELAY,
                ) from exc
            raise

    def replace(self, kind: str, namespace: str, name: str, body: dict) -> None:
        from kubernetes.client.exceptions import ApiException

        if kind != "CronJob":
            raise ValueError(f"{kind} is not replaced (its pod template is immutable)")
        if not body["metadata"].get("resourceVersion"):
            raise ValueError("replace needs the resourceVersion the plan observed")
        try:
            self.batch.replace_namespaced_cron_job(name, namespace, body)
        except ApiException as exc:
            if exc.status in (404, 409):
                raise kopf.TemporaryError(
                    f"{kind} {namespace}/{name} changed or vanished since it was read: "
                    "reconciling again",
                    delay=self.RETRY_DELAY,
                ) from exc
            raise

    def delete(self, kind: str, namespace: str, name: str) -> None:
        from kubernetes import client

        opts = client.V1DeleteOptions(propagation_policy="Background")
        delete = (
            self.batch.delete_namespaced_cron_job
            if kind == "CronJob"
            else self.batch.delete_namespaced_job
        )
        try:
            delete(name, namespace, body=opts)
        except client.exceptions.ApiException as exc:
            if exc.status != 404:  # already gone
                raise


def reconcile_pipeline(
    body: dict[str, Any], api: ClusterApi, logger: logging.Logger
) -> reconcile.Plan:
    """List, plan, apply; return the plan (its status is what the handler patches)."""
    meta = body["metadata"]
    namespace, name = meta["namespace"], meta["name"]
    with metrics.Timer():
        try:
            cronjobs, jobs = api.list_children(namespace, name)
            result = reconcile.plan(body, cronjobs, jobs)
            for action in result.actions:
                logger.info("%s %s/%s (%s)", action.verb, action.kind, action.name, action.why)
                if action.verb == "create":
                    api.create(action.kind, namespace, action.body)
                elif action.verb == "replace":
                    api.replace(action.kind, namespace, action.name, action.body)
                else:
                    api.delete(action.kind, namespace, action.name)
        except Exception:
            metrics.RECONCILES.labels("error").inc()
            raise
    metrics.RECONCILES.labels("ok" if result.valid else "invalid").inc()
    spec = builders.with_defaults(body.get("spec") or {})
    metrics.observe_pipeline(
        namespace, name, result.status, meta.get("creationTimestamp"), bool(spec["suspend"])
    )
    if not result.valid:
        logger.warning("invalid spec: %s", result.status["conditions"][0]["message"])
    return result


def _apply(body: Any, patch: kopf.Patch, memo: kopf.Memo, logger: logging.Logger) -> None:
    result = reconcile_pipeline(dict(body), memo.api, logger)
    current = dict(body.get("status") or {})
    changed = {k: v for k, v in result.status.items() if current.get(k) != v}
    for key, value in changed.items():
        patch.status[key] = value


# ------------------------------------------------------------------------ handlers
@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    settings.posting.level = logging.WARNING  # Events for warnings (an invalid spec) only
    # Least privilege: no cluster-wide watch of CRDs and Namespaces (the RBAC has none).
    settings.scanning.disabled = True
    settings.persistence.finalizer = f"{builders.GROUP}/operator"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=builders.GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=builders.GROUP)
    if getattr(memo, "api", None) is None:
        memo.api = KubeCluster()
    port = int(os.environ.get("ETL_METRICS_PORT", "9090"))
    if port:
        metrics.serve(port)


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """In-cluster service account first, else $KUBECONFIG as it is now (kopf's own loaders;
    the kubernetes client's default kubeconfig path is fixed when it is imported)."""
    return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)


@kopf.on.resume(*PIPELINES)
@kopf.on.create(*PIPELINES)
@kopf.on.update(*PIPELINES)
def on_change(
    body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, logger: logging.Logger, **_: Any
) -> None:
    _apply(body, patch, memo, logger)


@kopf.timer(
    *PIPELINES,
    interval=float(os.environ.get("ETL_RECONCILE_INTERVAL", "60")),
    idle=float(os.environ.get("ETL_RECONCILE_IDLE", "10")),
)
def on_timer(
    body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, logger: logging.Logger, **_: Any
) -> None:
    _apply(body, patch, memo, logger)


@kopf.index(*PIPELINES)
def pipelines_by_name(namespace: str, name: str, body: kopf.Body, **_: Any) -> dict:
    """An in-memory index of the pipelines, so a child's event finds its owner's body."""
    return {(namespace, name): dict(body)}


@kopf.on.event("batch", "v1", "cronjobs", labels=MANAGED)
@kopf.on.event("batch", "v1", "jobs", labels=MANAGED)
def on_child_event(
    body: kopf.Body,
    type: str | None,
    memo: kopf.Memo,
    pipelines_by_name: kopf.Index,
    logger: logging.Logger,
    **_: Any,
) -> None:
    """A child the operator created was edited or deleted: reconcile its pipeline now."""
    if type not in ("DELETED", "MODIFIED"):
        return
    for owner in body.metadata.get("ownerReferences") or []:
        if owner.get("kind") != builders.KIND:
            continue  # a Job made by the CronJob: the pipeline's timer reads its status
        for pipeline in pipelines_by_name.get((body.metadata.namespace, owner["name"]), []):
            if not pipeline["metadata"].get("deletionTimestamp"):
                reconcile_pipeline(pipeline, memo.api, logger)


@kopf.on.delete(*PIPELINES, optional=True)
def on_delete(body: kopf.Body, **_: Any) -> None:
    metrics.forget_pipeline(body.metadata.namespace, body.metadata.name)

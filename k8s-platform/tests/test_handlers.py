"""The kopf handlers on real kopf objects (Body, Patch, Memo) against an in-memory store.

Fast unit tests of the handlers' logic. `Store` implements the four batch/v1 calls of
`handlers.ClusterApi` and enforces only this much of the API server's behaviour: names
are unique per kind (409 on create), a replace must carry the current resourceVersion
(409 when stale or missing; 404 when the object is gone), a Job is never replaced (422:
its pod template is immutable), list filters by the pipeline label, and
`collect_garbage` removes objects whose owners are all gone. It does NOT do: CRD schema
validation, defaulting or pruning, quantity canonicalization, asynchronous deletion,
finalizers, the status subresource, watch events or RBAC. Those are tested against a real
kube-apiserver in test_cluster.py.
"""

from __future__ import annotations

import copy
import itertools
import logging
import uuid

import kopf
import pytest
from k8s_platform import builders, handlers, metrics

from .conftest import pipeline

LOG = logging.getLogger("test")


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        self.status = status
        super().__init__(f"{status}: {message}")


class Store:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], dict] = {}
        self._rv = itertools.count(1)
        self.calls: list[tuple[str, str, str]] = []

    def _put(self, kind: str, namespace: str, obj: dict) -> None:
        obj["metadata"]["resourceVersion"] = str(next(self._rv))
        self.objects[(kind, namespace, obj["metadata"]["name"])] = obj

    def list_children(self, namespace: str, pipeline: str) -> tuple[list[dict], list[dict]]:
        def match(kind: str) -> list[dict]:
            return [
                copy.deepcopy(o)
                for (k, ns, _), o in sorted(self.objects.items())
                if k == kind
                and ns == namespace
                and o["metadata"].get("labels", {}).get(builders.LABEL_PIPELINE) == pipeline
            ]

        return match("CronJob"), match("Job")

    def create(self, kind: str, namespace: str, body: dict) -> None:
        self.calls.append(("create", kind, body["metadata"]["name"]))
        if (kind, namespace, body["metadata"]["name"]) in self.objects:
            raise ApiError(409, "AlreadyExists")
        obj = copy.deepcopy(body)
        obj["metadata"].update(uid=str(uuid.uuid4()), creationTimestamp="2026-01-10T00:00:00Z")
        obj["status"] = {}
        self._put(kind, namespace, obj)

    def replace(self, kind: str, namespace: str, name: str, body: dict) -> None:
        self.calls.append(("replace", kind, name))
        current = self.objects.get((kind, namespace, name))
        if current is None:
            raise ApiError(404, "NotFound")
        if kind == "Job":
            raise ApiError(422, "Job spec.template is immutable")
        if body["metadata"].get("resourceVersion") != current["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict: the object has been modified")
        obj = copy.deepcopy(body)
        obj["metadata"].update(
            uid=current["metadata"]["uid"],
            creationTimestamp=current["metadata"]["creationTimestamp"],
        )
        obj["status"] = current.get("status", {})
        self._put(kind, namespace, obj)

    def delete(self, kind: str, namespace: str, name: str) -> None:
        self.calls.append(("delete", kind, name))
        if self.objects.pop((kind, namespace, name), None) is None:
            raise ApiError(404, "NotFound")

    def collect_garbage(self, live_uids: set[str]) -> None:
        """What the garbage collector does once an owner is gone."""
        for key, obj in list(self.objects.items()):
            owners = {r["uid"] for r in obj["metadata"].get("ownerReferences", [])}
            if owners and not owners & (
                live_uids | {o["metadata"]["uid"] for o in self.objects.values()}
            ):
                del self.objects[key]


@pytest.fixture
def store() -> Store:
    return Store()


def handle(body: dict, store: Store) -> kopf.Patch:
    """Call the create/update handler the way kopf does, and apply its status patch."""
    patch = kopf.Patch()
    handlers.on_change(body=kopf.Body(body), patch=patch, memo=kopf.Memo(api=store), logger=LOG)
    body.setdefault("status", {}).update(patch.get("status", {}))
    return patch


def test_create_handler_creates_the_cronjob_and_reports_status(example, store):
    patch = handle(example, store)
    cj = store.objects[("CronJob", "etl", "flights-daily-daily")]
    assert cj["spec"]["schedule"] == "0 6 * * *"
    assert patch["status"]["phase"] == "Ready"
    assert patch["status"]["conditions"][0]["status"] == "True"
    assert patch["status"]["cronJob"] == "flights-daily-daily"


def test_second_reconcile_changes_nothing(example, store):
    handle(example, store)
    store.calls.clear()
    patch = handle(example, store)
    assert store.calls == []
    assert "status" not in patch  # nothing changed, nothing patched


def test_update_handler_reconciles_the_children(example, store):
    handle(example, store)
    example["spec"]["schedule"] = "15 3 * * *"
    example["spec"]["backfill"] = {"start": "2013-01-01", "end": "2013-01-05", "parallelism": 2}
    handle(example, store)
    assert (
        store.objects[("CronJob", "etl", "flights-daily-daily")]["spec"]["schedule"] == "15 3 * * *"
    )
    job = store.objects[("Job", "etl", "flights-daily-backfill-20130101-20130105")]
    assert job["spec"]["completions"] == 5
    assert example["status"]["phase"] == "Backfilling"


def test_timer_restores_a_child_deleted_or_edited_by_hand(example, store):
    handle(example, store)
    store.delete("CronJob", "etl", "flights-daily-daily")
    handlers.on_timer(
        body=kopf.Body(example), patch=kopf.Patch(), memo=kopf.Memo(api=store), logger=LOG
    )
    cj = store.objects[("CronJob", "etl", "flights-daily-daily")]
    cj["spec"]["suspend"] = True  # kubectl edit
    handlers.on_timer(
        body=kopf.Body(example), patch=kopf.Patch(), memo=kopf.Memo(api=store), logger=LOG
    )
    assert store.objects[("CronJob", "etl", "flights-daily-daily")]["spec"]["suspend"] is False


def test_child_event_reconciles_the_owner_at_once(example, store):
    handle(example, store)
    deleted = store.objects.pop(("CronJob", "etl", "flights-daily-daily"))
    index = {("etl", "flights-daily"): [example]}
    handlers.on_child_event(
        body=kopf.Body(deleted),
        type="DELETED",
        memo=kopf.Memo(api=store),
        pipelines_by_name=index,
        logger=LOG,
    )
    assert ("CronJob", "etl", "flights-daily-daily") in store.objects


def test_report_cronjob_is_created_restored_and_removed_with_the_report(example, store):
    key = ("CronJob", "etl", "flights-daily-carrier-report-monthly")
    patch = handle(example, store)
    assert store.objects[key]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0][
        "args"
    ] == ["--month", "last"]
    assert patch["status"]["reportCronJob"] == key[2]
    deleted = store.objects.pop(key)  # kubectl delete: its event brings it back
    handlers.on_child_event(
        body=kopf.Body(deleted),
        type="DELETED",
        memo=kopf.Memo(api=store),
        pipelines_by_name={("etl", "flights-daily"): [example]},
        logger=LOG,
    )
    assert key in store.objects
    store.calls.clear()
    example["spec"]["report"]["enabled"] = False
    handle(example, store)
    assert store.calls == [("delete", "CronJob", key[2])]
    assert example["status"]["reportCronJob"] is None
    assert ("CronJob", "etl", "flights-daily-daily") in store.objects


def test_invalid_spec_sets_condition_and_creates_nothing(store):
    body = pipeline({"image": "etl:1", "schedule": "0 2 * * *", "timeZone": "Europe/Atlantis"})
    before = metrics.RECONCILES.labels("invalid")._value.get()
    patch = handle(body, store)
    assert store.objects == {}
    cond = patch["status"]["conditions"][0]
    assert (cond["status"], cond["reason"]) == ("False", "UnknownTimeZone")
    assert "Europe/Atlantis" in cond["message"]
    assert patch["status"]["phase"] == "Invalid"
    assert metrics.RECONCILES.labels("invalid")._value.get() == before + 1


def test_deleting_the_pipeline_lets_the_garbage_collector_remove_children(example, store):
    example["spec"]["backfill"] = {"start": "2013-01-01", "end": "2013-01-02"}
    handle(example, store)
    assert sorted(name for _, _, name in store.objects) == [
        "flights-daily-backfill-20130101-20130102",
        "flights-daily-carrier-report-monthly",
        "flights-daily-daily",
    ]
    handlers.on_delete(body=kopf.Body(example))
    store.collect_garbage(live_uids=set())
    assert store.objects == {}


def test_api_error_is_counted_and_raised_for_kopf_to_retry(example, store):
    def broken(*_a, **_k):
        raise ApiError(500, "etcd timeout")

    store.create = broken
    before = metrics.RECONCILES.labels("error")._value.get()
    with pytest.raises(ApiError):
        handle(example, store)
    assert metrics.RECONCILES.labels("error")._value.get() == before + 1


def test_replace_sends_the_resource_version_it_planned_on(example, store):
    handle(example, store)
    key = ("CronJob", "etl", "flights-daily-daily")
    planned = store.objects[key]["metadata"]["resourceVersion"]
    example["spec"]["schedule"] = "15 3 * * *"
    handle(example, store)
    assert store.objects[key]["metadata"]["resourceVersion"] != planned
    # a stale version is refused, never written over
    stale = copy.deepcopy(store.objects[key])
    stale["metadata"]["resourceVersion"] = planned
    with pytest.raises(ApiError) as err:
        store.replace("CronJob", "etl", "flights-daily-daily", stale)
    assert err.value.status == 409


def test_canonical_quantities_stored_by_the_server_are_not_drift(example, store):
    example["spec"]["resources"] = {
        "requests": {"cpu": "0.5", "memory": "1024Mi"},
        "limits": {"cpu": 1, "memory": "1.5Gi"},
    }
    handle(example, store)
    cj = store.objects[("CronJob", "etl", "flights-daily-daily")]
    # what kube-apiserver stores for those values
    cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["resources"] = {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "1", "memory": "1536Mi"},
    }
    store.calls.clear()
    handle(example, store)
    assert store.calls == []


def test_metrics_export_phase_failed_jobs_and_last_success(example, store):
    handle(example, store)
    failed = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "flights-daily-daily-9",
            "labels": builders.labels("flights-daily", "daily"),
        },
        "spec": {},
        "status": {"conditions": [{"type": "Failed", "status": "True"}]},
    }
    store._put("Job", "etl", failed)
    handle(example, store)
    text = metrics_text()
    assert 'etl_pipeline_jobs_failed{namespace="etl",pipeline="flights-daily"} 1.0' in text
    assert 'etl_operator_pipelines{phase="Failing"}' in text
    # no success yet: the creation time stands in, so "no success for a day" can fire
    assert (
        'etl_pipeline_last_success_timestamp_seconds{namespace="etl",pipeline="flights-daily"} 1.7672256e+09'
        in text
    )
    assert "etl_operator_reconcile_duration_seconds_count" in text


def metrics_text() -> str:
    from prometheus_client import generate_latest

    return generate_latest(metrics.REGISTRY).decode()

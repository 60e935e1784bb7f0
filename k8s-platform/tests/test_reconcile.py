"""Reconcile as a pure function of (pipeline, observed children): actions and status."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from k8s_platform import builders, reconcile

from .conftest import pipeline

NOW = dt.datetime(2026, 1, 10, 12, 0, tzinfo=dt.UTC)


def served(manifest: dict) -> dict:
    """The object as the API server returns it: its defaults and bookkeeping added."""
    obj = copy.deepcopy(manifest)
    obj["metadata"].update(
        uid="child-uid", resourceVersion="7", creationTimestamp="2026-01-01T00:00:00Z"
    )
    obj["metadata"]["labels"] = {
        **obj["metadata"]["labels"],
        "batch.kubernetes.io/controller-uid": "x",
    }
    tmpl = (
        obj["spec"]["jobTemplate"]["spec"]["template"]
        if obj["kind"] == "CronJob"
        else obj["spec"]["template"]
    )
    tmpl["spec"].update(
        dnsPolicy="ClusterFirst",
        schedulerName="default-scheduler",
        terminationGracePeriodSeconds=30,
    )
    tmpl["spec"]["containers"][0].update(terminationMessagePath="/dev/termination-log")
    obj["status"] = {}
    return obj


def cronjobs(body: dict) -> list[dict]:
    """Both CronJobs of the pipeline (the daily one, the report's) as the server holds them."""
    return [served(c) for c in builders.desired_children(body) if c["kind"] == "CronJob"]


def job_done(
    name: str, scheduled: str, *, ok: bool = True, completed: str = "2026-01-09T06:10:00Z"
) -> dict:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "labels": builders.labels("flights-daily", "daily"),
            "annotations": {reconcile.SCHEDULED_TIMESTAMP: scheduled},
            "ownerReferences": [
                {"kind": "CronJob", "name": "flights-daily-daily", "uid": "child-uid"}
            ],
        },
        "status": {
            "conditions": [{"type": "Complete" if ok else "Failed", "status": "True"}],
            **({"completionTime": completed} if ok else {}),
        },
    }


def test_create_makes_the_cronjob(example):
    result = reconcile.plan(example, [], [], NOW)
    assert [(a.verb, a.kind, a.name) for a in result.actions] == [
        ("create", "CronJob", "flights-daily-daily"),
        ("create", "CronJob", "flights-daily-carrier-report-monthly"),
    ]
    assert result.actions[0].body == builders.build_cronjob(example)
    assert result.actions[1].body == builders.build_report_cronjob(example)
    assert result.phase == "Ready"
    cond = result.status["conditions"][0]
    assert (cond["status"], cond["reason"]) == ("True", "Reconciled")


def test_in_sync_children_need_no_action(example):
    assert reconcile.plan(example, cronjobs(example), [], NOW).actions == []


def test_update_of_the_spec_replaces_the_cronjob(example):
    changed = pipeline({**example["spec"], "schedule": "30 4 * * *", "suspend": True}, generation=2)
    result = reconcile.plan(changed, cronjobs(example), [], NOW)
    daily, report = result.actions
    assert (daily.verb, daily.kind, daily.name) == ("replace", "CronJob", "flights-daily-daily")
    assert daily.body["spec"]["schedule"] == "30 4 * * *"
    assert daily.body["spec"]["suspend"] is True
    # the report follows the pipeline's suspend (its schedule is its own)
    assert (report.verb, report.name) == ("replace", "flights-daily-carrier-report-monthly")
    assert report.body["spec"]["suspend"] is True
    assert report.body["spec"]["schedule"] == "0 7 1 * *"
    assert result.phase == "Suspended"
    assert result.status["observedGeneration"] == 2


def test_cronjob_edited_by_hand_is_restored(example):
    cj, report = cronjobs(example)
    cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"] = "evil:latest"
    (action,) = reconcile.plan(example, [cj, report], [], NOW).actions
    assert action.verb == "replace"
    assert (
        action.body["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"]
        == example["spec"]["image"]
    )


def test_label_removed_by_hand_is_drift(example):
    cj, report = cronjobs(example)
    del cj["metadata"]["labels"][builders.LABEL_PIPELINE]
    assert [a.verb for a in reconcile.plan(example, [cj, report], [], NOW).actions] == ["replace"]


def test_deleted_cronjob_is_recreated(example):
    _, report = cronjobs(example)
    result = reconcile.plan(
        example, [report], [job_done("flights-daily-daily-1", "2026-01-09T11:00:00Z")], NOW
    )
    assert [(a.verb, a.kind, a.name) for a in result.actions] == [
        ("create", "CronJob", "flights-daily-daily")
    ]


def test_cronjob_of_another_owner_is_left_alone(example):
    foreign = served(builders.build_cronjob(example))
    foreign["metadata"]["ownerReferences"][0]["uid"] = "someone-else"
    foreign["metadata"]["name"] = "other-daily"
    actions = reconcile.plan(example, [foreign, *cronjobs(example)[1:]], [], NOW).actions
    assert [(a.verb, a.name) for a in actions] == [("create", "flights-daily-daily")]


def test_backfill_is_created_once_and_not_rerun_after_ttl(example):
    body = pipeline({**example["spec"], "backfill": {"start": "2013-01-01", "end": "2013-01-03"}})
    cj = cronjobs(body)
    first = reconcile.plan(body, cj, [], NOW)
    assert [(a.verb, a.kind) for a in first.actions] == [("create", "Job")]
    assert first.phase == "Backfilling"
    job = served(builders.build_backfill_job(body))
    job["status"] = {
        "completedIndexes": "0-2",
        "conditions": [{"type": "Complete", "status": "True"}],
        "completionTime": "2026-01-10T11:00:00Z",
    }
    done = reconcile.plan(body, cj, [job], NOW)
    assert done.actions == []
    assert done.status["completedBackfills"] == [job["metadata"]["name"]]
    assert done.status["lastSuccessfulPartition"] == "2013-01-03"
    # the TTL controller removed the finished Job: the status remembers, nothing is re-run
    body["status"] = done.status
    assert reconcile.plan(body, cj, [], NOW).actions == []


def test_changed_backfill_range_replaces_the_running_job(example):
    old = pipeline({**example["spec"], "backfill": {"start": "2013-01-01", "end": "2013-01-03"}})
    running = served(builders.build_backfill_job(old))
    running["status"] = {"active": 2}
    new = pipeline({**example["spec"], "backfill": {"start": "2013-02-01", "end": "2013-02-03"}})
    actions = reconcile.plan(new, cronjobs(new), [running], NOW).actions
    assert [(a.verb, a.name) for a in actions] == [
        ("delete", "flights-daily-backfill-20130101-20130103"),
        ("create", "flights-daily-backfill-20130201-20130203"),
    ]


def test_running_backfill_with_drifted_template_is_recreated(example):
    body = pipeline({**example["spec"], "backfill": {"start": "2013-01-01", "end": "2013-01-03"}})
    job = served(builders.build_backfill_job(body))
    job["spec"]["parallelism"] = 1
    assert [a.verb for a in reconcile.plan(body, cronjobs(body), [job], NOW).actions] == [
        "delete",
        "create",
    ]


def test_status_reports_last_schedule_active_failed_and_last_success(example):
    cj = served(builders.build_cronjob(example))
    cj["status"] = {"lastScheduleTime": "2026-01-10T11:00:00Z", "active": [{"name": "j3"}]}
    jobs = [
        # scheduled 06:00 New York on Jan 8 and Jan 9 -> partitions Jan 7 and Jan 8
        job_done("flights-daily-daily-1", "2026-01-08T11:00:00Z", completed="2026-01-08T11:05:00Z"),
        job_done("flights-daily-daily-2", "2026-01-09T11:00:00Z", completed="2026-01-09T11:04:00Z"),
        job_done("flights-daily-daily-3", "2026-01-10T11:00:00Z", ok=False),
        {**job_done("flights-daily-daily-4", "2026-01-10T11:30:00Z"), "status": {"active": 1}},
    ]
    result = reconcile.plan(example, [cj], jobs, NOW)
    assert result.status["lastScheduleTime"] == "2026-01-10T11:00:00Z"
    assert result.status["active"] == 1
    assert result.status["failedJobs"] == 1
    assert result.status["lastSuccessfulPartition"] == "2026-01-08"
    assert result.status["lastSuccessTime"] == "2026-01-09T11:04:00Z"
    assert result.phase == "Failing"


def test_report_cronjob_is_deleted_when_the_report_is_disabled_or_removed(example):
    children = cronjobs(example)
    for report in ({"enabled": False}, None):
        spec = {k: v for k, v in example["spec"].items() if k != "report"}
        if report is not None:
            spec["report"] = report
        result = reconcile.plan(pipeline(spec, generation=2), children, [], NOW)
        assert [(a.verb, a.kind, a.name) for a in result.actions] == [
            ("delete", "CronJob", "flights-daily-carrier-report-monthly")
        ]
        assert result.status["reportCronJob"] is None
    # one already being deleted is not deleted again
    children[1]["metadata"]["deletionTimestamp"] = "2026-01-10T11:59:00Z"
    assert reconcile.plan(pipeline({**spec}), children, [], NOW).actions == []


def test_a_report_job_is_no_loaded_day_but_its_failure_counts(example):
    report = builders.labels("flights-daily", "report")
    done = job_done("flights-daily-carrier-report-monthly-1", "2026-02-01T12:00:00Z")
    done["metadata"]["labels"] = report
    result = reconcile.plan(example, cronjobs(example), [done], NOW)
    assert result.status["lastSuccessfulPartition"] is None
    assert result.status["reportCronJob"] == "flights-daily-carrier-report-monthly"
    assert result.phase == "Ready"
    failed = job_done("flights-daily-carrier-report-monthly-2", "2026-03-01T12:00:00Z", ok=False)
    failed["metadata"]["labels"] = report
    result = reconcile.plan(example, cronjobs(example), [done, failed], NOW)
    assert (result.status["failedJobs"], result.phase) == (1, "Failing")
    assert "flights-daily-carrier-report-monthly" in result.status["conditions"][0]["message"]


def test_yesterday_is_taken_in_the_pipeline_time_zone(example):
    # 03:00 UTC on Jan 10 is still Jan 9 in New York: the run loaded Jan 8
    ((day, _),) = reconcile.successful_partitions(
        job_done("j", "2026-01-10T03:00:00Z"), "America/New_York"
    )
    assert day == "2026-01-08"
    ((day, _),) = reconcile.successful_partitions(job_done("j", "2026-01-10T03:00:00Z"), "UTC")
    assert day == "2026-01-09"


def test_condition_keeps_its_transition_time_while_unchanged(example):
    first = reconcile.plan(example, [], [], NOW)
    example["status"] = first.status
    later = reconcile.plan(example, [], [], NOW + dt.timedelta(hours=1))
    assert later.status["conditions"][0]["lastTransitionTime"] == "2026-01-10T12:00:00Z"
    broken = pipeline({**example["spec"], "timeZone": "Nowhere/Else"}, status=later.status)
    flipped = reconcile.plan(broken, [], [], NOW + dt.timedelta(hours=2))
    assert flipped.status["conditions"][0]["lastTransitionTime"] == "2026-01-10T14:00:00Z"


def test_indexes_parser_reads_kubernetes_interval_notation():
    assert reconcile._indexes("0-3,5,7-8") == [0, 1, 2, 3, 5, 7, 8]
    assert reconcile._indexes("") == []


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        (1, "1"),
        ("0.5", "500m"),
        ("1024Mi", "1Gi"),
        ("1.5Gi", "1536Mi"),
        ("2e9", "2G"),
        ("250m", "0.25"),
    ],
)
def test_quantities_in_every_form_the_crd_accepts_equal_their_canonical_form(given, stored):
    assert reconcile.quantity(given) == reconcile.quantity(stored)
    assert reconcile.is_subset(
        {"resources": {"limits": {"cpu": given}}}, {"resources": {"limits": {"cpu": stored}}}
    )


def test_a_changed_quantity_is_drift_and_numbers_elsewhere_are_compared_exactly():
    assert not reconcile.is_subset(
        {"resources": {"limits": {"memory": "1Gi"}}}, {"resources": {"limits": {"memory": "1G"}}}
    )
    assert not reconcile.is_subset({"schedule": "0.5"}, {"schedule": "500m"})

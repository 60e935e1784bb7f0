"""The pure builders: an EtlPipeline spec in, strictly valid CronJob / Indexed Job out."""

from __future__ import annotations

import copy

import jsonschema
import kubernetes_validate
import pytest
import yaml
from k8s_platform import builders, reconcile

from .conftest import EXAMPLES, crd_schema, pipeline, validate_k8s


def test_cronjob_carries_every_field_of_the_spec(example):
    cj = builders.build_cronjob(example)
    spec = cj["spec"]
    assert cj["metadata"]["name"] == "flights-daily-daily"
    assert spec["schedule"] == "0 6 * * *"
    assert spec["timeZone"] == "America/New_York"
    assert spec["suspend"] is False
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["startingDeadlineSeconds"] == 600
    assert spec["successfulJobsHistoryLimit"] == 3
    assert spec["failedJobsHistoryLimit"] == 3
    job = spec["jobTemplate"]["spec"]
    assert job["backoffLimit"] == 3
    assert job["activeDeadlineSeconds"] == 3600
    assert job["ttlSecondsAfterFinished"] == 86400
    assert job["podFailurePolicy"]["rules"][0] == {
        "action": "FailJob",
        "onExitCodes": {
            "containerName": "etl",
            "operator": "In",
            "values": [builders.EXIT_BAD_ARGS, builders.EXIT_NOT_RETRYABLE],
        },
    }
    pod = job["template"]["spec"]
    (c,) = pod["containers"]
    assert c["command"] == ["etl-k8s-job"]
    assert c["args"] == ["--date", "yesterday"]
    env = {e["name"]: e for e in c["env"]}
    assert env["ETL_TIMEZONE"]["value"] == "America/New_York"
    assert env["ETL_RETRY_DELAY_SECONDS"]["value"] == "30"
    assert env["WAREHOUSE_URL"]["valueFrom"] == {
        "secretKeyRef": {"name": "etl-warehouse", "key": "WAREHOUSE_URL"}
    }
    assert c["resources"] == {
        "requests": {"cpu": "250m", "memory": "512Mi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    }
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "etl-data"}} in pod["volumes"]
    assert pod["restartPolicy"] == "Never"
    validate_k8s(cj)


def test_report_cronjob_runs_last_month_with_the_daily_job_settings(example):
    daily, report = (c for c in builders.desired_children(example) if c["kind"] == "CronJob")
    assert report["metadata"]["name"] == "flights-daily-carrier-report-monthly"
    assert report["metadata"]["labels"][builders.LABEL_COMPONENT] == "report"
    assert report["metadata"]["ownerReferences"] == daily["metadata"]["ownerReferences"]
    spec = report["spec"]
    assert (spec["schedule"], spec["timeZone"], spec["suspend"]) == (
        "0 7 1 * *",
        "America/New_York",
        False,
    )
    (c,) = spec["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert c["command"] == builders.JOB_COMMAND
    assert c["args"] == ["--month", "last"]
    # everything but the schedule, the labels and the command's arguments is the daily one's
    for key in (
        "concurrencyPolicy",
        "startingDeadlineSeconds",
        "successfulJobsHistoryLimit",
        "failedJobsHistoryLimit",
    ):
        assert spec[key] == daily["spec"][key], key
    rj, dj = spec["jobTemplate"]["spec"], daily["spec"]["jobTemplate"]["spec"]
    for key in ("backoffLimit", "activeDeadlineSeconds", "ttlSecondsAfterFinished"):
        assert rj[key] == dj[key], key
    assert rj["podFailurePolicy"] == dj["podFailurePolicy"]  # exit 2 and 3 fail at once
    (dc,) = dj["template"]["spec"]["containers"]
    assert {k: v for k, v in c.items() if k != "args"} == {
        k: v for k, v in dc.items() if k != "args"
    }
    assert rj["template"]["spec"]["volumes"] == dj["template"]["spec"]["volumes"]
    validate_k8s(report)


def test_report_time_zone_and_suspend_follow_the_pipeline_unless_set(example):
    spec = {**example["spec"], "timeZone": "Asia/Tokyo", "suspend": True, "report": {}}
    report = builders.build_report_cronjob(pipeline(spec))
    assert (report["spec"]["timeZone"], report["spec"]["suspend"]) == ("Asia/Tokyo", True)
    env = report["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "ETL_TIMEZONE", "value": "Asia/Tokyo"} in env  # "last month" in Tokyo
    spec["report"] = {"timeZone": "UTC", "suspend": False, "schedule": "@monthly"}
    report = builders.build_report_cronjob(pipeline(spec))
    assert (report["spec"]["schedule"], report["spec"]["timeZone"]) == ("@monthly", "UTC")
    assert report["spec"]["suspend"] is False
    env = report["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "ETL_TIMEZONE", "value": "UTC"} in env


def test_no_report_cronjob_without_an_enabled_report(example):
    for report in (None, {"enabled": False}):
        spec = {k: v for k, v in example["spec"].items() if k != "report"}
        if report is not None:
            spec["report"] = report
        body = pipeline(spec)
        assert builders.build_report_cronjob(body) is None
        assert [c["metadata"]["name"] for c in builders.desired_children(body)] == [
            "flights-daily-daily"
        ]


def test_a_report_job_for_one_month_is_the_cronjob_template_with_that_month(example):
    cronjob = builders.build_report_cronjob(example)
    job = builders.report_job(cronjob, "report-201302", "2013-02")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["--month", "2013-02"]
    assert (
        job["spec"]["podFailurePolicy"]
        == cronjob["spec"]["jobTemplate"]["spec"]["podFailurePolicy"]
    )
    assert cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"] == [
        "--month",
        "last",
    ]  # the CronJob is left as it was
    validate_k8s(job)


def test_pods_run_non_root_read_only_without_capabilities(example):
    for manifest in builders.desired_children(
        pipeline({**example["spec"], "backfill": {"start": "2013-01-01", "end": "2013-01-03"}})
    ):
        tmpl = (
            manifest["spec"]["jobTemplate"]["spec"]["template"]
            if manifest["kind"] == "CronJob"
            else manifest["spec"]["template"]
        )
        pod = tmpl["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        sc = pod["containers"][0]["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"] == {"drop": ["ALL"]}
        assert pod["automountServiceAccountToken"] is False


def test_backfill_range_becomes_an_indexed_job(example):
    body = pipeline(
        {
            **example["spec"],
            "backfill": {"start": "2013-01-01", "end": "2013-01-07", "parallelism": 3},
        }
    )
    job = builders.build_backfill_job(body)
    assert job["metadata"]["name"] == "flights-daily-backfill-20130101-20130107"
    assert job["spec"]["completionMode"] == "Indexed"
    assert job["spec"]["completions"] == 7
    assert job["spec"]["parallelism"] == 3
    assert job["spec"]["backoffLimitPerIndex"] == 3
    assert job["spec"]["podFailurePolicy"]["rules"][0]["action"] == "FailIndex"
    c = job["spec"]["template"]["spec"]["containers"][0]
    assert c["args"] == ["--start", "2013-01-01", "--end", "2013-01-07"]
    assert (
        job["metadata"]["annotations"][builders.ANNOTATION_PARTITIONS] == "2013-01-01..2013-01-07"
    )
    validate_k8s(job)


def test_parallelism_never_exceeds_the_number_of_days(example):
    body = pipeline(
        {
            **example["spec"],
            "backfill": {"start": "2013-01-01", "end": "2013-01-01", "parallelism": 8},
        }
    )
    assert builders.build_backfill_job(body)["spec"]["parallelism"] == 1


def test_children_are_owned_by_the_pipeline_so_deletion_cleans_up(example):
    body = pipeline({**example["spec"], "backfill": {"start": "2013-01-01", "end": "2013-01-02"}})
    for child in builders.desired_children(body):
        (ref,) = child["metadata"]["ownerReferences"]
        assert ref == {
            "apiVersion": "etl.example.com/v1alpha1",
            "kind": "EtlPipeline",
            "name": "flights-daily",
            "uid": body["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
        assert child["metadata"]["labels"][builders.LABEL_PIPELINE] == "flights-daily"


def test_defaults_fill_a_minimal_spec():
    cj = builders.build_cronjob(pipeline({"image": "etl:1"}))
    assert cj["spec"]["timeZone"] == "America/New_York"  # etl_shared.policy.DAILY
    assert cj["spec"]["schedule"] == "0 6 * * *"
    env = {
        e["name"]
        for e in cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert "WAREHOUSE_URL" not in env  # no Secret: DuckDB on the data volume
    validate_k8s(cj)


def test_strict_validation_rejects_an_unknown_field(example):
    cj = builders.build_cronjob(example)
    cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["imagePullPolice"] = "x"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_k8s(cj)


def test_crd_defaults_match_the_builder_defaults():
    props = crd_schema()["properties"]["spec"]["properties"]
    for key, value in builders.DEFAULTS.items():
        if key != "resources":
            assert props[key]["default"] == value, key
    assert (
        props["backfill"]["properties"]["parallelism"]["default"]
        == builders.BACKFILL_DEFAULT_PARALLELISM
    )
    report = props["report"]["properties"]
    for key, value in builders.REPORT_DEFAULTS.items():
        assert report[key]["default"] == value, key
    # no default in the CRD: the builder takes the pipeline's own
    assert "default" not in report["timeZone"]
    assert "default" not in report["suspend"]


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_examples_are_valid_against_the_crd_schema_and_build(path):
    doc = yaml.safe_load(path.read_text())
    jsonschema.validate(doc, crd_schema(), format_checker=jsonschema.FormatChecker())
    body = pipeline(doc["spec"], name=doc["metadata"]["name"])
    for child in builders.desired_children(body):
        validate_k8s(child)


@pytest.mark.parametrize(
    ("change", "reason", "words"),
    [
        ({"schedule": "every day"}, "InvalidSchedule", "not a cron expression"),
        ({"schedule": "0 2 * *"}, "InvalidSchedule", "five fields"),
        ({"schedule": "61 2 * * *"}, "InvalidSchedule", "'61 2 * * *'"),
        ({"schedule": "CRON_TZ=UTC 0 2 * * *"}, "InvalidSchedule", "spec.timeZone"),
        ({"timeZone": "Mars/Olympus_Mons"}, "UnknownTimeZone", "Mars/Olympus_Mons"),
        ({"backfill": {"start": "2013-01-07", "end": "2013-01-01"}}, "InvalidBackfill", "before"),
        (
            {"backfill": {"start": "2013-02-30", "end": "2013-03-01"}},
            "InvalidBackfill",
            "YYYY-MM-DD",
        ),
        ({"backfill": {"start": "2012-01-01", "end": "2013-12-31"}}, "InvalidBackfill", "split it"),
        ({"image": ""}, "MissingImage", "spec.image"),
        ({"report": {"schedule": "monthly"}}, "InvalidSchedule", "spec.report.schedule"),
        ({"report": {"timeZone": "Mars/Olympus_Mons"}}, "UnknownTimeZone", "spec.report"),
    ],
)
def test_invalid_spec_sets_a_condition_and_creates_nothing(example, change, reason, words):
    body = pipeline({**copy.deepcopy(example["spec"]), **change})
    with pytest.raises(builders.InvalidSpecError) as err:
        builders.desired_children(body)
    assert err.value.reason == reason
    result = reconcile.plan(body, [], [])
    assert result.actions == []
    assert result.phase == "Invalid"
    (cond,) = result.status["conditions"]
    assert (cond["type"], cond["status"], cond["reason"]) == ("Ready", "False", reason)
    assert words in cond["message"]


def test_too_long_name_is_refused(example):
    body = pipeline(example["spec"], name="a" * 41)
    assert reconcile.plan(body, [], []).status["conditions"][0]["reason"] == "InvalidName"


def test_a_name_too_long_for_the_report_cronjob_is_refused_only_with_a_report(example):
    limit = builders.MAX_CRONJOB_NAME - len(builders.REPORT_SUFFIX)
    assert len(builders.report_cronjob_name("a" * limit)) == builders.MAX_CRONJOB_NAME
    builders.desired_children(pipeline(example["spec"], name="a" * limit))
    (cond,) = reconcile.plan(pipeline(example["spec"], name="a" * (limit + 1)), [], []).status[
        "conditions"
    ]
    assert cond["reason"] == "InvalidName"
    assert f"at most {limit}" in cond["message"]
    without = {**example["spec"], "report": {"enabled": False}}
    builders.desired_children(pipeline(without, name="a" * (limit + 1)))

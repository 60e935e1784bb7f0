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

"""Kubernetes' configuration equals etl-shared's policy (the same tests run on every platform).

Schedule, attempts, "yesterday" and the warehouse Secret are declared once in
`etl_shared.policy`; these tests read them back from the objects Kubernetes gets: the
CronJob and Job the operator builds from a minimal spec, the CRD's defaults (what the API
server fills in), the plain CronJob helm renders from the chart's values, and the
examples (YAML cannot import the policy, so it is asserted equal here).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml
from k8s_platform import builders, jobcmd

from etl_shared import policy
from etl_shared.errors import TransientSourceError
from etl_shared.testing.landing import GOLDEN_DAYS

from .conftest import CHART, EXAMPLES, crd_schema, helm_template, pipeline


def _crd_defaults() -> dict:
    spec = crd_schema()["properties"]["spec"]["properties"]
    return {key: prop.get("default") for key, prop in spec.items()}


def _plain_cronjobs() -> dict[str, dict]:
    """The plain CronJobs helm renders, by component: plain-cronjob (daily), plain-report."""
    return {
        o["metadata"]["labels"][builders.LABEL_COMPONENT]: o
        for o in helm_template(
            "plainCronJob.enabled=true",
            f"plainCronJob.warehouseSecretRef.name={policy.WAREHOUSE_SECRET}",
        )
        if o["kind"] == "CronJob"
    }


def _plain_cronjob() -> dict:
    return _plain_cronjobs()["plain-cronjob"]


def test_schedule_matches_shared_policy() -> None:
    expected = (policy.DAILY.cron, policy.DAILY.timezone)
    cronjob = builders.build_cronjob(pipeline({"image": "etl:1"}))
    assert (cronjob["spec"]["schedule"], cronjob["spec"]["timeZone"]) == expected
    defaults = _crd_defaults()
    assert (defaults["schedule"], defaults["timeZone"]) == expected
    plain = _plain_cronjob()
    assert (plain["spec"]["schedule"], plain["spec"]["timeZone"]) == expected
    example = yaml.safe_load((EXAMPLES / "flights-daily.yaml").read_text())
    assert (example["spec"]["schedule"], example["spec"]["timeZone"]) == expected


def test_report_schedule_matches_shared_policy() -> None:
    """What starts the monthly report (its CronJob, built, defaulted by the CRD, rendered
    by helm, in the example) is MONTHLY_REPORT's cron and zone, and the month its pod
    reports at a tick is policy.previous_month."""
    expected = (policy.MONTHLY_REPORT.cron, policy.MONTHLY_REPORT.timezone)
    cronjob = builders.build_report_cronjob(pipeline({"image": "etl:1", "report": {}}))
    assert cronjob is not None
    assert (cronjob["spec"]["schedule"], cronjob["spec"]["timeZone"]) == expected
    (container,) = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["--month", "last"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["ETL_TIMEZONE"] == policy.MONTHLY_REPORT.timezone
    report = crd_schema()["properties"]["spec"]["properties"]["report"]["properties"]
    # the report's zone is the pipeline's, whose default is the policy's zone
    assert (report["schedule"]["default"], _crd_defaults()["timeZone"]) == expected
    plain = _plain_cronjobs()["plain-report"]
    assert (plain["spec"]["schedule"], plain["spec"]["timeZone"]) == expected
    example = yaml.safe_load((EXAMPLES / "flights-daily.yaml").read_text())["spec"]
    assert (example["report"]["schedule"], example["timeZone"]) == expected
    # a tick: 07:00 New York on March 1st reports February, also when UTC is already later
    for now in (
        dt.datetime(2013, 3, 1, 12, 0, tzinfo=dt.UTC),
        dt.datetime(2013, 4, 1, 3, 30, tzinfo=dt.UTC),  # still March 31 in New York
    ):
        assert jobcmd.resolve_month("last", {"ETL_TIMEZONE": env["ETL_TIMEZONE"]}, now) == (
            policy.previous_month(now)
        )


def test_retry_policy_matches_shared_policy(tmp_path: Path, monkeypatch, fault_injection) -> None:  # type: ignore[no-untyped-def]
    retry = policy.retry_policy({})
    body = pipeline({"image": "etl:1", "backfill": {"start": "2013-01-01", "end": "2013-01-02"}})
    cronjob = builders.build_cronjob(body)
    job = cronjob["spec"]["jobTemplate"]["spec"]
    assert job["backoffLimit"] == retry.retries
    backfill = builders.build_backfill_job(body)
    assert backfill is not None
    assert backfill["spec"]["backoffLimitPerIndex"] == retry.retries
    env = {e["name"]: e.get("value") for e in job["template"]["spec"]["containers"][0]["env"]}
    assert float(env[policy.RETRY_DELAY_ENV]) == retry.first_delay_seconds
    defaults = _crd_defaults()
    assert defaults["backoffLimit"] == retry.retries
    assert defaults["retryDelaySeconds"] == retry.first_delay_seconds
    plain = _plain_cronjob()["spec"]["jobTemplate"]["spec"]
    assert plain["backoffLimit"] == retry.retries
    # The pod tries a transient error the policy's attempts, then fails the Job for good.
    monkeypatch.setenv("ETL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("WAREHOUSE_URL", f"duckdb:///{tmp_path / 'w.duckdb'}")
    monkeypatch.setenv(policy.RETRY_DELAY_ENV, "0.01")
    fault_injection.transient_source(times=policy.ATTEMPTS + 2)
    assert jobcmd.run(GOLDEN_DAYS[0]) == builders.EXIT_NOT_RETRYABLE
    assert fault_injection.remaining_transient() == 2
    assert policy.RetryPolicy.is_retryable(TransientSourceError("x"))


def test_yesterday_partition_matches_shared_policy() -> None:
    for now in (
        dt.datetime(2013, 1, 6, 11, 0, tzinfo=dt.UTC),  # 06:00 New York
        dt.datetime(2013, 1, 6, 2, 0, tzinfo=dt.UTC),  # still Jan 5 in New York
    ):
        env = {"ETL_TIMEZONE": policy.DAILY.timezone}
        assert jobcmd.resolve_partition("yesterday", None, None, env, now) == (
            policy.yesterday_partition(now)
        )
        # without ETL_TIMEZONE (a pod run by hand) the policy's zone
        assert jobcmd.resolve_partition("yesterday", None, None, {}, now) == (
            policy.yesterday_partition(now)
        )


def test_warehouse_secret_matches_shared_policy() -> None:
    expected = {"name": policy.WAREHOUSE_SECRET, "key": policy.WAREHOUSE_SECRET_KEY}
    body = pipeline({"image": "etl:1", "warehouseSecretRef": {"name": policy.WAREHOUSE_SECRET}})
    (container,) = builders.build_cronjob(body)["spec"]["jobTemplate"]["spec"]["template"]["spec"][
        "containers"
    ]
    env = {e["name"]: e for e in container["env"]}
    assert env["WAREHOUSE_URL"]["valueFrom"]["secretKeyRef"] == expected
    ref = crd_schema()["properties"]["spec"]["properties"]["warehouseSecretRef"]
    assert ref["properties"]["key"]["default"] == policy.WAREHOUSE_SECRET_KEY
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["plainCronJob"]["warehouseSecretRef"]["key"] == policy.WAREHOUSE_SECRET_KEY
    (plain,) = _plain_cronjob()["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    plain_env = {e["name"]: e for e in plain["env"]}
    assert plain_env["WAREHOUSE_URL"]["valueFrom"]["secretKeyRef"] == expected
    for path in sorted(EXAMPLES.glob("*.yaml")):
        spec = yaml.safe_load(path.read_text())["spec"]
        assert spec["warehouseSecretRef"]["name"] == policy.WAREHOUSE_SECRET, path.name
        assert spec["warehouseSecretRef"].get("key", policy.WAREHOUSE_SECRET_KEY) == (
            policy.WAREHOUSE_SECRET_KEY
        ), path.name
    readme = (CHART.parents[1] / "README.md").read_text()
    assert (
        f"create secret generic {policy.WAREHOUSE_SECRET} "
        f"--from-literal={policy.WAREHOUSE_SECRET_KEY}="
    ) in readme

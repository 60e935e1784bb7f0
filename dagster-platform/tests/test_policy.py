"""Dagster's configuration equals etl-shared's policy (the same tests run on every platform).

Schedule, retries, "yesterday" and the warehouse Secret are declared once in
`etl_shared.policy`; these tests read them back from the objects Dagster itself uses:
the code location's schedule and assets, and the deploy files.
"""

import datetime as dt
from pathlib import Path

import dagster as dg
import pytest
import yaml

from etl_shared import policy
from etl_shared.partitions import month_key

ROOT = Path(__file__).resolve().parents[1]


def test_schedule_matches_shared_policy(defs: dg.Definitions) -> None:
    schedule = defs.resolve_schedule_def("flights_daily_schedule")
    assert schedule.cron_schedule == policy.DAILY.cron
    assert schedule.execution_timezone == policy.DAILY.timezone
    assert schedule.job_name == "flights_daily"
    # Dagster's own tick times: 06:00 New York, on both sides of the spring clock change
    from dagster._utils.schedules import schedule_execution_time_iterator

    ticks = schedule_execution_time_iterator(
        dt.datetime(2013, 3, 9, 12, 0, tzinfo=policy.DAILY.tzinfo).timestamp(),
        schedule.cron_schedule,
        schedule.execution_timezone,
    )
    times = [next(ticks) for _ in range(3)]
    assert [t.astimezone(policy.DAILY.tzinfo).hour for t in times] == [6, 6, 6]


def test_report_schedule_matches_shared_policy(defs: dg.Definitions) -> None:
    """The report is event-driven here (an automation condition, no cron): each day maps to
    its month (`etl_shared.partitions.month_key`) in the policy's time zone, and the day a
    MONTHLY_REPORT tick follows (its `yesterday_partition`, the month's last day) completes
    exactly the month that tick reports (`previous_month`)."""
    graph = defs.resolve_asset_graph()
    daily = graph.get(dg.AssetKey("carrier_daily")).partitions_def
    monthly = graph.get(dg.AssetKey("carrier_monthly")).partitions_def
    assert monthly.timezone == daily.timezone == policy.MONTHLY_REPORT.timezone
    mapping = graph.get_partition_mapping(
        dg.AssetKey("carrier_monthly"), dg.AssetKey("carrier_daily")
    )

    def month_of(day: str) -> str:
        subset = mapping.get_downstream_partitions_for_partitions(
            daily.subset_with_partition_keys([day]), daily, monthly
        )
        (month,) = subset.get_partition_keys()
        return month

    for day in daily.get_partition_keys():
        assert month_of(day) == month_key(day), day
    for month in monthly.get_partition_keys():
        first = dt.date.fromisoformat(f"{month}-01")
        tick = dt.datetime(
            first.year + first.month // 12,
            first.month % 12 + 1,
            1,
            7,
            0,
            tzinfo=policy.MONTHLY_REPORT.tzinfo,
        )
        assert month_of(policy.yesterday_partition(tick)) == policy.previous_month(tick) == month
    # no cron decides when: the report waits for its days, not for a time of day
    condition = repr(graph.get(dg.AssetKey("carrier_monthly")).automation_condition)
    assert "Cron" not in condition, condition


def test_retry_policy_matches_shared_policy(defs: dg.Definitions) -> None:
    retry = policy.retry_policy()  # conftest's ETL_RETRY_DELAY_SECONDS
    landing_file = defs.resolve_asset_graph().get(dg.AssetKey("landing_file")).assets_def
    retry_policy = landing_file.op.retry_policy
    assert retry_policy is not None
    assert retry_policy.max_retries == retry.attempts - 1
    assert retry_policy.delay == pytest.approx(retry.first_delay_seconds)
    assert retry_policy.backoff == dg.Backoff.EXPONENTIAL  # the factor 2 of the policy


@pytest.mark.parametrize(
    ("tick", "expected"),
    [
        (dt.datetime(2013, 1, 6, 6, 0, tzinfo=policy.DAILY.tzinfo), "2013-01-05"),
        (dt.datetime(2013, 1, 6, 2, 0, tzinfo=dt.UTC), "2013-01-04"),  # Jan 5 in New York
    ],
)
def test_yesterday_partition_matches_shared_policy(
    defs: dg.Definitions, tick: dt.datetime, expected: str
) -> None:
    schedule = defs.resolve_schedule_def("flights_daily_schedule")
    context = dg.build_schedule_context(
        scheduled_execution_time=tick, repository_def=defs.get_repository_def()
    )
    (request,) = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == policy.yesterday_partition(tick) == expected


def test_warehouse_secret_matches_shared_policy() -> None:
    values = yaml.safe_load((ROOT / "deploy" / "values.yaml").read_text())
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert [s["name"] for s in deployment["envSecrets"]] == [policy.WAREHOUSE_SECRET]
    instance = yaml.safe_load((ROOT / "deploy" / "dagster.yaml").read_text())
    assert policy.WAREHOUSE_SECRET in instance["run_launcher"]["config"]["env_secrets"]
    readme = (ROOT / "README.md").read_text()
    assert (
        f"create secret generic {policy.WAREHOUSE_SECRET} "
        f"--from-literal={policy.WAREHOUSE_SECRET_KEY}="
    ) in readme


def test_run_id_and_staging_follow_shared_policy() -> None:
    from dagster_platform.defs.hooks import PLATFORM, pipeline_run_id

    dagster_run_id = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    assert pipeline_run_id(dagster_run_id) == policy.run_id_for(PLATFORM, dagster_run_id)
    assert pipeline_run_id(dagster_run_id) == f"dagster-{dagster_run_id}"

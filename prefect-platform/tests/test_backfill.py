"""The backfill: bounded concurrency, keeps going past a failed partition, reports it."""

from __future__ import annotations

import datetime as dt

from helpers import query
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.task_runners import ThreadPoolTaskRunner
from prefect_platform.flows import backfill

from etl_shared.testing.landing import GOLDEN_DAYS


def test_backfill_keeps_going_and_reports_failed_partitions(warehouse: str, landing_zone) -> None:  # type: ignore[no-untyped-def]
    # 2013-01-01 is seeded, 2013-01-02 and 2013-01-03 are not: one ok, two failed.
    two_at_a_time = backfill.with_options(task_runner=ThreadPoolTaskRunner(max_workers=2))
    state = two_at_a_time(start="2013-01-01", end="2013-01-03", return_state=True)
    assert state.is_failed()
    assert state.message == "2 of 3 partitions failed: 2013-01-02, 2013-01-03"

    loaded = query(warehouse, "SELECT DISTINCT flight_date FROM flights ORDER BY 1")
    assert loaded == [(dt.date(2013, 1, 1),)]
    runs = query(warehouse, "SELECT partition_date, status FROM pipeline_runs ORDER BY 1")
    assert [(str(d), s) for d, s in runs] == [
        ("2013-01-01", "success"), ("2013-01-02", "failed"), ("2013-01-03", "failed"),
    ]  # fmt: skip

    with get_client(sync_client=True) as client:
        (artifact, *_) = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["backfill-summary"])),
            limit=1,
        )
    assert artifact.flow_run_id == state.state_details.flow_run_id
    assert "2013-01-02" in str(artifact.data)
    assert "no landing file" in str(artifact.data)


def test_backfill_of_good_partitions_completes_with_a_summary(warehouse: str) -> None:
    day = GOLDEN_DAYS[0]
    state = backfill(start=day, end=day, return_state=True)
    assert state.is_completed(), state.message
    (row,) = state.result()
    assert (row["partition"], row["state"], row["error"]) == (day, "Completed", None)
    assert row["loaded"] > 0


def test_backfill_declares_its_task_runner() -> None:
    """The fan-out runs on the flow's own ThreadPoolTaskRunner, sized by
    BACKFILL_MAX_WORKERS (read when the flow module is imported)."""
    from prefect_platform.config import backfill_max_workers

    assert isinstance(backfill.task_runner, ThreadPoolTaskRunner)
    assert backfill.task_runner._max_workers == backfill_max_workers()

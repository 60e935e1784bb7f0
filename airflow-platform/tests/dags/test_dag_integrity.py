"""DAG integrity (Astronomer's template test): every DAG file imports cleanly and cheaply.

No connection or variable is needed to parse the DAGs, and parsing does no I/O: no
warehouse connection, no file read beyond the DAG files, no subprocess, no socket.
"""

from __future__ import annotations

import itertools
import re
import sys
from pathlib import Path

import pytest
from etl_airflow.assets import CARRIER_DAILY, FLIGHTS

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"
DAG_FILES = sorted(p for p in DAGS_DIR.glob("*.py"))


@pytest.fixture(scope="module")
def dagbag():  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


def test_dagbag_imports_without_errors(dagbag) -> None:  # type: ignore[no-untyped-def]
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == {"flights_daily", "carrier_report_monthly"}


def test_every_dag_has_tags_owner_and_retries(dagbag) -> None:  # type: ignore[no-untyped-def]
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.doc_md, f"{dag_id} has no doc_md"
        for task in dag.tasks:
            assert task.owner not in ("", "airflow"), f"{dag_id}.{task.task_id} has no owner"
            assert task.retries >= 2, f"{dag_id}.{task.task_id} retries={task.retries}"
            assert task.retry_policy is not None, f"{dag_id}.{task.task_id} has no retry policy"


def test_daily_dag_reads_like_the_pipeline(dagbag) -> None:  # type: ignore[no-untyped-def]
    dag = dagbag.dags["flights_daily"]
    assert dag.catchup
    # each run loads the day before it: from the run of 2013-01-02 (loads 2013-01-01) to
    # the run of 2014-01-01 (loads 2013-12-31); tests/test_policy.py checks the times
    assert (dag.start_date.date().isoformat(), dag.end_date.date().isoformat()) == (
        "2013-01-02",
        "2014-01-02",
    )
    order = [
        "extract",
        "validate.schema",
        "validate.quarantine",
        "transform",
        "publish.load",
        "publish.check",
        "record_run",
    ]
    assert sorted(dag.task_ids) == sorted(order)
    for upstream, downstream in itertools.pairwise(order):
        assert dag.get_task(downstream).upstream_task_ids == {upstream}
    assert set(dag.task_group_dict) >= {"validate", "publish"}
    outlets = {a.uri for a in dag.get_task("publish.check").outlets}
    assert outlets == {FLIGHTS.uri, CARRIER_DAILY.uri}
    assert FLIGHTS.uri.rstrip("/") == "warehouse://flights"  # Airflow normalizes the URI


def test_report_dag_is_scheduled_on_the_published_assets(dagbag) -> None:  # type: ignore[no-untyped-def]
    from airflow.sdk import PartitionedAssetTimetable, RollupMapper

    dag = dagbag.dags["carrier_report_monthly"]
    assert isinstance(dag.timetable, PartitionedAssetTimetable)
    condition = dag.timetable.asset_condition
    assert type(condition).__name__ == "AssetAll"  # runs when both were updated
    assert {asset.uri for asset in condition.objects} == {FLIGHTS.uri, CARRIER_DAILY.uri}
    mapper = dag.timetable.default_partition_mapper
    assert isinstance(mapper, RollupMapper)  # day keys -> month key, every day needed
    assert dag.timetable.partition_mapper_config == {}  # the same mapping for both assets


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_dag_files_use_airflow3_apis_only(path: Path) -> None:
    source = path.read_text()
    assert "schedule_interval" not in source
    assert not re.search(r"^from airflow\.(models|decorators|operators)\b", source, re.M), path
    assert "from airflow.sdk import" in source
    assert re.search(r'^if __name__ == "__main__":\n    \w+\.test\(\)', source, re.M), (
        "dag.test() guard"
    )


def test_parsing_does_no_io(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Import the DAG files with every warehouse pointed at nothing and I/O watched."""
    import duckdb
    import etl_airflow.assets
    import etl_airflow.policy
    import etl_airflow.runs  # noqa: F401  dependencies may do their own imports first
    import psycopg

    monkeypatch.setenv("WAREHOUSE_URL", "postgresql://nobody:secret@192.0.2.1:1/none")
    monkeypatch.setenv("ETL_DATA_DIR", str(tmp_path / "nothing"))

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a DAG file connected to a database at import")

    monkeypatch.setattr(duckdb, "connect", refuse)
    monkeypatch.setattr(psycopg, "connect", refuse)
    events: list[tuple[str, tuple[object, ...]]] = []
    watching = [True]

    def audit(event: str, args: tuple[object, ...]) -> None:
        if watching[0] and event in ("open", "socket.connect", "subprocess.Popen", "os.system"):
            events.append((event, args))

    sys.addaudithook(audit)  # audit hooks cannot be removed: `watching` switches it off
    try:
        import importlib.util

        for path in DAG_FILES:
            spec = importlib.util.spec_from_file_location(f"integrity_{path.stem}", path)
            assert spec
            assert spec.loader
            spec.loader.exec_module(importlib.util.module_from_spec(spec))
    finally:
        watching[0] = False
    unexpected = [
        (event, args)
        for event, args in events
        if not (event == "open" and str(args[0]).endswith((".py", ".pyc", ".so")))
    ]
    assert unexpected == []
    assert not (tmp_path / "nothing").exists()


@pytest.mark.parametrize("bad", ["2013-02-30", "2014-01-01", "13-01-05", "x"])
def test_mistyped_partition_param_is_refused_before_a_run(bad: str) -> None:
    """`airflow dags trigger/test -c '{"partition": ...}'`: Airflow checks the Param."""
    import copy

    from airflow.sdk.exceptions import ParamValidationError
    from etl_airflow.local import get_dag

    params = get_dag("flights_daily").params

    def validated(value: object) -> dict:
        p = copy.deepcopy(params)
        p["partition"] = value
        return p.validate()

    with pytest.raises(ParamValidationError):
        validated(bad)
    assert validated("2013-01-05")["partition"] == "2013-01-05"
    assert validated(None)["partition"] is None

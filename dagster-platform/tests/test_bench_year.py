"""`make bench-year`'s Dagster backfill, over two days: the asset backfill submitted with
`launchPartitionBackfill` and run by `dagster-daemon` loads the same rows as the bare steps,
one successful run per partition, and leaves no process behind."""

import importlib.util
import json
import os
from pathlib import Path

import dagster as dg

from etl_shared import bench_year as harness

ROOT = Path(__file__).resolve().parents[1]


def _bench_module():
    spec = importlib.util.spec_from_file_location("bench_year", ROOT / "bench" / "bench_year.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _descendants() -> set[int]:
    """The pids of this process's descendants."""
    parents = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, frontier = set(), [os.getpid()]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in tree:
                tree.add(pid)
                frontier.append(pid)
    return tree


def test_bench_year_backfill(tmp_path, monkeypatch):
    out = tmp_path / "result.json"
    monkeypatch.setenv("BENCH_YEAR_START", "2013-01-01")
    monkeypatch.setenv("BENCH_YEAR_END", "2013-01-02")
    monkeypatch.setenv("BENCH_YEAR_OUT", str(out))
    # the seeded year is shared with make bench-year (seeded once, read only)
    monkeypatch.setenv("ETL_BENCH_CACHE", str(ROOT / "data" / "bench-cache"))
    bench = _bench_module()
    before = _descendants()

    rc = harness.main("dagster", bench.backfill, how=bench.HOW, cwd=tmp_path)

    result = json.loads(out.read_text())
    assert rc == 0, result
    assert result["same_as_bare_steps"], result
    assert result["succeeded"] == result["partitions"] == 2
    # the runs were the backfill's: one per partition, each successful, in the instance
    home = tmp_path / "data" / "bench-year" / "dagster" / "dagster_home"
    with dg.DagsterInstance.from_config(str(home)) as instance:
        (backfill,) = instance.get_backfills()
        runs = instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfill.backfill_id}))
        assert sorted(r.tags["dagster/partition"] for r in runs) == ["2013-01-01", "2013-01-02"]
        assert {r.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}
    # the daemon, its code server and the run processes are gone
    assert _descendants() <= before

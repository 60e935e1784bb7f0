"""`make compare`: the four platforms load the same partitions, write the same monthly
carrier report, and agree on every table (daily and monthly parity)."""

from __future__ import annotations

from pathlib import Path

import compare
import pytest
from rich.console import Console

from etl_shared.landing import flights_file, seed
from etl_shared.testing.landing import bad_rows

START, END = "2013-01-01", "2013-01-02"
MONTH = "2013-01"  # its other days are loaded by the bare steps; the platforms complete it


@pytest.mark.parametrize("backend", ["duckdb", "postgres"])
def test_every_platform_loads_the_same_rows(backend: str, tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    landing = workdir / "landing"
    seed(landing, START, END)
    # the second day carries bad rows, so the quarantine is compared too
    path = flights_file(landing, END)
    groups = bad_rows(landing, END)
    with path.open("ab") as fh:
        for group in groups.values():
            fh.write(b"\n".join(group) + b"\n")
    console = Console(record=True, width=150)
    results = compare.compare(
        START, END, workdir, backend, ["shared", *compare.PLATFORMS], console, MONTH
    )
    assert [r.name for r in results] == ["shared", "airflow", "dagster", "prefect", "k8s"]
    failed = {r.name: r.log.read_text()[-2000:] for r in results if not r.ok}
    assert failed == {}
    baseline = results[0]
    assert baseline.partitions == 2
    assert baseline.quarantined == sum(len(group) for group in groups.values())  # every bad row
    assert baseline.loaded == 842 + 943
    assert baseline.sums["carrier_monthly"][0] == 16  # one row per carrier flying in January
    assert all(r.report_ok for r in results), [(r.name, r.report_ok) for r in results]
    for result in results[1:]:
        assert result.sums == baseline.sums, (result.name, console.export_text()[-3000:])
        assert all(result.same.values())
    out = tmp_path / "reports"
    compare.write_reports(results, START, END, backend, out)
    rows = [line for line in (out / "compare.md").read_text().splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + len(results)  # the header and one row per platform
    assert all(row.count("✓") == 3 for row in rows[1:])
    assert not any("✗" in row for row in rows)
    html = (out / "compare.html").read_text()
    assert "<svg" in html
    assert "http" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")  # opens offline


def test_a_difference_is_shown_row_by_row(tmp_path: Path) -> None:
    """When two warehouses differ, the first differing rows are named."""
    from etl_shared.compare import checksums, first_differences
    from etl_shared.config import Settings
    from etl_shared.runner import run_partitions
    from etl_shared.warehouse import open_warehouse

    landing = tmp_path / "landing"
    seed(landing, START, START)
    urls = [f"duckdb://{tmp_path / name}.duckdb" for name in ("a", "b")]
    for url in urls:
        run_partitions([START], settings=Settings(landing, url, tmp_path / "staging"))
    assert checksums(urls[0]) == checksums(urls[1])
    with open_warehouse(urls[1]) as wh:
        wh.execute("UPDATE carrier_daily SET on_time = on_time + 1 WHERE carrier = 'AA'")
    assert checksums(urls[0])["carrier_daily"] != checksums(urls[1])["carrier_daily"]
    ((left, right),) = first_differences(urls[0], urls[1], "carrier_daily")
    assert left[1] == right[1] == "AA"
    assert int(right[6]) == int(left[6]) + 1


def test_setup_comes_first_and_only_the_runs_are_timed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The order of the make calls and what each is given, with `run_make` and the
    warehouse read replaced (no platform runs): every project's `make setup` before the
    first timed `make backfill`, wall s from the backfill alone, and no VIRTUAL_ENV of
    this tool's environment passed on (uv would warn that it does not match)."""
    calls: list[tuple[str, str, dict[str, str]]] = []
    seconds = {"setup": 30.0, "backfill": 2.0}

    def fake_make(name, args, env, log):
        calls.append((args[0], name, env))
        return True, seconds[args[0]]

    def fake_facts(result, start, end):
        result.sums = {t: (1, "x") for t in compare.COMPARED_TABLES}

    monkeypatch.setattr(compare, "run_make", fake_make)
    monkeypatch.setattr(compare, "warehouse_facts", fake_facts)
    monkeypatch.setenv("VIRTUAL_ENV", "/somewhere/else/.venv")
    names = ["shared", *compare.PLATFORMS]
    results = compare.compare(START, START, tmp_path, "duckdb", names, Console(width=150))
    targets = [target for target, _, _ in calls]
    assert targets == ["setup"] * len(names) + ["backfill"] * len(names)
    assert [name for _, name, _ in calls] == names + names
    assert not any("VIRTUAL_ENV" in env for _, _, env in calls)
    assert all(r.ok and r.wall == 2.0 and r.setup == 30.0 for r in results)
    compare.write_reports(results, START, START, "duckdb", tmp_path / "reports")
    md = (tmp_path / "reports" / "compare.md").read_text()
    assert compare.WHAT_IS_TIMED in md

"""`make demo`'s selection table: built from measured figures (here a small fixture of
them, no platform runs), the code counted and the reader's files declared and present."""

from __future__ import annotations

from pathlib import Path

import compare
import pytest

N = 7
# (t1, tn, peak MiB, no-op t1, no-op tn) per platform, seconds
FIGURES = {
    "shared": (0.9, 1.5, 300.0, None, None),
    "airflow": (8.0, 12.2, 600.0, 6.2, 9.2),
    "dagster": (4.0, 7.6, 500.0, 3.0, 6.0),
    "prefect": (15.0, 18.0, 700.0, 13.0, 15.4),
    "k8s": (1.2, 3.0, 250.0, 0.5, 1.7),
}


def _selections() -> list[compare.Selection]:
    rows = []
    for name, (t1, tn, peak, f1, fn) in FIGURES.items():
        row = compare.Selection(name, N, t1, tn, peak, f1, fn, None if f1 is None else 100.0)
        if name != compare.BASELINE:
            row.code_lines, row.code_files = compare.orchestration_code(name)
            row.reader_files = len(compare.reader_files(name))
        rows.append(row)
    return rows


def test_start_up_and_cost_per_partition_come_from_the_two_runs() -> None:
    airflow = _selections()[1]
    assert airflow.per_partition == pytest.approx((12.2 - 8.0) / 6)
    assert airflow.startup == pytest.approx(8.0 - 0.7)
    assert airflow.floor_per_partition == pytest.approx(0.5)
    assert airflow.ratio == pytest.approx(0.7 / 0.5)
    assert airflow.startup + N * airflow.per_partition == pytest.approx(12.2)
    baseline = _selections()[0]
    assert baseline.floor_per_partition is None
    assert baseline.ratio is None


def test_a_cost_within_the_noise_gets_no_ratio() -> None:
    """A negative slope (the 1-day run slower than the week) or a no-op that costs
    nothing per partition gives no ratio, never a negative or huge one."""
    noisy = compare.Selection("prefect", N, 20.0, 18.5, 700.0, 13.0, 15.4)
    assert noisy.per_partition < 0
    assert noisy.ratio is None
    free_floor = compare.Selection("k8s", N, 1.2, 3.0, 250.0, 0.5, 0.5)
    assert free_floor.floor_per_partition == 0
    assert free_floor.ratio is None
    row = dict(zip(compare.SELECTION_HEADER, compare.selection_rows([noisy])[0], strict=True))
    assert row["per partition s"] == "< 0 (noise)"
    assert row["ratio to floor"] == "—"


def test_the_table_has_a_row_per_platform_and_every_column() -> None:
    selections = _selections()
    rows = compare.selection_rows(selections)
    assert [row[0] for row in rows] == [compare.LABELS[name] for name in FIGURES]
    assert all(len(row) == len(compare.SELECTION_HEADER) for row in rows)
    by_platform = {row[0]: dict(zip(compare.SELECTION_HEADER, row, strict=True)) for row in rows}
    airflow = by_platform["Airflow"]
    assert airflow["start-up s"] == "7.30"
    assert airflow["per partition s"] == "0.700"
    assert airflow["no-op per partition s"] == "0.500"
    assert airflow["ratio to floor"] == "1.40x"
    assert airflow["peak MiB"] == "600"
    assert airflow["UI"].startswith("yes")
    # the bare steps have no tool: no floor, no orchestration code
    bare = by_platform[compare.LABELS["shared"]]
    assert bare["ratio to floor"] == bare["orchestration lines"] == "—"
    for name in compare.PLATFORMS:
        row = by_platform[compare.LABELS[name]]
        lines, files = compare.orchestration_code(name)
        assert lines > 0
        assert row["orchestration lines"] == f"{lines:,} in {files} files"
        assert int(row["files to follow a partition"]) == len(compare.READER_FILES[name]) > 0
        assert all(cell for cell in row.values())


def test_reports_carry_the_table_and_an_offline_chart(tmp_path: Path) -> None:
    selections = _selections()
    results = [compare.Result(name, f"duckdb:///{name}.duckdb", ok=True) for name in FIGURES]
    for result in results:
        result.sums = {t: (1, "0" * 12) for t in compare.COMPARED_TABLES}
        result.same = dict.fromkeys(compare.COMPARED_TABLES, True)
    compare.write_reports(results, "2013-01-01", "2013-01-07", "duckdb", tmp_path, selections)
    md = (tmp_path / "compare.md").read_text()
    section = md.split("## Selection table", 1)[1]
    table = [line for line in section.splitlines() if line.startswith("|")]
    assert table[0] == "| " + " | ".join(compare.SELECTION_HEADER) + " |"
    assert len(table) == 2 + len(FIGURES)  # header, rule, one row per platform
    html = (tmp_path / "compare.html").read_text()
    assert html.count("<svg") == 2  # the wall-time bars and the selection chart
    chart = html.split("<h3>Start-up and cost per partition</h3>", 1)[1]
    assert chart.count('fill="#4c78a8"') == 2 * len(FIGURES) + 1  # two panels + legend
    assert chart.count('fill="#bab0ac"') == len(compare.PLATFORMS) + 1  # floors + legend
    assert "http" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_code_lines_leave_out_blanks_comments_and_docstrings(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        '"""Module\n\ndocstring."""\n\n# a comment\nimport os\n\n\n'
        'def f():\n    """One line."""\n    return os.sep  # counted\n'
    )
    assert compare.code_lines(source) == 3


def test_a_missing_reader_file_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(compare.READER_FILES, "k8s", ("src/k8s_platform/nope.py",))
    with pytest.raises(FileNotFoundError, match=r"nope\.py"):
        compare.reader_files("k8s")


def test_a_failed_timed_run_leaves_the_table_out_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`make demo` with the comparison replaced (no platform runs) and a selection run
    that fails: the side-by-side report is still written, without the selection table,
    and the failing run is named."""

    def fake_compare(start, end, workdir, backend, names, console, report_month=None):  # type: ignore[no-untyped-def]
        results = [compare.Result(name, f"duckdb:///{name}.duckdb", ok=True) for name in names]
        for result in results:
            result.sums = {t: (1, "0" * 12) for t in compare.COMPARED_TABLES}
            result.same = dict.fromkeys(compare.COMPARED_TABLES, True)
        return results

    def failing(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise compare.bench.BenchError("Airflow x1: exit 2")

    monkeypatch.setattr(compare, "compare", fake_compare)
    monkeypatch.setattr(compare, "measure_selection", failing)
    out = tmp_path / "reports"
    assert compare.main(["--workdir", str(tmp_path / "work"), "--out", str(out)]) == 0
    assert "selection table left out: Airflow x1: exit 2" in capsys.readouterr().out
    assert "| platform | ok |" in (out / "compare.md").read_text()
    assert "Selection table" not in (out / "compare.md").read_text()

"""The engine: a memory limit, and a spill folder of its own that never outlives it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from etl_shared.stage import Engine


def test_engine_has_the_memory_limit_and_its_own_spill_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ETL_MEMORY_LIMIT", "300MB")
    monkeypatch.setenv("ETL_TEMP_DIR", str(tmp_path))
    with Engine() as eng:
        ((limit, temp),) = eng.execute(
            "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
        ).fetchall()
        assert limit.replace(" ", "") in ("286.1MiB", "300.0MB")
        assert Path(temp) == Path(eng.spill_dir)
        assert Path(eng.spill_dir).parent == tmp_path
    assert list(tmp_path.iterdir()) == []  # closed: the folder is gone


def test_spill_folder_goes_at_exit_when_an_engine_is_never_closed(tmp_path: Path) -> None:
    code = "from etl_shared.stage import Engine; e = Engine(); print(e.spill_dir)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={"ETL_TEMP_DIR": str(tmp_path), "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip().startswith(str(tmp_path))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("layout", ["in-process", "staged in files"])
def test_a_big_read_judged_through_a_view_gives_the_same_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: str
) -> None:
    """Past JUDGE_IN_VIEW_ROWS the typed read is judged through a view instead of a copy:
    the same flights, carrier_daily and quarantine (every reason, duplicates included)."""
    from etl_shared import steps
    from etl_shared.compare import checksums
    from etl_shared.config import Settings
    from etl_shared.landing import flights_file, seed
    from etl_shared.testing.landing import bad_rows

    day = "2013-01-05"
    landing = tmp_path / "landing"
    seed(landing, day, day)
    groups = bad_rows(landing, day)
    with flights_file(landing, day).open("ab") as fh:
        for group in groups.values():
            fh.write(b"\n".join(group) + b"\n")

    def run(threshold: int, name: str) -> dict[str, tuple[int, str]]:
        monkeypatch.setattr(steps, "JUDGE_IN_VIEW_ROWS", threshold)
        url = f"duckdb://{tmp_path / name}.duckdb"
        settings = Settings(landing, url, tmp_path / name)
        if layout == "in-process":
            steps.run_partition(day, settings=settings)
        else:  # each step on its own engine, Parquet between them, as the orchestrators run
            ref = steps.extract(day, settings=settings)
            for step in (steps.validate, steps.transform, steps.load):
                ref = step(ref, settings=settings)
        return checksums(url, tables=("flights", "carrier_daily", "quarantine"))

    copied, viewed = run(10**9, "copied"), run(0, "viewed")
    assert viewed == copied
    assert copied["quarantine"][0] == sum(len(g) for g in groups.values())
    assert "duplicate_key" in groups

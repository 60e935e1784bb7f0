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

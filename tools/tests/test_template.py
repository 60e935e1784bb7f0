"""`make template`: one platform exported as a project of its own, which sets itself up
and passes its tests without this repository."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import template

ROOT = Path(__file__).resolve().parents[2]


def test_unknown_platform_is_refused(tmp_path: Path) -> None:
    dest = tmp_path / "copy"
    result = subprocess.run(
        ["python", str(ROOT / "tools" / "template.py"), "spark", str(dest)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "unknown platform 'spark'" in result.stderr
    assert not dest.exists()


def test_non_empty_destination_is_refused_and_kept(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(template.TemplateError, match="not an empty folder"):
        template.export("dagster", tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["mine.txt"]
    assert (tmp_path / "mine.txt").read_text() == "keep me"


@pytest.mark.parametrize("platform", template.PLATFORMS)
def test_exported_template_sets_up_and_passes_its_tests(platform: str, tmp_path: Path) -> None:
    dest = template.export(platform, tmp_path / f"my-{platform}-pipeline")
    log = subprocess.run(
        ["git", "log", "--oneline"], cwd=dest, capture_output=True, text=True, check=True
    )
    assert len(log.stdout.splitlines()) == 1
    assert not any("/.venv/" in str(p) for p in dest.rglob("*"))
    # nothing in the copy points back into this repository
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=dest, capture_output=True, text=True, check=True
    )
    for name in tracked.stdout.splitlines():
        path = dest / name
        if path.is_symlink():
            assert path.resolve().is_relative_to(dest), name
        elif path.suffix in {".py", ".toml", ".yaml", ".md", ".cfg"} or path.name == "Makefile":
            assert str(ROOT) not in path.read_text(errors="replace"), name
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"WAREHOUSE_URL", "LANDING_DIR", "ETL_DATA_DIR", "STAGING_DIR", "VIRTUAL_ENV"}
    }
    result = subprocess.run(
        ["make", "setup", "test"],
        cwd=dest,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert result.stdout.count(" passed") >= 2  # etl-shared's suite and the platform's

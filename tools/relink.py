"""Move the concept map's line links along with the code they point at.

`docs/comparison.md` links every cell to `file:line`. When code moves, those numbers go
stale (the link test only proves they land on a code line, not on the same one). This
tool reads the map as it was at a revision where its links were right, follows each
linked line through the diff from that revision to the work tree, and writes the map
with the new numbers. A line that changed or vanished is reported, not guessed.

    python tools/relink.py --since HEAD~3     # links were right at HEAD~3
"""

from __future__ import annotations

import argparse
import difflib
import itertools
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MAP = "docs/comparison.md"
LINK = re.compile(r"\[(?P<name>[^\]:]+):(?P<line>\d+)\]\((?P<path>[^)#\s]+)#L(?P=line)\)")


def _at(rev: str, path: str) -> list[str] | None:
    out = subprocess.run(
        ["git", "show", f"{rev}:{path}"], cwd=REPO, capture_output=True, text=True, check=False
    )
    return out.stdout.splitlines() if out.returncode == 0 else None


def follow(old: list[str], new: list[str], line: int) -> int | None:
    """Where 1-based `line` of `old` is in `new`: through the diff; for a line the diff
    replaced, its exact text when that occurs once in `new`, else the most similar line of
    the block that replaced it (a signature that gained a parameter); None when the line
    was deleted or nothing in its place resembles it."""
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    i = line - 1
    text = old[i].strip()
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if not a0 <= i < a1:
            continue
        if tag == "equal":
            return b0 + (i - a0) + 1
        hits = [n for n, candidate in enumerate(new, 1) if candidate.strip() == text]
        if len(hits) == 1:
            return hits[0]
        scored = [
            (difflib.SequenceMatcher(a=text, b=new[n].strip()).ratio(), n + 1)
            for n in range(b0, b1)
        ]
        best = max(scored, default=(0.0, 0))
        return best[1] if best[0] >= 0.6 else None
    return None


def relink(since: str) -> tuple[str, list[str]]:
    doc = _at(since, MAP)
    if doc is None:
        raise SystemExit(f"{MAP} does not exist at {since}")
    cache: dict[str, tuple[list[str] | None, list[str] | None]] = {}
    problems: list[str] = []
    # the map as it is now: where a line cannot be followed, its current link is kept
    # (a hand fix made after an earlier run survives the next one)
    current = [m[0] for m in LINK.finditer((REPO / MAP).read_text())]
    position = itertools.count()

    def move(match: re.Match[str]) -> str:
        k = next(position)
        path = (REPO / "docs" / match["path"]).resolve().relative_to(REPO.resolve()).as_posix()
        if path not in cache:
            file = REPO / path
            cache[path] = (
                _at(since, path),
                file.read_text().splitlines() if file.exists() else None,
            )
        old, new = cache[path]
        line = int(match["line"])
        moved = follow(old, new, line) if old and new and line <= len(old) else None
        if moved is None:
            kept = current[k] if k < len(current) else match[0]
            problems.append(f"{path}:{line} ({match['name']}): changed or gone, kept {kept}")
            return kept
        return f"[{match['name']}:{moved}]({match['path']}#L{moved})"

    return LINK.sub(move, "\n".join(doc) + "\n"), problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--since", required=True, help="a revision at which the links were right")
    args = parser.parse_args(argv)
    text, problems = relink(args.since)
    current = (REPO / MAP).read_text()
    if _strip_numbers(current) != _strip_numbers(text):
        print(
            f"{MAP} has other edits since {args.since}: apply the numbers by hand", file=sys.stderr
        )
        return 1
    (REPO / MAP).write_text(text)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


def _strip_numbers(text: str) -> str:
    return re.sub(r":\d+\]|#L\d+", "", text)


if __name__ == "__main__":
    sys.exit(main())

"""Bench: the operator's Job path run locally (one process per completion index, as one
pod per day would be) against the plain `etl backfill` (one process for the range).

Prints wall times; each side gets its own fresh DuckDB warehouse. Measures, asserts nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

START, END = os.environ.get("BENCH_START", "2013-01-01"), os.environ.get("BENCH_END", "2013-01-07")
BIN = Path(sys.executable).parent


def timed(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    data = Path(os.environ.get("ETL_DATA_DIR", "data")).absolute()
    env = {**os.environ, "ETL_DATA_DIR": str(data)}
    subprocess.run(
        [BIN / "etl", "seed", "--start", START, "--end", END],
        env=env,
        check=True,
        capture_output=True,
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, cmd in [
            (
                "k8s Indexed Job (local, 1 process/day)",
                [BIN / "etl-k8s-local", "backfill", "--start", START, "--end", END],
            ),
            (
                "plain CLI etl backfill (1 process)",
                [BIN / "etl", "backfill", "--start", START, "--end", END],
            ),
        ]:
            wh = f"duckdb:///{tmp}/{label.split()[0]}-{len(rows)}.duckdb"
            run_env = {**env, "WAREHOUSE_URL": wh, "LANDING_DIR": str(data / "landing")}
            rows.append((label, timed([str(c) for c in cmd], run_env)))
    days = len(rows) and (
        time.strptime(END, "%Y-%m-%d").tm_yday - time.strptime(START, "%Y-%m-%d").tm_yday + 1
    )
    print(f"backfill {START}..{END} ({days} days), wall time:")
    for label, secs in rows:
        print(f"  {label:42s} {secs:6.2f} s  ({secs / days:.2f} s/day)")


if __name__ == "__main__":
    main()

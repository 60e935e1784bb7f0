"""`make ui`: Dagster's web UI on this machine, with the assets loaded and the demo week landed.

Runs `dagster dev` (webserver, code server for this project's definitions, daemon; the
local instance in DAGSTER_HOME) on HOST:PORT (default 127.0.0.1:3000), after landing
2013-01-01..07 (`etl seed --only-missing`).

The servers run in a process group of their own (etl_shared.launcher), so a Ctrl-C reaches
only the launcher, which stops the group: SIGINT (what the tools expect), then SIGTERM,
then SIGKILL, each after a bounded wait (`dagster dev` alone leaves its webserver and code
server running after a Ctrl-C). It is the child subreaper of everything it starts, so no
server process is left behind when it exits.
"""

from __future__ import annotations

import os
import sys

from etl_shared import launcher

DEFAULT_PORT = 3000


def start(group: launcher.ProcessGroup, host: str, port: int, url: str) -> str:
    """`dagster dev` on host:port; the banner once its webserver answers."""
    print(f"starting Dagster on {url} (dagster dev) ...", flush=True)
    group.start(
        [launcher.tool_path("dagster"), "dev", "-h", host, "-p", str(port)], dict(os.environ)
    )
    seconds = launcher.wait_until_healthy(
        f"{url}/server_info", group, launcher.START_TIMEOUT_SECONDS
    )
    return (
        f"\nDagster UI: {url}  (up in {seconds:.0f} s)\n"
        f"  asset graph: {url}/asset-groups; landed: {launcher.DEMO_START}..{launcher.DEMO_END}\n"
        "  Ctrl-C stops every Dagster process.\n"
    )


def main() -> int:
    return launcher.run_ui("Dagster", DEFAULT_PORT, start)


if __name__ == "__main__":
    sys.exit(main())

"""`make ui`: Prefect's server and web UI on this machine, with flights_daily deployed and served.

Runs `prefect server start` (API and UI; SQLite in PREFECT_HOME) on HOST:PORT (default
127.0.0.1:4200), after landing 2013-01-01..07 (`etl seed --only-missing`), then serves the
deployments of `prefect_platform.serve` against it (`flights_daily/flights-daily-local`,
`backfill/backfill-local`): a Run from the UI executes in that process, no work pool needed.

The servers run in a process group of their own (etl_shared.launcher), so a Ctrl-C reaches
only the launcher, which stops the group: SIGINT (what the tools expect), then SIGTERM,
then SIGKILL, each after a bounded wait. It is the child subreaper of everything it
starts, so no server process is left behind when it exits.
"""

from __future__ import annotations

import os
import sys

from etl_shared import launcher

DEFAULT_PORT = 4200


def start(group: launcher.ProcessGroup, host: str, port: int, url: str) -> str:
    """`prefect server start` on host:port, then the served deployments; the banner."""
    print(f"starting Prefect on {url} (prefect server start) ...", flush=True)
    env = {**os.environ, "PREFECT_UI_API_URL": f"{url}/api"}
    env.pop("PREFECT_API_URL", None)
    group.start(
        [launcher.tool_path("prefect"), "server", "start", "--host", host, "--port", str(port)], env
    )
    seconds = launcher.wait_until_healthy(
        f"{url}/api/health", group, launcher.START_TIMEOUT_SECONDS
    )
    # The served deployments: the flows run in this process when triggered from the UI.
    serve_env = {**os.environ, "PREFECT_API_URL": f"{url}/api"}
    group.start([sys.executable, "-m", "prefect_platform.serve"], serve_env)
    wait_until_deployed(f"{url}/api", group, launcher.START_TIMEOUT_SECONDS)
    return (
        f"\nPrefect UI: {url}  (up in {seconds:.0f} s)\n"
        f"  deployments: {url}/deployments (flights_daily/flights-daily-local: Run > "
        f"Custom run, date YYYY-MM-DD); landed: {launcher.DEMO_START}..{launcher.DEMO_END}\n"
        "  Ctrl-C stops the server and the served deployments.\n"
    )


def wait_until_deployed(api: str, group: launcher.ProcessGroup, timeout: float) -> None:
    """Wait until the served flights_daily deployment is registered with the server."""
    launcher.wait_until_healthy(
        f"{api}/deployments/name/flights_daily/flights-daily-local",
        group,
        timeout,
        timed_out="flights_daily was not deployed",
        name_arg=-1,
    )


def main() -> int:
    return launcher.run_ui("Prefect", DEFAULT_PORT, start)


if __name__ == "__main__":
    sys.exit(main())

"""`make ui`: Airflow's web UI on this machine, with flights_daily loaded and the demo week landed.

Runs `airflow standalone` (API server with the React UI, scheduler, DAG processor,
triggerer; SQLite metadata DB and LocalExecutor under AIRFLOW_HOME) on HOST:PORT
(default 127.0.0.1:8080), after landing 2013-01-01..07 (`etl seed --only-missing`).
Login: the simple auth manager's user `admin`, password `admin` (a local passwords file,
written on first start: change it there). flights_daily's schedule ends with the landed
week (FLIGHTS_DAILY_LAST_DATE), so unpausing it in the UI runs those seven days.

The servers run in a process group of their own (etl_shared.launcher), so a Ctrl-C reaches
only the launcher, which stops the group: SIGINT (what the tools expect), then SIGTERM,
then SIGKILL, each after a bounded wait. It is the child subreaper of everything it
starts, so no server process is left behind when it exits.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from etl_shared import launcher

DEFAULT_PORT = 8080
USER, PASSWORD = "admin", "admin"


def server_env(host: str, port: int) -> dict[str, str]:
    """Airflow's settings for a local UI on host:port with a known login."""
    home = Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow"))
    home.mkdir(parents=True, exist_ok=True)
    passwords = home / "ui-passwords.json"
    if not passwords.exists():
        passwords.write_text(json.dumps({USER: PASSWORD}) + "\n")
    base_url = f"http://{launcher.browser_host(host)}:{port}"
    return {
        **os.environ,
        "AIRFLOW__API__HOST": host,
        "AIRFLOW__API__PORT": str(port),
        # Tasks reach the execution API here; the UI's links use it too.
        "AIRFLOW__API__BASE_URL": base_url,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base_url}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        # flights_daily's schedule ends with the landed week: unpausing it runs those days.
        "FLIGHTS_DAILY_LAST_DATE": os.environ.get("FLIGHTS_DAILY_LAST_DATE", launcher.DEMO_END),
    }


def start(group: launcher.ProcessGroup, host: str, port: int, url: str) -> str:
    """`airflow standalone` on host:port; the banner once its API server answers."""
    env = server_env(host, port)
    print(f"starting Airflow on {url} (airflow standalone) ...", flush=True)
    group.start([launcher.tool_path("airflow"), "standalone"], env)
    seconds = launcher.wait_until_healthy(
        f"{url}/api/v2/monitor/health", group, launcher.START_TIMEOUT_SECONDS
    )
    return (
        f"\nAirflow UI: {url}  (up in {seconds:.0f} s)\n"
        f"  log in as {USER} / {PASSWORD} (passwords file: "
        f"{env['AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE']})\n"
        f"  DAG flights_daily: {url}/dags/flights_daily; "
        f"landed: {launcher.DEMO_START}..{launcher.DEMO_END}\n"
        "  Ctrl-C stops every Airflow process.\n"
    )


def main() -> int:
    return launcher.run_ui("Airflow", DEFAULT_PORT, start)


if __name__ == "__main__":
    sys.exit(main())

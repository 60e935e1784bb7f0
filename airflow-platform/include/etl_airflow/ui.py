"""`make ui`: Airflow's web UI on this machine, with flights_daily loaded and the demo week landed.

Runs `airflow standalone` (API server with the React UI, scheduler, DAG processor,
triggerer; SQLite metadata DB and LocalExecutor under AIRFLOW_HOME) on HOST:PORT
(default 127.0.0.1:8080), after landing 2013-01-01..07 (`etl seed --only-missing`).
Login: the simple auth manager's user `admin`, password `admin` (a local passwords file,
written on first start: change it there). flights_daily's schedule ends with the landed
week (FLIGHTS_DAILY_LAST_DATE), so unpausing it in the UI runs those seven days.

The servers run in a process group of their own, so a Ctrl-C reaches only this launcher,
which stops the group: SIGINT (what the tools expect), then SIGTERM, then SIGKILL, each
after a bounded wait. It is the child subreaper of everything it starts, so no server
process is left behind when it exits.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

DEFAULT_PORT = 8080
DEMO_START, DEMO_END = "2013-01-01", "2013-01-07"
START_TIMEOUT_SECONDS = 600
# How the servers are stopped: each signal to the whole group, then at most that long a wait.
STOP_SIGNALS = ((signal.SIGINT, 6.0), (signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0))
USER, PASSWORD = "admin", "admin"


class Stop(Exception):
    """A signal asked the launcher to stop."""


def port_in_use(host: str, port: int) -> bool:
    """True when something already listens on host:port (checked before starting)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def browser_host(host: str) -> str:
    """The address a browser on this machine uses for a server bound to `host`."""
    if host in ("0.0.0.0", "", "*"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


class ProcessGroup:
    """Server processes in one process group of their own, stopped together."""

    def __init__(self) -> None:
        self.pgid: int | None = None
        self.procs: list[subprocess.Popen[bytes]] = []
        # Orphaned grandchildren are re-parented to this process, which reaps them.
        PR_SET_CHILD_SUBREAPER = 36
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)

    def start(self, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(argv, env=env, process_group=self.pgid or 0)
        self.pgid = self.pgid or proc.pid
        self.procs.append(proc)
        return proc

    def exited(self) -> subprocess.Popen[bytes] | None:
        return next((p for p in self.procs if p.poll() is not None), None)

    def _reap(self) -> None:
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return

    def _alive(self) -> bool:
        self._reap()
        try:
            os.killpg(self.pgid, 0)
        except ProcessLookupError:
            return False
        return True

    def stop(self) -> None:
        if self.pgid is None:
            return
        start = time.monotonic()
        # Clients before their server (the last started first), each asked with SIGTERM.
        for proc in reversed(self.procs[1:]):
            if proc.poll() is None:
                proc.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=STOP_SIGNALS[0][1])
        for sig, wait_seconds in STOP_SIGNALS:
            if sig != STOP_SIGNALS[0][0]:
                print(f"make ui: still running after {time.monotonic() - start:.0f} s: {sig.name}")
            try:
                os.killpg(self.pgid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait_seconds
            while self._alive() and time.monotonic() < deadline:
                time.sleep(0.1)
            if not self._alive():
                break
        for proc in self.procs:
            proc.poll()


def wait_until_healthy(url: str, group: ProcessGroup, timeout: float) -> float:
    """Seconds until `url` answers 200; fails if a server exits or the time runs out."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if (proc := group.exited()) is not None:
            raise SystemExit(f"make ui: {proc.args[0]} exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - start
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"make ui: no answer from {url} after {timeout:.0f} s")


def seed_demo_week() -> None:
    etl = str(Path(sys.executable).with_name("etl"))
    seed = [etl, "seed", "--start", DEMO_START, "--end", DEMO_END, "--only-missing"]
    subprocess.run(seed, check=True)


def _raise_stop(signum: int, frame: object) -> None:
    raise Stop(signal.Signals(signum).name)


def server_env(host: str, port: int) -> dict[str, str]:
    """Airflow's settings for a local UI on host:port with a known login."""
    home = Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow"))
    home.mkdir(parents=True, exist_ok=True)
    passwords = home / "ui-passwords.json"
    if not passwords.exists():
        passwords.write_text(json.dumps({USER: PASSWORD}) + "\n")
    base_url = f"http://{browser_host(host)}:{port}"
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
        "FLIGHTS_DAILY_LAST_DATE": os.environ.get("FLIGHTS_DAILY_LAST_DATE", DEMO_END),
    }


def main() -> int:
    host = os.environ.get("HOST") or "127.0.0.1"
    port = int(os.environ.get("PORT") or DEFAULT_PORT)
    if port_in_use(host, port):
        print(
            f"make ui: port {port} on {host} is already in use; stop what listens there "
            f"or choose another port: make ui PORT=<port>",
            file=sys.stderr,
        )
        return 1
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_stop)
    group = ProcessGroup()
    url = f"http://{browser_host(host)}:{port}"
    try:
        seed_demo_week()
        env = server_env(host, port)
        print(f"starting Airflow on {url} (airflow standalone) ...", flush=True)
        group.start([str(Path(sys.executable).with_name("airflow")), "standalone"], env)
        seconds = wait_until_healthy(f"{url}/api/v2/monitor/health", group, START_TIMEOUT_SECONDS)
        print(
            f"\nAirflow UI: {url}  (up in {seconds:.0f} s)\n"
            f"  log in as {USER} / {PASSWORD} (passwords file: "
            f"{env['AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE']})\n"
            f"  DAG flights_daily: {url}/dags/flights_daily; landed: {DEMO_START}..{DEMO_END}\n"
            "  Ctrl-C stops every Airflow process.\n",
            flush=True,
        )
        while group.exited() is None:
            time.sleep(0.5)
        proc = group.exited()
        print(f"make ui: {proc.args[0]} exited with code {proc.returncode}", file=sys.stderr)
        return 1
    except Stop:
        print("make ui: stopping Airflow ...", flush=True)
        return 0
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)  # a second Ctrl-C does not cut the stop short
        group.stop()


if __name__ == "__main__":
    sys.exit(main())

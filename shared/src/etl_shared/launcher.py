"""The mechanics of every platform's `make ui`: servers in a process group, stopped together.

A platform's `ui.py` says what it starts (its commands, their environment, the health
address, the banner it prints); `run_ui` does the rest, the same for every tool: refuse a
port in use with one line, land the demo week (`etl seed --only-missing`), start the
servers in a process group of their own, so a Ctrl-C reaches only the launcher, and stop
the group on SIGINT/SIGTERM/SIGHUP: SIGINT (what the tools expect), then SIGTERM, then
SIGKILL, each after a bounded wait. The launcher is the child subreaper of everything it
starts, so no server process is left behind when it exits.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

DEMO_START, DEMO_END = "2013-01-01", "2013-01-07"
START_TIMEOUT_SECONDS = 600
# How the servers are stopped: each signal to the whole group, then at most that long a wait.
STOP_SIGNALS = ((signal.SIGINT, 6.0), (signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0))
_HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


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


def port_in_use_message(host: str, port: int) -> str:
    """The one line `make ui` prints when host:port is taken."""
    return (
        f"make ui: port {port} on {host} is already in use; stop what listens there "
        f"or choose another port: make ui PORT=<port>"
    )


def browser_host(host: str) -> str:
    """The address a browser on this machine uses for a server bound to `host`."""
    if host in ("0.0.0.0", "", "*"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def tool_path(name: str) -> str:
    """A command installed next to this Python (the platform's venv), e.g. `airflow`."""
    return str(Path(sys.executable).with_name(name))


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


def wait_until_healthy(
    url: str,
    group: ProcessGroup,
    timeout: float,
    *,
    timed_out: str | None = None,
    name_arg: int = 0,
) -> float:
    """Seconds until `url` answers 200; fails if a server exits or the time runs out.

    The failure names the exited process by its `name_arg`-th argument; `timed_out` replaces
    the "no answer from <url>" of a timeout.
    """
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if (proc := group.exited()) is not None:
            raise SystemExit(f"make ui: {proc.args[name_arg]} exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - start
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"make ui: {timed_out or f'no answer from {url}'} after {timeout:.0f} s")


def seed_demo_week() -> None:
    seed = [tool_path("etl"), "seed", "--start", DEMO_START, "--end", DEMO_END, "--only-missing"]
    subprocess.run(seed, check=True)


def _raise_stop(signum: int, frame: object) -> None:
    raise Stop(signal.Signals(signum).name)


# What a platform starts: given the process group, the host, the port and the browser's
# address of the UI, it starts its servers, waits until they answer and returns the banner.
Starter = Callable[[ProcessGroup, str, int, str], str]


def supervise(
    tool: str, host: str, port: int, start: Starter, *, prepare: Callable[[], None] = lambda: None
) -> int:
    """Run `start` under the launcher's signals until a server exits (1) or a signal stops it (0).

    `prepare` runs first, already stoppable by a Ctrl-C (the landing of the demo week).
    """
    for signum in _HANDLED:
        signal.signal(signum, _raise_stop)
    group = ProcessGroup()
    url = f"http://{browser_host(host)}:{port}"
    try:
        prepare()
        print(start(group, host, port, url), flush=True)
        while group.exited() is None:
            time.sleep(0.5)
        proc = group.exited()
        print(f"make ui: {proc.args[0]} exited with code {proc.returncode}", file=sys.stderr)
        return 1
    except Stop:
        print(f"make ui: stopping {tool} ...", flush=True)
        return 0
    finally:
        for signum in _HANDLED:
            signal.signal(signum, signal.SIG_IGN)  # a second Ctrl-C does not cut the stop short
        group.stop()


def run_ui(tool: str, default_port: int, start: Starter) -> int:
    """`make ui` for `tool` on $HOST:$PORT (default 127.0.0.1:`default_port`); the exit code."""
    host = os.environ.get("HOST") or "127.0.0.1"
    port = int(os.environ.get("PORT") or default_port)
    if port_in_use(host, port):
        print(port_in_use_message(host, port), file=sys.stderr)
        return 1
    return supervise(tool, host, port, start, prepare=seed_demo_week)

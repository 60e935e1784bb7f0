"""Airflow's own components as local processes: `airflow api-server`, `airflow scheduler`,
`airflow dag-processor`, each with its log file, and a bounded, orphan-free stop.

Used by `make bench-year` (bench/bench_year.py: the LocalExecutor). Each process runs in a
session of its own (a Ctrl-C of the caller's terminal does not reach it half-way); the
caller stops them with :meth:`Services.stop`, which also kills what each left behind in
its process group (the LocalExecutor's workers, the task processes they fork).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

COMPONENTS = ("api-server", "scheduler", "dag-processor")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def airflow_cli() -> str:
    """This venv's `airflow` script."""
    return str(Path(sys.executable).parent / "airflow")


class Services:
    """api-server (on 127.0.0.1:port), scheduler and dag-processor, started with `env`,
    logging into `logs`/<component>.log."""

    def __init__(self, env: Mapping[str, str], logs: Path, port: int, cwd: Path) -> None:
        self.env = dict(env)
        self.logs = logs
        self.port = port
        self.cwd = cwd
        self.api_url = f"http://127.0.0.1:{port}"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        airflow = airflow_cli()
        commands = {
            "api-server": [airflow, "api-server", "--host", "127.0.0.1", "--port", str(self.port)],
            "scheduler": [airflow, "scheduler"],
            "dag-processor": [airflow, "dag-processor"],
        }
        for name, argv in commands.items():
            with self.log(name).open("wb") as out:
                self.procs[name] = subprocess.Popen(
                    argv, cwd=self.cwd, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL, start_new_session=True,
                )  # fmt: skip

    def check_alive(self) -> None:
        """Raise naming the component (and its log) that exited."""
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(
                    f"airflow {name} exited with {proc.returncode}; log: {self.log(name)}\n"
                    f"{self.tail(name)}"
                )

    def tail(self, name: str, chars: int = 3000) -> str:
        path = self.log(name)
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def call(self, method: str, path: str, body: Any = None, timeout: float = 30) -> Any:
        """One REST call (the simple auth manager's all-admins mode: no token)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.api_url}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            raise RuntimeError(f"{method} {path}: HTTP {exc.code}: {detail}") from exc

    def get_or_none(self, path: str) -> Any:
        try:
            return self.call("GET", path, timeout=10)
        except (urllib.error.URLError, ConnectionError, TimeoutError, RuntimeError):
            return None

    def wait(self, check: Any, timeout: float, what: str, interval: float = 0.5) -> Any:
        """Poll `check()` until truthy (returned); raise after `timeout` s naming `what`,
        or at once when a component exited."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            value = check()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"timed out after {timeout:.0f} s waiting for {what}; logs: {self.logs}"
                )
            time.sleep(interval)

    def stop(self, grace: float = 20) -> None:
        """SIGTERM to every component at once (the scheduler waits for its executor's
        workers), a bounded wait, then SIGKILL to whatever is left of each process group."""
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
        deadline = time.monotonic() + grace
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)  # its children too: no strays
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)

    def __enter__(self) -> Services:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

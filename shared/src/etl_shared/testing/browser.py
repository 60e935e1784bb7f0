"""The browser tests' tool-independent parts: `make ui` in the background, Debian's Chromium.

Every platform's tests/test_ui.py starts its `make ui` on a free port (`start_ui`), drives
its own web UI through Playwright in the system Chromium (`chromium`), saves screenshots
(`screenshot`, to the repository's reports/ui/) and stops the UI with a Ctrl-C, finding no
process of it left (`assert_ctrl_c_stops_every_process`). Playwright is each platform's
dev dependency, not etl-shared's: it is imported inside the functions that drive the
browser.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


# --- processes and ports ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[1])


def descendants(pid: int) -> set[int]:
    """Every live process below `pid`, found by walking /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) and stat[0] != "Z":
            parents.setdefault(stat[1], []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def running(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on `port` (from /proc/net/tcp, tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.split(":")
            if state == "0A" and int(port_hex, 16) == port:
                if len(address) == 8:
                    found.add(socket.inet_ntop(socket.AF_INET, bytes.fromhex(address)[::-1]))
                else:
                    words = [bytes.fromhex(address[i : i + 8])[::-1] for i in range(0, 32, 8)]
                    found.add(socket.inet_ntop(socket.AF_INET6, b"".join(words)))
    return found


def port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def report(config: pytest.Config, line: str) -> None:
    """A line in the test output, also when pytest captures output."""
    capture = config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        config.pluginmanager.get_plugin("terminalreporter").write_line(line)


def make_ui(
    platform_dir: Path, env: dict[str, str], *args: str, log: Path
) -> subprocess.Popen[bytes]:
    """`make ui ARGS` in a process group of its own, as a terminal would run it."""
    with log.open("wb") as out:
        return subprocess.Popen(
            ["make", "--no-print-directory", "-C", str(platform_dir), "ui", *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            process_group=0,
        )


def kill_tree(proc: subprocess.Popen[bytes], pids: set[int]) -> None:
    """Last resort when a test failed: nothing of the UI outlives the session."""
    for pid in pids | descendants(proc.pid) | {proc.pid}:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait(timeout=10)


@dataclass
class Ui:
    proc: subprocess.Popen[bytes]
    url: str
    port: int
    log: Path
    env: dict[str, str]
    warehouse_url: str
    started_in: float

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def wait_healthy(proc: subprocess.Popen[bytes], url: str, log: Path, timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if proc.poll() is not None:
            pytest.fail(f"make ui exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=3) as response:
                if response.status == 200:
                    return time.monotonic() - start
        except OSError:
            pass
        time.sleep(1)
    pytest.fail(f"no answer from {url} after {timeout} s:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def start_ui(
    config: pytest.Config,
    platform_dir: Path,
    env: dict[str, str],
    *args: str,
    tmp: Path,
    warehouse_url: str,
    ready_path: str,
    timeout: float,
    answered: str,
) -> Iterator[Ui]:
    """`make ui PORT=<free port> ARGS` until `ready_path` answers; stopped with a Ctrl-C after.

    `answered` is the line reported when it answers, with `{seconds}` filled in.
    """
    port = free_port()
    log = tmp / "make-ui.log"
    proc = make_ui(platform_dir, env, f"PORT={port}", *args, log=log)
    pids: set[int] = set()
    try:
        url = f"http://127.0.0.1:{port}"
        seconds = wait_healthy(proc, f"{url}{ready_path}", log, timeout)
        report(config, answered.format(seconds=seconds))
        pids = descendants(proc.pid)
        yield Ui(proc, url, port, log, env, warehouse_url, seconds)
    finally:
        if proc.poll() is None:
            pids |= descendants(proc.pid)
            os.killpg(proc.pid, signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=30)
        kill_tree(proc, pids)


# --- the browser --------------------------------------------------------------------------


@contextlib.contextmanager
def chromium(profile: Path) -> Iterator[Any]:
    """A persistent Playwright context of Debian's Chromium (headless) with its profile there."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: `make setup-browser` (run by `make test`) installs "
            "Debian's chromium package"
        )
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()
    finally:
        playwright.stop()


def screenshot(page: Any, path: Path) -> Path:
    """A full-page screenshot of `page` at `path` (its folder made)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


# --- the checks every platform's UI passes ------------------------------------------------


def assert_port_in_use_gives_one_clear_line(platform_dir: Path, host: str, tmp_path: Path) -> None:
    """`make ui` on a taken port: a non-zero exit, one line naming it, nothing landed."""
    port = free_port()
    with socket.socket() as busy:
        busy.bind((host, port))
        busy.listen()
        log = tmp_path / "make-ui.log"
        args = [f"PORT={port}"] + ([f"HOST={host}"] if host != "127.0.0.1" else [])
        proc = make_ui(platform_dir, {**os.environ, "ETL_DATA_DIR": str(tmp_path)}, *args, log=log)
        try:
            assert proc.wait(timeout=120) != 0
        finally:
            kill_tree(proc, set())
    out = log.read_text()
    assert f"make ui: port {port} on {host} is already in use" in out, out
    assert "Traceback" not in out, out
    assert not (tmp_path / "landing").exists(), "nothing starts when the port is taken"


def assert_ctrl_c_stops_every_process(config: pytest.Config, ui: Ui, tool: str) -> None:
    """A Ctrl-C (SIGINT to the process group) stops every process of `make ui`, port freed."""
    pids = descendants(ui.proc.pid)
    assert any(
        tool in Path(f"/proc/{p}/cmdline").read_text(errors="replace") for p in pids if running(p)
    )
    started = time.monotonic()
    os.killpg(ui.proc.pid, signal.SIGINT)
    ui.proc.wait(timeout=60)
    deadline = time.monotonic() + 5
    while any(running(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    seconds = time.monotonic() - started
    report(config, f"{tool}: make ui stopped {len(pids)} processes in {seconds:.1f} s after Ctrl-C")
    assert [p for p in pids if running(p)] == [], ui.tail()
    assert port_free("127.0.0.1", ui.port)
    assert seconds < 30, ui.tail()

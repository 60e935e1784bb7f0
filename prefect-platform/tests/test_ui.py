"""`make ui` as a user meets it: Prefect's own web UI in a real browser (Debian's Chromium).

One `make ui` for the module, on a free port, with its own Prefect home and warehouse:
the browser opens the served `flights_daily` deployment, starts a custom run for one
partition from its Run menu and waits until the page shows it completed; the warehouse
then holds that day. Screenshots go to reports/ui/. The last test stops the UI with a
Ctrl-C (SIGINT to its process group) and finds no process of it left.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

from etl_shared.warehouse import open_warehouse

PLATFORM_DIR = Path(__file__).resolve().parents[1]
REPORTS = PLATFORM_DIR.parent / "reports" / "ui"
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
START_TIMEOUT = 360  # seconds: the API server and the served deployments on 2 busy cores
RUN_TIMEOUT = 240_000  # milliseconds: the runner picks the run up, then five tasks
PARTITION = "2013-01-05"
DEPLOYMENT = "flights-daily-local"


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


def make_ui(env: dict[str, str], *args: str, log: Path) -> subprocess.Popen[bytes]:
    """`make ui ARGS` in a process group of its own, as a terminal would run it."""
    with log.open("wb") as out:
        return subprocess.Popen(
            ["make", "--no-print-directory", "-C", str(PLATFORM_DIR), "ui", *args],
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


@pytest.fixture(scope="module")
def ui(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ui]:
    tmp = tmp_path_factory.mktemp("prefect-ui")
    warehouse_url = f"duckdb:///{tmp}/warehouse.duckdb"
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp / "prefect_home"),
        "ETL_DATA_DIR": str(tmp / "data"),
        "WAREHOUSE_URL": warehouse_url,
    }
    for name in ("LANDING_DIR", "STAGING_DIR", "PREFECT_API_URL"):
        env.pop(name, None)
    port = free_port()
    log = tmp / "make-ui.log"
    proc = make_ui(env, f"PORT={port}", log=log)
    pids: set[int] = set()
    try:
        url = f"http://127.0.0.1:{port}"
        deployment = f"{url}/api/deployments/name/flights_daily/{DEPLOYMENT}"
        seconds = wait_healthy(proc, deployment, log, START_TIMEOUT)
        report(request.config, f"\nprefect: make ui served flights_daily after {seconds:.0f} s")
        pids = descendants(proc.pid)
        yield Ui(proc, url, port, log, env, warehouse_url, seconds)
    finally:
        if proc.poll() is None:
            pids |= descendants(proc.pid)
            os.killpg(proc.pid, signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=30)
        kill_tree(proc, pids)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: `make setup-browser` (run by `make test`) installs "
            "Debian's chromium package"
        )
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
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


@pytest.fixture(scope="module")
def page(ui: Ui, browser):
    page = browser.new_page()
    page.set_default_timeout(60_000)
    yield page
    page.close()


def screenshot(page, name: str) -> Path:
    REPORTS.mkdir(parents=True, exist_ok=True)
    path = REPORTS / f"prefect-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# --- the tests ------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2"])
def test_a_port_in_use_gives_one_clear_line(host: str, tmp_path: Path) -> None:
    port = free_port()
    with socket.socket() as busy:
        busy.bind((host, port))
        busy.listen()
        log = tmp_path / "make-ui.log"
        args = [f"PORT={port}"] + ([f"HOST={host}"] if host != "127.0.0.1" else [])
        proc = make_ui({**os.environ, "ETL_DATA_DIR": str(tmp_path)}, *args, log=log)
        try:
            assert proc.wait(timeout=120) != 0
        finally:
            kill_tree(proc, set())
    out = log.read_text()
    assert f"make ui: port {port} on {host} is already in use" in out, out
    assert "Traceback" not in out, out
    assert not (tmp_path / "landing").exists(), "nothing starts when the port is taken"


def test_the_server_listens_on_localhost_and_the_given_port(ui: Ui) -> None:
    assert listening_addresses(ui.port) == {"127.0.0.1"}, ui.tail()


def test_the_flights_daily_deployment_is_listed_and_ready(ui: Ui, page) -> None:
    page.goto(f"{ui.url}/deployments")
    row = page.get_by_role("row").filter(has_text=DEPLOYMENT)
    row.first.wait_for()
    # The row names the deployment's flow once the UI has fetched it.
    row.filter(has_text="flights_daily").filter(has_text="Ready").first.wait_for()
    screenshot(page, "deployments")


def test_a_custom_run_from_the_deployment_completes_and_lands_the_day(
    request: pytest.FixtureRequest, ui: Ui, page
) -> None:
    page.goto(f"{ui.url}/deployments")
    page.get_by_role("link", name=DEPLOYMENT).first.click()
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_text("Custom run").click()
    page.wait_for_url("**/run?parameters=*")
    # `date` is typed as a date, so the form offers a calendar. The form keeps its values
    # in its own address (`?parameters=`, JSON encoded twice): open it with the day set
    # there, as a link to a prefilled run would, and check the form shows that day.
    prefilled = quote(quote(json.dumps({"date": PARTITION}), safe=""), safe="")
    page.goto(re.sub(r"parameters=[^&]*", f"parameters={prefilled}", page.url))
    date = page.locator(".schema-form-property", has_text="date (Optional)").first
    day = dt.date.fromisoformat(PARTITION)
    date.locator(".p-date-button__value").filter(
        has_text=re.compile(rf"^{day:%b} {day.day}(st|nd|rd|th), {day.year}$")  # Jan 5th, 2013
    ).first.wait_for()
    screenshot(page, "custom-run")
    page.get_by_role("button", name="Submit").click()

    started = time.monotonic()
    # The run takes its name (flights_daily-<date>) when the served process starts it.
    run = page.get_by_role("link", name=f"flights_daily-{PARTITION}", exact=True).first
    run.wait_for(timeout=RUN_TIMEOUT)
    run.click()
    page.wait_for_url("**/flow-run/**")
    page.get_by_text("Task Runs", exact=True).first.wait_for()  # the run's own page
    page.get_by_text("Completed", exact=True).first.wait_for(timeout=RUN_TIMEOUT)
    page.get_by_text(re.compile(r"^\d+ Task runs?$")).first.wait_for()  # the run's details
    report(
        request.config,
        f"prefect: UI-started run completed after {time.monotonic() - started:.0f} s",
    )
    screenshot(page, "flow-run")

    with open_warehouse(ui.warehouse_url) as wh:
        flights = wh.table_rows("flights", PARTITION)
        runs = wh.query(
            "SELECT platform, status FROM pipeline_runs WHERE partition_date = ?",
            [dt.date.fromisoformat(PARTITION)],
        )
    assert flights, f"no flights for {PARTITION} in {ui.warehouse_url}"
    assert runs == [("prefect", "success")], runs


def test_ctrl_c_stops_every_process_within_seconds(request: pytest.FixtureRequest, ui: Ui) -> None:
    pids = descendants(ui.proc.pid)
    assert any(
        "prefect" in Path(f"/proc/{p}/cmdline").read_text(errors="replace")
        for p in pids
        if running(p)
    )
    started = time.monotonic()
    os.killpg(ui.proc.pid, signal.SIGINT)
    ui.proc.wait(timeout=60)
    deadline = time.monotonic() + 5
    while any(running(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    seconds = time.monotonic() - started
    report(
        request.config,
        f"prefect: make ui stopped {len(pids)} processes in {seconds:.1f} s after Ctrl-C",
    )
    assert [p for p in pids if running(p)] == [], ui.tail()
    assert port_free("127.0.0.1", ui.port)
    assert seconds < 30, ui.tail()

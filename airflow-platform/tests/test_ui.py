"""`make ui` as a user meets it: Airflow's own web UI in a real browser (Debian's Chromium).

One `make ui` for the module, on a free port, with its own Airflow home and warehouse:
the browser logs in, opens flights_daily's graph (its task groups), triggers a run for
one partition from the trigger form and waits until the page shows it succeeded; the
warehouse then holds that day. Screenshots go to reports/ui/. The last test stops the UI
with a Ctrl-C (SIGINT to its process group) and finds no process of it left.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest

from etl_shared.testing import browser as web
from etl_shared.warehouse import open_warehouse

PLATFORM_DIR = Path(__file__).resolve().parents[1]
REPORTS = PLATFORM_DIR.parent / "reports" / "ui"
START_TIMEOUT = 360  # seconds: every Airflow component starting on 2 busy cores
RUN_TIMEOUT = 300_000  # milliseconds: one DAG run, queued behind the landed week's catch-up
PARTITION = "2013-01-02"
USER, PASSWORD = "admin", "admin"
TASKS = ("extract", "schema", "quarantine", "transform", "load", "check", "record_run")
TASK_GROUPS = ("validate", "publish")


@pytest.fixture(scope="module")
def ui(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[web.Ui]:
    tmp = tmp_path_factory.mktemp("airflow-ui")
    home = tmp / "airflow_home"
    home.mkdir()
    # The session's migrated, still empty template DB (conftest) saves `make setup` a
    # migration; not the session's own DB, which holds the other tests' DAG runs.
    template = Path(os.environ["AIRFLOW_HOME"]) / f"template-airflow-{version('apache-airflow')}.db"
    shutil.copy(template, home / "airflow.db")
    (home / ".migrated").touch()
    warehouse_url = f"duckdb:///{tmp}/warehouse.duckdb"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "ETL_DATA_DIR": str(tmp / "data"),
        "WAREHOUSE_URL": warehouse_url,
        # Unpausing the DAG (the trigger form does) catches up on the days up to
        # PARTITION; the test waits for the run triggered from the form.
        "FLIGHTS_DAILY_LAST_DATE": PARTITION,
    }
    with web.start_ui(
        request.config,
        PLATFORM_DIR,
        env,
        tmp=tmp,
        warehouse_url=warehouse_url,
        ready_path="/api/v2/monitor/health",
        timeout=START_TIMEOUT,
        answered="\nairflow: make ui answered after {seconds:.0f} s",
    ) as ui:
        yield ui


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    with web.chromium(tmp_path_factory.mktemp("chromium-profile")) as context:
        yield context


@pytest.fixture(scope="module")
def page(ui: web.Ui, browser):
    """A logged-in page (simple auth manager, the user `make ui` documents)."""
    page = browser.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{ui.url}/dags/flights_daily")
    page.get_by_label("Username").fill(USER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/dags/flights_daily**")
    yield page
    page.close()


def screenshot(page, name: str) -> Path:
    return web.screenshot(page, REPORTS / f"airflow-{name}.png")


# --- the tests ------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2"])
def test_a_port_in_use_gives_one_clear_line(host: str, tmp_path: Path) -> None:
    web.assert_port_in_use_gives_one_clear_line(PLATFORM_DIR, host, tmp_path)


def test_the_api_server_listens_on_localhost_and_the_given_port(ui: web.Ui) -> None:
    assert web.listening_addresses(ui.port) == {"127.0.0.1"}, ui.tail()


def test_flights_daily_graph_shows_its_task_groups(ui: web.Ui, page) -> None:
    page.goto(f"{ui.url}/dags/flights_daily")
    page.get_by_role("button", name="Show Graph").click()
    page.get_by_role("button", name="Expand all task groups").click()
    graph = page.locator(".react-flow")
    for name in TASKS:
        graph.get_by_text(name, exact=True).first.wait_for()
    for group in TASK_GROUPS:
        graph.get_by_text(group, exact=True).first.wait_for()
    assert graph.get_by_text("Task Group").count() == len(TASK_GROUPS)
    screenshot(page, "graph")


def test_a_run_triggered_from_the_form_succeeds_and_lands_the_day(
    request: pytest.FixtureRequest, ui: web.Ui, page
) -> None:
    page.goto(f"{ui.url}/dags/flights_daily")
    page.get_by_role("button", name="Trigger Dag").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Single Run", exact=True).click()
    # flights_daily is partitioned (CronPartitionTimetable): the form asks for the
    # partition key, the day to load, instead of a logical date.
    partition_key = dialog.get_by_label("Partition Key")
    if not partition_key.is_visible():
        dialog.get_by_text("Advanced Options").click()
    partition_key.fill(PARTITION)
    assert dialog.get_by_test_id("datetime-input").count() == 0
    # A paused DAG runs nothing: the form unpauses it (its catch-up ends at PARTITION;
    # the scheduled run of PARTITION and this one take turns on the DuckDB file).
    assert dialog.get_by_role("checkbox", name="Unpause flights_daily on trigger").is_checked()
    screenshot(page, "trigger")
    dialog.get_by_role("button", name="Trigger", exact=True).click()
    page.get_by_text("Dag Run Triggered").first.wait_for()

    page.goto(f"{ui.url}/dags/flights_daily/runs")
    manual = page.get_by_role("row").filter(has_text="manual__")
    manual.first.wait_for()
    started = time.monotonic()
    manual.filter(has_text="success").first.wait_for(timeout=RUN_TIMEOUT)
    web.report(
        request.config,
        f"airflow: UI-triggered run succeeded after {time.monotonic() - started:.0f} s",
    )
    screenshot(page, "runs")

    with open_warehouse(ui.warehouse_url) as wh:
        flights = wh.table_rows("flights", PARTITION)
        runs = wh.query(
            "SELECT run_id, status FROM pipeline_runs WHERE partition_date = ?",
            [dt.date.fromisoformat(PARTITION)],
        )
    assert flights, f"no flights for {PARTITION} in {ui.warehouse_url}"
    assert any(
        run_id.startswith("airflow-manual__") and status == "success" for run_id, status in runs
    ), runs


def test_ctrl_c_stops_every_process_within_seconds(
    request: pytest.FixtureRequest, ui: web.Ui
) -> None:
    web.assert_ctrl_c_stops_every_process(request.config, ui, "airflow")

"""`make ui` as a user meets it: Prefect's own web UI in a real browser (Debian's Chromium).

One `make ui` for the module, on a free port, with its own Prefect home and warehouse:
the browser opens the served `flights_daily` deployment, starts a custom run for one
partition from its Run menu and waits until the page shows it completed; the warehouse
then holds that day. Screenshots go to reports/ui/. The last test stops the UI with a
Ctrl-C (SIGINT to its process group) and finds no process of it left.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from etl_shared.testing import browser as web
from etl_shared.warehouse import open_warehouse

PLATFORM_DIR = Path(__file__).resolve().parents[1]
REPORTS = PLATFORM_DIR.parent / "reports" / "ui"
START_TIMEOUT = 360  # seconds: the API server and the served deployments on 2 busy cores
RUN_TIMEOUT = 240_000  # milliseconds: the runner picks the run up, then five tasks
PARTITION = "2013-01-05"
DEPLOYMENT = "flights-daily-local"


@pytest.fixture(scope="module")
def ui(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[web.Ui]:
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
    with web.start_ui(
        request.config,
        PLATFORM_DIR,
        env,
        tmp=tmp,
        warehouse_url=warehouse_url,
        ready_path=f"/api/deployments/name/flights_daily/{DEPLOYMENT}",
        timeout=START_TIMEOUT,
        answered="\nprefect: make ui served flights_daily after {seconds:.0f} s",
    ) as ui:
        yield ui


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    with web.chromium(tmp_path_factory.mktemp("chromium-profile")) as context:
        yield context


@pytest.fixture(scope="module")
def page(ui: web.Ui, browser):
    page = browser.new_page()
    page.set_default_timeout(60_000)
    yield page
    page.close()


def screenshot(page, name: str) -> Path:
    return web.screenshot(page, REPORTS / f"prefect-{name}.png")


# --- the tests ------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2"])
def test_a_port_in_use_gives_one_clear_line(host: str, tmp_path: Path) -> None:
    web.assert_port_in_use_gives_one_clear_line(PLATFORM_DIR, host, tmp_path)


def test_the_server_listens_on_localhost_and_the_given_port(ui: web.Ui) -> None:
    assert web.listening_addresses(ui.port) == {"127.0.0.1"}, ui.tail()


def test_the_flights_daily_deployment_is_listed_and_ready(ui: web.Ui, page) -> None:
    page.goto(f"{ui.url}/deployments")
    row = page.get_by_role("row").filter(has_text=DEPLOYMENT)
    row.first.wait_for()
    # The row names the deployment's flow once the UI has fetched it.
    row.filter(has_text="flights_daily").filter(has_text="Ready").first.wait_for()
    screenshot(page, "deployments")


def test_a_custom_run_from_the_deployment_completes_and_lands_the_day(
    request: pytest.FixtureRequest, ui: web.Ui, page
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
    web.report(
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


def test_ctrl_c_stops_every_process_within_seconds(
    request: pytest.FixtureRequest, ui: web.Ui
) -> None:
    web.assert_ctrl_c_stops_every_process(request.config, ui, "prefect")

"""`make ui` as a user meets it: Dagster's own web UI in a real browser (Debian's Chromium).

One `make ui` for the module, on a free port, with its own Dagster home and warehouse:
the browser opens the daily group's asset graph (the partitioned assets, and the monthly
report downstream) and the assets' checks,
materializes one partition from the graph's "Materialize all" partition picker and waits
until the runs page shows it succeeded; the warehouse then holds that day. Screenshots go
to reports/ui/. The last test stops the UI with a Ctrl-C (SIGINT to its process group)
and finds no process of it left.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from etl_shared.testing import browser as web
from etl_shared.warehouse import open_warehouse

PLATFORM_DIR = Path(__file__).resolve().parents[1]
REPORTS = PLATFORM_DIR.parent / "reports" / "ui"
START_TIMEOUT = 360  # seconds: webserver, code server and daemon starting on 2 busy cores
RUN_TIMEOUT = 240_000  # milliseconds: one run of the five assets and their checks
PARTITION = "2013-01-05"
ASSETS = ("landing_file", "validated_rows", "flights", "carrier_daily", "quarantine")
REPORT = "carrier_monthly"  # the monthly report: its own group, linked from carrier_daily
# The daily group's lineage (`make ui`'s code location is `dagster_platform`): "Materialize
# all" there launches the five daily assets, never the monthly report with them.
DAILY_GROUP = "locations/__repository__@dagster_platform/asset-groups/flights_daily/lineage"
CHECKS = {  # flights last: the screenshot shows its three checks
    "validated_rows": ("validated_rows_reconcile",),
    "carrier_daily": ("carrier_daily_matches_flights",),
    "flights": ("rows_reconcile", "partition_not_empty", "flight_id_unique"),
}


@pytest.fixture(scope="module")
def ui(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[web.Ui]:
    tmp = tmp_path_factory.mktemp("dagster-ui")
    warehouse_url = f"duckdb:///{tmp}/warehouse.duckdb"
    env = {**os.environ, "ETL_DATA_DIR": str(tmp / "data"), "WAREHOUSE_URL": warehouse_url}
    for name in ("LANDING_DIR", "STAGING_DIR"):
        env.pop(name, None)
    with web.start_ui(
        request.config,
        PLATFORM_DIR,
        env,
        f"DAGSTER_HOME={tmp / 'dagster_home'}",
        tmp=tmp,
        warehouse_url=warehouse_url,
        ready_path="/server_info",
        timeout=START_TIMEOUT,
        answered="\ndagster: make ui answered after {seconds:.0f} s",
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


def open_asset_graph(page, ui: web.Ui) -> None:
    page.goto(f"{ui.url}/{DAILY_GROUP}")
    page.get_by_role("button", name="Materialize all").wait_for()
    # A fresh instance greets with a newsletter dialog once.
    with contextlib.suppress(PlaywrightTimeout):
        page.get_by_role("button", name="Skip").click(timeout=3_000)


def screenshot(page, name: str) -> Path:
    return web.screenshot(page, REPORTS / f"dagster-{name}.png")


# --- the tests ------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2"])
def test_a_port_in_use_gives_one_clear_line(host: str, tmp_path: Path) -> None:
    web.assert_port_in_use_gives_one_clear_line(PLATFORM_DIR, host, tmp_path)


def test_the_webserver_listens_on_localhost_and_the_given_port(ui: web.Ui) -> None:
    assert web.listening_addresses(ui.port) == {"127.0.0.1"}, ui.tail()


def test_the_asset_graph_shows_the_partitioned_assets_and_their_checks(ui: web.Ui, page) -> None:
    open_asset_graph(page, ui)
    graph = page.locator("[data-testid=asset-graph], .react-flow, svg").first
    for name in (*ASSETS, REPORT):
        page.get_by_text(name, exact=True).first.wait_for()
    assert graph.is_visible()
    screenshot(page, "asset-graph")
    for asset, checks in CHECKS.items():
        page.goto(f"{ui.url}/assets/{asset}?view=checks")
        for check in checks:
            page.get_by_text(check, exact=True).first.wait_for()
    screenshot(page, "checks")


def test_a_partition_materialized_from_the_graph_succeeds_and_lands_the_day(
    request: pytest.FixtureRequest, ui: web.Ui, page
) -> None:
    open_asset_graph(page, ui)
    page.get_by_role("button", name="Materialize all").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text(f"Launch runs to materialize {len(ASSETS)} assets").first.wait_for()
    partitions = dialog.get_by_placeholder("ex: 2013-01-01")
    partitions.fill(PARTITION)
    partitions.press("Enter")
    dialog.get_by_text("1 partition", exact=True).first.wait_for()
    screenshot(page, "launch")
    dialog.get_by_role("button", name="Launch 1 run").click()
    dialog.wait_for(state="hidden")

    started = time.monotonic()
    page.goto(f"{ui.url}/runs")
    # The one run of this instance: its partition tag, then its status.
    page.get_by_text(f"partition: {PARTITION}").first.wait_for()
    page.get_by_text("Success", exact=True).first.wait_for(timeout=RUN_TIMEOUT)
    web.report(
        request.config,
        f"dagster: UI-launched run succeeded after {time.monotonic() - started:.0f} s",
    )
    screenshot(page, "runs")

    with open_warehouse(ui.warehouse_url) as wh:
        flights = wh.table_rows("flights", PARTITION)
        runs = wh.query(
            "SELECT platform, status FROM pipeline_runs WHERE partition_date = ?",
            [dt.date.fromisoformat(PARTITION)],
        )
    assert flights, f"no flights for {PARTITION} in {ui.warehouse_url}"
    assert runs == [("dagster", "success")], runs


def test_ctrl_c_stops_every_process_within_seconds(
    request: pytest.FixtureRequest, ui: web.Ui
) -> None:
    web.assert_ctrl_c_stops_every_process(request.config, ui, "dagster")

"""`prefect-platform run|backfill|report`: a mistyped date or month is refused before any
server starts or any alert fires, by our check and by Prefect's own validation of the
typed parameters; an incomplete month's report fails in one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect.exceptions import ParameterTypeError
from prefect.settings import PREFECT_API_URL
from prefect_platform import cli
from prefect_platform.flows import backfill, carrier_report_monthly, flights_daily

from etl_shared.partitions import month_days


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--date", "2013-02-30"],
        ["run", "--date", "2014-01-01"],
        ["backfill", "--start", "2013-12-30", "--end", "2014-01-02"],
    ],
)
def test_bad_date_exits_2_before_any_run_or_alert(
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    alerts = tmp_path / "alerts.jsonl"
    monkeypatch.setenv("ETL_ALERT_FILE", str(alerts))
    monkeypatch.setattr(cli, "use_local_api", lambda: pytest.fail("an API was looked for"))
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("error: invalid partition")
    assert not alerts.exists()


@pytest.mark.parametrize("month", ["2013-13", "2014-01", "feb"])
def test_bad_month_exits_2_before_any_run(
    month: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "use_local_api", lambda: pytest.fail("an API was looked for"))
    assert cli.main(["report", "--month", month]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("error: invalid month"), err


def test_report_of_an_incomplete_month_exits_1_naming_the_missing_days(
    warehouse: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`make report MONTH=2013-01` before January is loaded: a failed flow run, exit 1."""
    monkeypatch.setattr(cli, "use_local_api", lambda: PREFECT_API_URL.value())
    assert cli.main(["report", "--month", "2013-01"]) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("carrier_report_monthly 2013-01: Failed:"), line
    assert "month 2013-01 is not complete: 31 of 31 days not loaded" in line, line
    assert f"{month_days('2013-01')[0]}..{month_days('2013-01')[-1]}" in line, line


@pytest.mark.parametrize(
    ("flow", "params"),
    [
        (flights_daily, {"date": "2013-02-30"}),
        (flights_daily, {"date": "2014-01-01"}),
        (flights_daily, {"date": "yesterday"}),
        (backfill, {"start": "2013-12-30", "end": "2014-01-02"}),
        (carrier_report_monthly, {"month": "2013-13"}),
        (carrier_report_monthly, {"month": "2013-02-01"}),
        (carrier_report_monthly, {"month": "2012-12"}),
    ],
)
def test_prefect_itself_refuses_a_bad_date_parameter(flow, params: dict) -> None:
    with pytest.raises(ParameterTypeError):
        flow.validate_parameters(params)


def test_the_date_parameter_is_a_date_in_the_deployment_schema() -> None:
    validated = flights_daily.validate_parameters({"date": "2013-01-05"})
    assert str(validated["date"]) == "2013-01-05"
    schema = flights_daily.parameters.model_dump()["properties"]["date"]
    assert '"format": "date"' in str(schema).replace("'", '"'), schema

"""`prefect-platform run|backfill`: a mistyped date is refused before any server starts or
any alert fires, by our check and by Prefect's own validation of the typed parameters."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect.exceptions import ParameterTypeError
from prefect_platform import cli
from prefect_platform.flows import backfill, flights_daily


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


@pytest.mark.parametrize(
    ("flow", "params"),
    [
        (flights_daily, {"date": "2013-02-30"}),
        (flights_daily, {"date": "2014-01-01"}),
        (flights_daily, {"date": "yesterday"}),
        (backfill, {"start": "2013-12-30", "end": "2014-01-02"}),
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

"""The code location loads, and its definitions say what the pipeline does."""

import dagster as dg
import pytest
from dagster_platform.defs.resources import build_resources
from dagster_platform.resources import EtlResource

DAILY_ASSETS = {"landing_file", "validated_rows", "flights", "carrier_daily", "quarantine"}
ASSETS = DAILY_ASSETS | {"carrier_monthly"}
CHECKS = {
    "validated_rows:validated_rows_reconcile",
    "flights:rows_reconcile",
    "flights:partition_not_empty",
    "flights:flight_id_unique",
    "carrier_daily:carrier_daily_matches_flights",
}


def test_definitions_load_every_asset_check_schedule_and_sensor(defs: dg.Definitions) -> None:
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    assert {k.to_user_string() for k in graph.get_all_asset_keys()} == ASSETS
    assert {k.to_user_string() for k in graph.asset_check_keys} == CHECKS
    assert defs.resolve_job_def("flights_daily").name == "flights_daily"
    assert defs.resolve_schedule_def("flights_daily_schedule").job_name == "flights_daily"
    assert defs.resolve_sensor_def("landing_file_sensor").job_name == "flights_daily"
    assert defs.resolve_job_def("carrier_report_monthly").name == "carrier_report_monthly"
    automation = defs.resolve_sensor_def("default_automation_condition_sensor")
    assert isinstance(automation, dg.AutomationConditionSensorDefinition)
    assert automation.default_status == dg.DefaultSensorStatus.STOPPED


def test_each_job_holds_one_cadence(defs: dg.Definitions) -> None:
    """The daily job runs the five daily assets and their checks, never the monthly report;
    the report's job runs carrier_monthly alone (its input is loaded, not recomputed)."""
    daily = defs.resolve_job_def("flights_daily")
    assert {k.to_user_string() for k in daily.asset_layer.executable_asset_keys} == DAILY_ASSETS
    assert len(daily.asset_layer.asset_graph.asset_check_keys) == len(CHECKS)
    report = defs.resolve_job_def("carrier_report_monthly")
    assert {k.to_user_string() for k in report.asset_layer.executable_asset_keys} == {
        "carrier_monthly"
    }


def test_every_asset_is_partitioned_by_flight_date_of_2013(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        keys = graph.get(key).partitions_def.get_partition_keys()
        if key.to_user_string() == "carrier_monthly":
            assert keys == [f"2013-{m:02d}" for m in range(1, 13)]
        else:
            assert (keys[0], keys[-1], len(keys)) == ("2013-01-01", "2013-12-31", 365), key


def test_the_report_reads_every_day_of_its_month(defs: dg.Definitions) -> None:
    """carrier_monthly depends on carrier_daily through a TimeWindowPartitionMapping: a
    month's partition is exactly its days (February 2013: 28), loaded by the warehouse
    IO manager."""
    graph = defs.resolve_asset_graph()
    report = graph.get(dg.AssetKey("carrier_monthly"))
    assert {p.to_user_string() for p in report.parent_keys} == {"carrier_daily"}
    mapping = graph.get_partition_mapping(
        dg.AssetKey("carrier_monthly"), dg.AssetKey("carrier_daily")
    )
    assert isinstance(mapping, dg.TimeWindowPartitionMapping)
    days = graph.get_parent_partition_keys_for_child(
        "2013-02", dg.AssetKey("carrier_daily"), dg.AssetKey("carrier_monthly")
    ).partitions_subset.get_partition_keys()
    assert sorted(days) == [f"2013-02-{d:02d}" for d in range(1, 29)]
    (daily_input,) = report.assets_def.node_def.input_defs
    assert (daily_input.name, daily_input.input_manager_key) == (
        "carrier_daily",
        "warehouse_io_manager",
    )
    # eager on every month (not only the latest), waiting for every day of it
    condition = repr(report.automation_condition)
    assert "any_deps_missing" in condition, condition
    assert "InLatestTimeWindow" not in condition, condition


def test_lineage_mirrors_the_data_flow(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    parents = {
        k.to_user_string(): {p.to_user_string() for p in graph.get(k).parent_keys}
        for k in graph.get_all_asset_keys()
    }
    assert parents == {
        "landing_file": set(),
        "validated_rows": {"landing_file"},
        "flights": {"validated_rows"},
        "carrier_daily": {"flights"},
        "quarantine": {"validated_rows"},
        "carrier_monthly": {"carrier_daily"},
    }


def test_warehouse_tables_are_stored_by_the_warehouse_io_manager(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    for table in ("flights", "carrier_daily", "quarantine"):
        assert graph.get(dg.AssetKey(table)).io_manager_key == "warehouse_io_manager"
    assert graph.get(dg.AssetKey("landing_file")).io_manager_key == "io_manager"


def test_runs_use_the_in_process_executor(defs: dg.Definitions) -> None:
    assert defs.resolve_job_def("flights_daily").executor_def is dg.in_process_executor
    # `dagster asset materialize` and the UI's ad-hoc runs use the implicit asset job
    assert defs.resolve_implicit_global_asset_job_def().executor_def is dg.in_process_executor


def test_the_reconcile_check_blocks_the_load(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    for key in graph.asset_check_keys:
        assert graph.get_check_spec(key).blocking, key


def test_local_deployment_reads_etl_shared_defaults_at_run_time(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    etl = build_resources("local")["etl"]
    monkeypatch.setenv("WAREHOUSE_URL", f"duckdb:///{tmp_path}/a.duckdb")
    assert etl.settings().warehouse_url == f"duckdb:///{tmp_path}/a.duckdb"
    monkeypatch.setenv("WAREHOUSE_URL", f"duckdb:///{tmp_path}/b.duckdb")
    assert etl.settings().warehouse_url == f"duckdb:///{tmp_path}/b.duckdb"


def test_prod_deployment_requires_every_location_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    resources = build_resources("prod")
    for name in ("LANDING_DIR", "STAGING_DIR", "WAREHOUSE_URL"):
        monkeypatch.delenv(name, raising=False)
    with (
        pytest.raises(Exception, match=r"WAREHOUSE_URL|LANDING_DIR|STAGING_DIR"),
        resources["etl"].process_config_and_initialize_cm(),
    ):
        pass
    monkeypatch.setenv("LANDING_DIR", "/mnt/landing")
    monkeypatch.setenv("STAGING_DIR", "/mnt/staging")
    monkeypatch.setenv("WAREHOUSE_URL", "postgresql://etl:secret@warehouse:5432/flights")
    with resources["etl"].process_config_and_initialize_cm() as etl:
        assert isinstance(etl, EtlResource)
        settings = etl.settings()
    assert str(settings.landing_dir) == "/mnt/landing"
    assert settings.warehouse_url == "postgresql://etl:secret@warehouse:5432/flights"


def test_unknown_deployment_is_refused() -> None:
    with pytest.raises(ValueError, match="DAGSTER_DEPLOYMENT"):
        build_resources("staging")


def test_without_a_deployment_setting_only_local_mode_is_local(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A container without DAGSTER_DEPLOYMENT gets the prod resources (every location
    required from the environment), never a silent local DuckDB file."""
    from dagster_platform.defs.resources import current_deployment

    monkeypatch.delenv("DAGSTER_DEPLOYMENT", raising=False)
    monkeypatch.delenv("ETL_LOCAL_MODE", raising=False)
    assert current_deployment() == "prod"
    monkeypatch.setenv("ETL_LOCAL_MODE", "1")
    assert current_deployment() == "local"
    monkeypatch.setenv("DAGSTER_DEPLOYMENT", "prod")
    assert current_deployment() == "prod"


def test_local_resources_without_local_mode_fail_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from etl_shared.errors import ConfigError

    monkeypatch.delenv("ETL_LOCAL_MODE", raising=False)
    monkeypatch.delenv("WAREHOUSE_URL", raising=False)
    etl = build_resources("local")["etl"]
    with pytest.raises(ConfigError, match="no warehouse configured: set WAREHOUSE_URL"):  # noqa: SIM117
        with etl.warehouse():
            pass

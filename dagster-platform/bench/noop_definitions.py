"""The tool's floor: an asset graph of the same shape as dagster_platform's, doing nothing.

Same partitions, same assets, outputs, checks (one blocking), IO managers and hooks
count, same executor: what Dagster itself costs for one partition of this graph. The
executor is `in_process` unless BENCH_EXECUTOR=multiprocess (to measure that trap).
"""

import os
import warnings

import dagster as dg

warnings.filterwarnings("ignore", category=dg.PreviewWarning, message=".*partitions_def.*")

daily = dg.DailyPartitionsDefinition(start_date="2013-01-01", end_date="2014-01-01")


@dg.success_hook
def noop_success(context: dg.HookContext) -> None:
    pass


@dg.failure_hook
def noop_failure(context: dg.HookContext) -> None:
    pass


@dg.asset(partitions_def=daily, hooks={noop_failure}, retry_policy=dg.RetryPolicy(max_retries=3))
def landing_file(context: dg.AssetExecutionContext) -> dict:
    return {"partition": context.partition_key, "counts": {"extracted": 0}}


@dg.asset(partitions_def=daily, hooks={noop_failure})
def validated_rows(landing_file: dict) -> dict:
    return landing_file


class NoopTableIOManager(dg.ConfigurableIOManager):
    def handle_output(self, context: dg.OutputContext, obj: dict) -> None:
        context.add_output_metadata({"rows": 0})

    def load_input(self, context: dg.InputContext) -> dict:
        return {}


@dg.multi_asset(
    partitions_def=daily,
    can_subset=False,
    hooks={noop_failure, noop_success},
    outs={
        name: dg.AssetOut(dagster_type=dict, io_manager_key="warehouse_io_manager")
        for name in ("flights", "carrier_daily", "quarantine")
    },
    internal_asset_deps={
        "flights": {dg.AssetKey("validated_rows")},
        "carrier_daily": {dg.AssetKey("flights")},
        "quarantine": {dg.AssetKey("validated_rows")},
    },
)
def warehouse_tables(validated_rows: dict):
    yield dg.Output(validated_rows, output_name="flights")
    yield dg.Output(validated_rows, output_name="carrier_daily")
    yield dg.Output(validated_rows, output_name="quarantine")


@dg.asset_check(asset=validated_rows, blocking=True, partitions_def=daily)
def validated_rows_reconcile(validated_rows: dict) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


CHECKS = {
    "rows_reconcile": "flights",
    "partition_not_empty": "flights",
    "flight_id_unique": "flights",
    "carrier_daily_matches_flights": "carrier_daily",
}


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(
            name,
            asset=asset,
            blocking=True,
            additional_deps=["validated_rows"],
            partitions_def=daily,
        )
        for name, asset in CHECKS.items()
    ],
    ins={"validated_rows": dg.AssetIn("validated_rows")},
)
def warehouse_checks(validated_rows: dict):
    for name, asset in CHECKS.items():
        yield dg.AssetCheckResult(check_name=name, asset_key=asset, passed=True)


executor = (
    dg.multiprocess_executor
    if os.environ.get("BENCH_EXECUTOR") == "multiprocess"
    else dg.in_process_executor
)

defs = dg.Definitions(
    assets=[landing_file, validated_rows, warehouse_tables],
    asset_checks=[
        validated_rows_reconcile.with_hooks({noop_failure}),
        warehouse_checks.with_hooks({noop_failure}),
    ],
    resources={"warehouse_io_manager": NoopTableIOManager()},
    executor=executor,
)

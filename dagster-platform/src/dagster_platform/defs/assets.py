"""The pipeline's data as software-defined assets, one partition per flight date.

    landing_file -> validated_rows -> flights -> carrier_daily
                                   \\-> quarantine

Each asset calls one etl-shared step and returns the small StageRef dict that names its
staged rows; rows never pass through Dagster. The warehouse tables are one multi-asset
because etl-shared loads them in one transaction: the WarehouseIOManager stores them.
"""

from typing import Any

import dagster as dg

from dagster_platform.defs.hooks import pipeline_run_id, record_failed_run, record_successful_run
from dagster_platform.defs.partitions import daily_partitions
from dagster_platform.resources import EtlResource
from dagster_platform.retries import fail_fast_unless_retryable, source_retry_policy
from etl_shared import steps

GROUP = "flights_daily"


@dg.asset(
    group_name=GROUP,
    partitions_def=daily_partitions,
    retry_policy=source_retry_policy(),
    hooks={record_failed_run},
    kinds={"csv"},
    description="The day's landing file ($LANDING_DIR/flights/date=D/flights.csv), read "
    "into the stage line by line; malformed lines kept as quarantine candidates.",
)
def landing_file(context: dg.AssetExecutionContext, etl: EtlResource) -> dict[str, Any]:
    with fail_fast_unless_retryable():
        ref = steps.extract(
            context.partition_key,
            settings=etl.settings(),
            run_id=pipeline_run_id(context.run.run_id),
            engine=etl.engine(),
        )
    context.add_output_metadata({"source_file": ref.source_file, **_counts(ref.counts)})
    return ref.to_dict()


@dg.asset(
    group_name=GROUP,
    partitions_def=daily_partitions,
    hooks={record_failed_run},
    kinds={"duckdb"},
    description="Typed, validated rows; rows that break a rule are set aside for the "
    "quarantine with a reason code.",
)
def validated_rows(
    context: dg.AssetExecutionContext, etl: EtlResource, landing_file: dict[str, Any]
) -> dict[str, Any]:
    with fail_fast_unless_retryable():
        ref = steps.validate(landing_file, settings=etl.settings(), engine=etl.engine())
    context.add_output_metadata(_counts(ref.counts))
    return ref.to_dict()


# A tuple, not a list: the defs loader would collect a list of specs as assets of its own.
TABLE_SPECS = (
    dg.AssetSpec(
        "flights",
        group_name=GROUP,
        kinds={"table"},
        description="One row per valid flight, with carrier name, destination name and "
        "origin weather.",
    ),
    dg.AssetSpec(
        "carrier_daily",
        group_name=GROUP,
        kinds={"table"},
        description="Flights, cancellations, delays and distance per carrier and day.",
    ),
    dg.AssetSpec(
        "quarantine",
        group_name=GROUP,
        kinds={"table"},
        description="Every rejected row with its line number and reason code.",
    ),
)


@dg.multi_asset(
    partitions_def=daily_partitions,
    can_subset=False,  # one transaction writes all three
    hooks={record_failed_run, record_successful_run},
    outs={
        spec.key.path[-1]: dg.AssetOut.from_spec(
            spec, dagster_type=dict, io_manager_key="warehouse_io_manager"
        )
        for spec in TABLE_SPECS
    },
    # The lineage of the data (carrier_daily is aggregated from flights), within one step.
    internal_asset_deps={
        "flights": {dg.AssetKey("validated_rows")},
        "carrier_daily": {dg.AssetKey("flights")},
        "quarantine": {dg.AssetKey("validated_rows")},
    },
)
def warehouse_tables(
    context: dg.AssetExecutionContext, etl: EtlResource, validated_rows: dict[str, Any]
):
    with fail_fast_unless_retryable():
        ref = steps.transform(validated_rows, settings=etl.settings(), engine=etl.engine())
    # The same StageRef for each table: the WarehouseIOManager commits all three at once
    # (steps.load); a load or check failure inside the transaction fails this step.
    yield dg.Output(ref.to_dict(), output_name="flights")
    yield dg.Output(ref.to_dict(), output_name="carrier_daily")
    yield dg.Output(ref.to_dict(), output_name="quarantine")


def _counts(counts: dict[str, int]) -> dict[str, dg.MetadataValue]:
    return {name: dg.MetadataValue.int(int(n)) for name, n in counts.items()}

"""Asset checks: etl-shared's data-quality checks, visible per partition in the UI.

* `validated_rows_reconcile` (blocking): every extracted line is either valid or
  quarantined. It gates the load: when it fails, the warehouse tables are not written.
* `warehouse_checks` (blocking): what the warehouse committed for the partition -- rows
  reconcile (extracted = loaded + quarantined), the partition is not empty, flight_id is
  unique, carrier_daily agrees with flights. A failure fails the run (and its record).

The same checks also gate the load inside its transaction (`steps.load`), so bad data
never commits; these report them after the fact and catch later drift of the tables.
"""

import warnings
from typing import Any

import dagster as dg

from dagster_platform.defs.hooks import record_failed_run
from dagster_platform.defs.partitions import daily_partitions
from dagster_platform.resources import EtlResource
from etl_shared.checks import run_checks
from etl_shared.stage import StageRef

# Partitioned asset checks are a preview feature in Dagster 1.13, and the one way for a
# check to run against the run's partition (an unpartitioned check on a partitioned asset
# would load every partition of its input). Known and chosen: keep the warning out of logs.
warnings.filterwarnings("ignore", category=dg.PreviewWarning, message=".*partitions_def.*")

# etl-shared check name -> the asset it is about.
WAREHOUSE_CHECKS = {
    "rows_reconcile": "flights",
    "partition_not_empty": "flights",
    "flight_id_unique": "flights",
    "carrier_daily_matches_flights": "carrier_daily",
}


@dg.asset_check(
    asset="validated_rows",
    blocking=True,
    partitions_def=daily_partitions,
    description="extracted = valid + quarantined: nothing was silently dropped.",
)
def validated_rows_reconcile(validated_rows: dict[str, Any]) -> dg.AssetCheckResult:
    counts = StageRef.coerce(validated_rows).counts
    extracted, valid, quarantined = counts["extracted"], counts["valid"], counts["quarantined"]
    return dg.AssetCheckResult(
        passed=extracted == valid + quarantined,
        metadata={"extracted": extracted, "valid": valid, "quarantined": quarantined},
    )


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(
            name,
            asset=asset,
            blocking=True,
            additional_deps=["validated_rows"],
            partitions_def=daily_partitions,
        )
        for name, asset in WAREHOUSE_CHECKS.items()
    ],
    ins={"validated_rows": dg.AssetIn("validated_rows")},
)
def warehouse_checks(
    context: dg.AssetCheckExecutionContext, etl: EtlResource, validated_rows: dict[str, Any]
):
    ref = StageRef.coerce(validated_rows)
    with etl.warehouse() as wh:
        results = run_checks(wh, ref.partition, ref.counts["extracted"])
    for result in results:
        yield dg.AssetCheckResult(
            check_name=result.name,
            asset_key=WAREHOUSE_CHECKS[result.name],
            passed=result.passed,
            severity=dg.AssetCheckSeverity.ERROR,
            description=result.detail,
            metadata={"detail": result.detail, "partition": ref.partition},
        )


validated_rows_reconcile = validated_rows_reconcile.with_hooks({record_failed_run})
warehouse_checks = warehouse_checks.with_hooks({record_failed_run})

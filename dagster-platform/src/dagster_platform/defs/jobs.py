"""The main pipeline as a job, and the executor every run of this code location uses.

The in-process executor runs the steps of a run one after another in the run's own
process. The default multiprocess executor starts one Python process per step, which
costs ~24 s for this five-step graph against ~1 s in process; the steps are sequential
anyway (each needs the previous one's StageRef). A cluster run is one pod either way
(K8sRunLauncher); switch to `k8s_job_executor` only for steps that need their own pods.
"""

import dagster as dg

from dagster_platform.defs import assets, carrier_report
from dagster_platform.defs.partitions import daily_partitions, monthly_partitions

flights_daily = dg.define_asset_job(
    "flights_daily",
    selection=dg.AssetSelection.groups(assets.GROUP),
    partitions_def=daily_partitions,
    executor_def=dg.in_process_executor,
    description="Extract, validate, transform, load and check one flight date.",
)

# The monthly report by hand (`make report MONTH=`); the automation sensor starts the same
# asset on its own once every day of a month is loaded.
carrier_report_monthly = dg.define_asset_job(
    "carrier_report_monthly",
    selection=dg.AssetSelection.groups(carrier_report.GROUP),
    partitions_def=monthly_partitions,
    executor_def=dg.in_process_executor,
    description="Write one month of carrier_monthly from carrier_daily.",
)


@dg.definitions
def jobs() -> dg.Definitions:
    # The executor also applies to ad-hoc runs (`dagster asset materialize`, the UI).
    return dg.Definitions(
        jobs=[flights_daily, carrier_report_monthly], executor=dg.in_process_executor
    )

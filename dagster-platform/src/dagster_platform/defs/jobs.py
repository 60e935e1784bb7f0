"""The main pipeline as a job, and the executor every run of this code location uses.

The in-process executor runs the steps of a run one after another in the run's own
process. The default multiprocess executor starts one Python process per step, which
costs ~24 s for this five-step graph against ~1 s in process; the steps are sequential
anyway (each needs the previous one's StageRef). A cluster run is one pod either way
(K8sRunLauncher); switch to `k8s_job_executor` only for steps that need their own pods.
"""

import dagster as dg

from dagster_platform.defs.partitions import daily_partitions

flights_daily = dg.define_asset_job(
    "flights_daily",
    selection=dg.AssetSelection.all(),
    partitions_def=daily_partitions,
    executor_def=dg.in_process_executor,
    description="Extract, validate, transform, load and check one flight date.",
)


@dg.definitions
def jobs() -> dg.Definitions:
    # The executor also applies to ad-hoc runs (`dagster asset materialize`, the UI).
    return dg.Definitions(jobs=[flights_daily], executor=dg.in_process_executor)

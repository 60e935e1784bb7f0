"""Run a partition when its landing file appears (or is delivered again).

The cursor is the newest landing-file modification time already seen (nanoseconds): a
file newer than the cursor requests a run of its partition, an older one requests none.
The run key (date + mtime) keeps a re-evaluation from launching the same delivery twice.
"""

import dagster as dg

from dagster_platform.defs.partitions import daily_partitions
from dagster_platform.resources import EtlResource
from etl_shared.landing import flights_file


@dg.sensor(
    job_name="flights_daily",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="New landing file for a date -> run that date's partition.",
)
def landing_file_sensor(context: dg.SensorEvaluationContext, etl: EtlResource):
    landing_dir = etl.settings().landing_dir
    seen = int(context.cursor or 0)
    newest = seen
    for day in daily_partitions.get_partition_keys():
        path = flights_file(landing_dir, day)
        try:
            mtime = path.stat().st_mtime_ns
        except FileNotFoundError:
            continue
        if mtime > seen:
            newest = max(newest, mtime)
            yield dg.RunRequest(run_key=f"{day}:{mtime}", partition_key=day)
    context.update_cursor(str(newest))


# Declarative automation is evaluated by an automation condition sensor, on the daemon
# (`dagster dev` runs one; the Helm chart's dagsterDaemon). Declared here rather than left
# implicit so that it is visible, named as Dagster's default and, like the schedule and the
# landing-file sensor, starts stopped: switch it on in the UI (Automation).
default_automation_condition_sensor = dg.AutomationConditionSensorDefinition(
    "default_automation_condition_sensor",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.STOPPED,
    minimum_interval_seconds=30,
    description="Evaluates the assets' automation conditions: carrier_monthly once every "
    "day of a month is loaded.",
)

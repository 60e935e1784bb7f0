"""The event `flights_daily` emits when it publishes a partition, and the deployment
trigger that starts the monthly report on it.

After a partition is loaded and checked, the flow asks the warehouse whether the day's
month is now complete (`etl_shared.report.completed_month`) and emits one event:

    event     etl.partition.published
    resource  prefect.resource.id = etl.partition.2013-02-28
              etl.partition = 2013-02-28, etl.month = 2013-02,
              etl.month.complete = "true" | "false"
    payload   partition, month, completed_month (the month key or null), counts
    related   the flow run, flow, deployment and tags (added by Prefect)

`REPORT_TRIGGER` is the deployment trigger of `carrier_report_monthly` (declared again
in `prefect.yaml`, asserted equal by tests/test_policy.py): a reactive event trigger
that expects that event and matches only `etl.month.complete = "true"`, and passes
`month` from the event's resource to the report's flow run.

Why the month's completeness is in the event and not counted by the trigger: a count or
compound trigger would need the number of days of each month (28 to 31) and a time
window holding all of them, and would count a re-run day twice or miss days loaded
weeks apart (a backfill). The warehouse knows which days are loaded, so the run that
publishes a day asks it and says so in the event; whichever day completes the month,
in any order, starts the report once. A later re-run of a day of a complete month emits
`complete = "true"` again and the report is rewritten with the corrected day (the
report replaces the month's rows, so that is idempotent).
"""

from __future__ import annotations

from typing import Any

from prefect.events import emit_event
from prefect.events.schemas.deployment_triggers import DeploymentEventTrigger
from prefect.events.schemas.events import Event

from etl_shared.partitions import month_key

PUBLISHED = "etl.partition.published"
RESOURCE_PREFIX = "etl.partition."
MONTH_LABEL = "etl.month"
COMPLETE_LABEL = "etl.month.complete"

REPORT_TRIGGER = DeploymentEventTrigger(
    name="carrier-report-monthly-on-complete-month",
    description="Run the monthly carrier report once a published day completes its month.",
    expect={PUBLISHED},
    match={"prefect.resource.id": f"{RESOURCE_PREFIX}*", COMPLETE_LABEL: "true"},
    parameters={"month": "{{ event.resource['" + MONTH_LABEL + "'] }}"},
)


def published_resource(partition: str, completed_month: str | None) -> dict[str, str]:
    """The event's resource: the partition, its month, and whether the month is complete."""
    return {
        "prefect.resource.id": f"{RESOURCE_PREFIX}{partition}",
        "prefect.resource.name": partition,
        "etl.partition": partition,
        MONTH_LABEL: month_key(partition),
        COMPLETE_LABEL: "true" if completed_month else "false",
    }


def emit_published(
    partition: str, completed_month: str | None, counts: dict[str, Any]
) -> Event | None:
    """Emit `etl.partition.published` for a partition just loaded into the warehouse."""
    return emit_event(
        event=PUBLISHED,
        resource=published_resource(partition, completed_month),
        payload={
            "partition": partition,
            "month": month_key(partition),
            "completed_month": completed_month,
            "counts": counts,
        },
    )

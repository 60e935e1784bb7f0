"""Typed flow parameters: Prefect validates them before a flow body runs.

`PartitionDate` is a `datetime.date` (JSON schema `format: date`, what the UI's form and a
deployment's parameter schema show) that must be a day of the data: a mistyped date
(`2013-02-30`) or a day outside 2013 is refused by Prefect's own parameter validation, in
`Flow.validate_parameters` (what the CLI calls before anything starts) and on the server
for a deployment run (its parameter schema is enforced when the run is created).
`PartitionMonth` is the same for the monthly report's `YYYY-MM`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

from etl_shared.partitions import month_key, parse_partition


def _in_the_data(day: dt.date) -> dt.date:
    return parse_partition(day)  # InvalidPartitionError is a ValueError: pydantic reports it


def _month_of_the_data(month: str) -> str:
    return month_key(month)  # a YYYY-MM of 2013, else InvalidPartitionError (a ValueError)


PartitionDate = Annotated[dt.date, AfterValidator(_in_the_data)]

# The report's month key `YYYY-MM`: a string with that pattern in the parameter schema
# (the UI's form, a deployment run, the trigger's templated parameter), a month of the data.
PartitionMonth = Annotated[
    str, StringConstraints(pattern=r"^\d{4}-\d{2}$"), AfterValidator(_month_of_the_data)
]

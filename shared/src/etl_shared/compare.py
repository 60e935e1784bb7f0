"""Compare warehouses: a checksum per table, and the first rows where two differ.

Values are normalized before hashing (dates as ISO text, floats rounded to 9 decimals,
NULL as a marker), so a DuckDB file and a PostgreSQL database holding the same rows
have the same checksum. Run ids are left out: they name runs, not data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from typing import Any

from etl_shared.schema import PARTITIONED_TABLES, TABLE_KEYS, columns
from etl_shared.warehouse import open_warehouse

COMPARED_TABLES = ("flights", "carrier_daily", "quarantine", "carrier_monthly")
IGNORED_COLUMNS = {"quarantine": {"run_id"}}


def _norm(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, (float, Decimal)):
        return repr(round(float(value), 9))
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def normalized_rows(url: str, table: str, partition: str | None = None) -> list[tuple[str, ...]]:
    """The table's rows in key order, as normalized text (run ids left out); only those of
    one daily partition when `partition` is given (a table of PARTITIONED_TABLES)."""
    cols = [c for c in columns(table) if c not in IGNORED_COLUMNS.get(table, set())]
    keys = ", ".join(TABLE_KEYS[table])
    where, params = "", []
    if partition is not None:
        where, params = (
            f" WHERE {PARTITIONED_TABLES[table]} = ?",
            [dt.date.fromisoformat(partition)],
        )
    with open_warehouse(url) as wh:
        rows = wh.query(f"SELECT {', '.join(cols)} FROM {table}{where} ORDER BY {keys}", params)
    return [tuple(_norm(v) for v in row) for row in rows]


def checksums(
    url: str, partition: str | None = None, tables: tuple[str, ...] = COMPARED_TABLES
) -> dict[str, tuple[int, str]]:
    """table -> (row count, sha256 of its normalized rows), for the compared tables (or
    `tables`), whole or only one daily partition's rows."""
    out = {}
    for table in tables:
        digest = hashlib.sha256()
        rows = normalized_rows(url, table, partition)
        for row in rows:
            digest.update("\x1f".join(row).encode())
            digest.update(b"\x1e")
        out[table] = (len(rows), digest.hexdigest())
    return out


def first_differences(
    url_a: str, url_b: str, table: str, limit: int = 5
) -> list[tuple[tuple[str, ...] | None, tuple[str, ...] | None]]:
    """Up to `limit` pairs (row in a, row in b) where the two tables first differ."""
    a, b = normalized_rows(url_a, table), normalized_rows(url_b, table)
    diffs = []
    for i in range(max(len(a), len(b))):
        left = a[i] if i < len(a) else None
        right = b[i] if i < len(b) else None
        if left != right:
            diffs.append((left, right))
            if len(diffs) == limit:
                break
    return diffs

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

from etl_shared.schema import TABLE_KEYS, columns
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


def normalized_rows(url: str, table: str) -> list[tuple[str, ...]]:
    """The table's rows in key order, as normalized text (run ids left out)."""
    cols = [c for c in columns(table) if c not in IGNORED_COLUMNS.get(table, set())]
    keys = ", ".join(TABLE_KEYS[table])
    with open_warehouse(url) as wh:
        rows = wh.query(f"SELECT {', '.join(cols)} FROM {table} ORDER BY {keys}")
    return [tuple(_norm(v) for v in row) for row in rows]


def checksums(url: str) -> dict[str, tuple[int, str]]:
    """table -> (row count, sha256 of its normalized rows), for the compared tables."""
    out = {}
    for table in COMPARED_TABLES:
        digest = hashlib.sha256()
        rows = normalized_rows(url, table)
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

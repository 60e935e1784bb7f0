"""The pipeline's steps. Each is callable on its own and passes a small StageRef on.

    extract -> validate -> transform -> load -> check

`run_partition` chains them in one process (the plain CLI path). The orchestrators call
the steps one by one, each as its own task/op/job, with a staging folder between them.
All row work is SQL in DuckDB, so one code path serves a day of 1,000 flights and a
synthetic day of 10 million.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from etl_shared import faults, policy
from etl_shared.checks import (
    CheckResult,
    assert_checks,
    last_extracted,
    run_checks,
    run_checks_many,
)
from etl_shared.config import Settings
from etl_shared.errors import EtlError, MissingPartitionError, SchemaDriftError
from etl_shared.landing import flights_file, read_header, reference_file
from etl_shared.partitions import partition_key
from etl_shared.schema import (
    INT_COLUMNS,
    NULL_TOKEN,
    REQUIRED_COLUMNS,
    SOURCE_COLUMNS,
    TIME_COLUMNS,
)
from etl_shared.stage import Engine, Stage, StageRef, new_run_id, sql_literal
from etl_shared.warehouse import Warehouse, open_warehouse

RefLike = StageRef | dict[str, Any]


@contextmanager
def _engine(engine: Engine | None) -> Iterator[Engine]:
    if engine is not None:
        yield engine
    else:
        with Engine() as own:
            yield own


def _read_header(path: Path, partition: str | None = None) -> tuple[list[str], str]:
    """The file's header and encoding (a byte-order mark is not part of the first column)."""
    return read_header(path, partition)


# --------------------------------------------------------------------------- extract
@dataclass(frozen=True)
class Source:
    """One partition's landing file, checked and ready to read."""

    partition: str
    file: str
    run_id: str
    header: tuple[str, ...]
    encoding: str = "utf-8"


def preflight(partition: str | dt.date, settings: Settings, run_id: str) -> Source:
    """Check that the partition's landing file is there and has the columns we read.

    Raises InvalidPartitionError (a day outside the data), TransientSourceError,
    MissingPartitionError, UnreadableFileError or SchemaDriftError.
    """
    day = partition_key(partition)
    path = flights_file(settings.landing_dir, day)
    faults.maybe_fail_source(day, str(path))
    if not path.is_file():
        raise MissingPartitionError(
            "no landing file for this partition", partition=day, file=str(path)
        )
    header, encoding = _read_header(path, day)
    missing = [c for c in SOURCE_COLUMNS if c not in header]
    if missing:
        unexpected = [c for c in header if c not in SOURCE_COLUMNS]
        raise SchemaDriftError(
            f"schema drift: missing columns {missing}; unexpected columns {unexpected}; "
            f"expected {list(SOURCE_COLUMNS)}; found {header}",
            partition=day,
            file=str(path),
        )
    return Source(day, str(path), run_id, tuple(header), encoding)


def _sources_relation(sources: list[Source], alias: str = "src") -> str:
    rows = ", ".join(
        f"({sql_literal(s.partition)}::DATE, {sql_literal(s.file)}, {sql_literal(s.run_id)})"
        for s in sources
    )
    return f"(VALUES {rows}) AS {alias}(partition_date, source_file, run_id)"


def _counts_by_partition(
    eng: Engine, relation: str, column: str = "partition_date"
) -> dict[str, int]:
    rows = eng.execute(
        f"SELECT {column}::VARCHAR, count(*) FROM {relation} GROUP BY ALL"
    ).fetchall()
    return {day: int(n) for day, n in rows}


def _step_on_ref(
    step_into: Callable[[Engine, Stage, Path, list[str]], dict[str, dict[str, int]]],
    ref: RefLike,
    settings: Settings | None,
    engine: Engine | None,
) -> StageRef:
    """Run a partition-set step (`validate_into`, `transform_into`) on one StageRef."""
    ref = StageRef.coerce(ref)
    settings = settings or Settings.from_env()
    with _engine(engine) as eng:
        counts = step_into(eng, Stage.of(ref, eng), settings.landing_dir, [ref.partition])
    return ref.with_counts(**counts[ref.partition])


def _stage_counts(
    eng: Engine, stage: Stage, days: list[str], **relations: tuple[str, str]
) -> dict[str, dict[str, int]]:
    """Rows per partition of stage relations, `name=(relation, date column)`, with a zero
    for every day of `days` that has none (a header-only file has no rows anywhere)."""
    per = {
        name: _counts_by_partition(eng, stage.rel(rel), col)
        for name, (rel, col) in relations.items()
    }
    every = dict.fromkeys(days) | dict.fromkeys(day for counts in per.values() for day in counts)
    return {day: {name: per[name].get(day, 0) for name in per} for day in every}


# Columns the typed read keeps: the integers (typed by the reader) and the text columns that
# validation and the flights table read (as written, exactly as an all-text read gives them).
TEXT_KEPT = ("carrier", "tailnum", "origin", "dest")
TYPED_KEPT = tuple(c for c in SOURCE_COLUMNS if c in INT_COLUMNS or c in TEXT_KEPT)


def _read_records(
    eng: Engine, stage: Stage, sources: list[Source], name: str, *, typed: bool
) -> tuple[str, str]:
    """Read the landing files of `sources` (one header for all) into the scratch table
    `<name>_read`; return the SQL of its records numbered by line (partition_date,
    source_file, run_id, line_number, then the columns) and the scratch table of the lines
    the reader rejected (source_file, line, csv_line, error_type, error_message).

    `typed`: the integer columns are read as integers (`NA` and empty are null) and only
    the columns in TYPED_KEPT are kept; a line with a field that is not an integer is
    rejected with error type CAST. Otherwise every column is read as text, as written.
    """
    header, encoding = sources[0].header, sources[0].encoding
    assert all((s.header, s.encoding) == (header, encoding) for s in sources), (
        "one read needs one header and one encoding"
    )
    tag = uuid.uuid4().hex[:10]
    files = "[" + ", ".join(sql_literal(s.file) for s in sources) + "]"
    if typed:
        types = {c: "INTEGER" if c in INT_COLUMNS else "VARCHAR" for c in header}
        texts = ", ".join(sql_literal(c) for c in header if types[c] == "VARCHAR")
        # Text columns keep "NA" and "" as written (force_not_null); nullif below turns ""
        # into the null an all-text read gives for an empty field.
        nulls = f", nullstr = ['{NULL_TOKEN}', ''], force_not_null = [{texts}]"
        kept = TYPED_KEPT
        picked = ", ".join(f"nullif({c}, '') AS {c}" if types[c] == "VARCHAR" else c for c in kept)
    else:
        types = dict.fromkeys(header, "VARCHAR")
        nulls, kept, picked = "", SOURCE_COLUMNS, "*"
    col_types = "{" + ", ".join(f"{sql_literal(c)}: '{t}'" for c, t in types.items()) + "}"
    read = stage.scratch(f"{name}_read")
    # One file: its name is a constant of the view, not a string stored on every record.
    one = sql_literal(sources[0].file) if len(sources) == 1 else None
    if picked == "*":
        picked = "* EXCLUDE (source_file)" if one else "*"
    elif not one:
        picked += ", source_file"
    eng.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {read} AS
        SELECT {picked}
        FROM read_csv({files}, header = true, auto_detect = false, filename = 'source_file',
                      columns = {col_types}, delim = ',', quote = '"', escape = '"',
                      strict_mode = true, store_rejects = true, encoding = {sql_literal(encoding)},
                      rejects_table = 'rejects_{tag}', rejects_scan = 'rejscan_{tag}'{nulls})
        """
    )
    bad = stage.scratch(f"{name}_bad")
    eng.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {bad} AS
        SELECT s.file_path AS source_file, e.line, e.csv_line, e.error_type,
               e.error_message
        FROM rejects_{tag} e JOIN rejscan_{tag} s USING (scan_id, file_id)
        """
    )
    for table in (f"rejects_{tag}", f"rejscan_{tag}"):
        eng.execute(f"DROP TABLE IF EXISTS {table}")
    # Line numbers: in each file the good records come in order and fill the lines that
    # were not rejected (line 1 is the header).
    cols = ", ".join(f"r.{c}" for c in kept)
    # rowid follows the file order (DuckDB preserves insertion order), so record k of a
    # file is rowid - (the file's first rowid) + 1, with no window over the whole read.
    if one:
        good = f"SELECT r.*, {one} AS source_file, r.rowid + 1 AS k FROM {read} r"
    else:
        good = f"""SELECT r.*, r.rowid - f.first_rowid + 1 AS k FROM {read} r
               JOIN (SELECT source_file, min(rowid) AS first_rowid FROM {read} GROUP BY ALL) f
                 ON f.source_file = r.source_file"""
    ((n_bad,),) = eng.execute(f"SELECT count(*) FROM {bad}").fetchall()
    if n_bad == 0:  # the usual case: line k + 1 holds record k
        numbered = f"SELECT r.*, (r.k + 1)::BIGINT AS line_number FROM ({good}) r"
    else:
        lines = stage.scratch(f"{name}_lines")
        eng.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE {lines} AS
            WITH sizes AS (
              SELECT source_file, count(*) AS n FROM ({good}) GROUP BY ALL
              UNION ALL SELECT source_file, count(DISTINCT line) FROM {bad} GROUP BY ALL
            ), totals AS (
              SELECT source_file, sum(n)::BIGINT AS n FROM sizes GROUP BY ALL
            ), lines AS (
              SELECT source_file, unnest(range(2, n + 2)) AS line_number FROM totals
            )
            SELECT source_file, line_number,
                   row_number() OVER (PARTITION BY source_file ORDER BY line_number) AS k
            FROM lines ANTI JOIN {bad} b
              ON b.source_file = lines.source_file AND b.line = lines.line_number
            """
        )
        numbered = f"""
        SELECT r.*, g.line_number::BIGINT AS line_number FROM ({good}) r
        JOIN {lines} g ON g.source_file = r.source_file AND g.k = r.k
        """
    records = f"""
        SELECT src.partition_date, src.source_file, src.run_id, r.line_number, {cols}
        FROM ({numbered}) r
        JOIN {_sources_relation(sources)} ON src.source_file = r.source_file
        """
    return records, bad


def extract_into(eng: Engine, stage: Stage, sources: list[Source]) -> dict[str, dict[str, int]]:
    """Read the landing files of `sources` (one header for all) into the stage relations
    `raw` (every record whose integer fields are integers or null, typed, with its line
    number), `recheck` (the other records, as text, with their line numbers: `validate`
    judges them from their text), `malformed` (lines that are not records of the right
    shape: wrong field count, invalid UTF-8) and `sources` (partition, file and run of
    each file read).

    One typed read; the files in which it rejected a line (a field that is not an
    integer, or a malformed line) are read again as text, which sorts those lines into
    records and malformed lines exactly as reading every field as text does.
    """
    records, bad = _read_records(eng, stage, sources, "raw", typed=True)
    stage.put("raw", records, lazy=True)
    sources_rel = _sources_relation(sources)
    stage.put("sources", f"SELECT * FROM {sources_rel}")
    rejected = stage.scratch("raw_rejected")
    eng.execute(
        f"""CREATE OR REPLACE TEMP TABLE {rejected} AS
        SELECT DISTINCT src.partition_date, b.line::BIGINT AS line_number
        FROM {bad} b JOIN {sources_rel} ON src.source_file = b.source_file"""
    )
    days = {
        d.isoformat() for (d,) in eng.execute(f"SELECT partition_date FROM {rejected}").fetchall()
    }
    texts, text_bad = _text_at(eng, stage, [s for s in sources if s.partition in days], rejected)
    if not days:  # nothing read again: empty relations of the same shape
        texts = stage.scratch("raw_texts")
        eng.execute(
            f"CREATE OR REPLACE TEMP TABLE {texts} AS SELECT * FROM ({_text_shape()}) WHERE false"
        )
        text_bad = stage.scratch("raw_textbad")
        eng.execute(f"CREATE OR REPLACE TEMP TABLE {text_bad} AS SELECT * FROM {bad} WHERE false")
    stage.put("recheck", f"SELECT * FROM {texts}")
    stage.put(
        "malformed",
        f"""
        SELECT src.partition_date, src.source_file, src.run_id, b.line::BIGINT AS line_number,
               arg_min(b.csv_line, b.error_type) AS raw_row, 'malformed_line' AS reason,
               'malformed CSV line: ' || string_agg(DISTINCT lower(b.error_type::VARCHAR), ', ')
                 || ' (' || any_value(b.error_message) || ')' AS message
        FROM {text_bad} b
        JOIN {sources_rel} ON src.source_file = b.source_file
        GROUP BY ALL
        """,
    )
    # Every line the typed read rejected is a record or a malformed line of the text read.
    ((lost,),) = eng.execute(
        f"""SELECT count(*) FROM {rejected} r
        ANTI JOIN {stage.rel("recheck")} t USING (partition_date, line_number)
        ANTI JOIN {stage.rel("malformed")} m USING (partition_date, line_number)"""
    ).fetchall()
    if lost:
        raise EtlError(
            f"the landing files changed while they were read: {lost} lines are neither records "
            f"nor malformed lines ({', '.join(s.file for s in sources)})"
        )
    for table in (texts, text_bad, rejected):
        eng.execute(f"DROP TABLE IF EXISTS {table}")
    if stage.folder is not None:  # `raw` is a file now: the scratch tables can go
        stage.release("raw", keep_relation=True)
    else:
        eng.execute(f"DROP TABLE IF EXISTS {bad}")
    counts = _stage_counts(
        eng,
        stage,
        [s.partition for s in sources],
        good=("raw", "partition_date"),
        recheck=("recheck", "partition_date"),
        malformed=("malformed", "partition_date"),
    )
    return {
        day: {"extracted": n["good"] + n["recheck"] + n["malformed"], "malformed": n["malformed"]}
        for day, n in counts.items()
    }


def _text_shape() -> str:
    """A relation with the columns of a text record (no rows)."""
    cols = ", ".join(f"NULL::VARCHAR AS {c}" for c in SOURCE_COLUMNS)
    return (
        "SELECT NULL::DATE AS partition_date, NULL::VARCHAR AS source_file, "
        f"NULL::VARCHAR AS run_id, NULL::BIGINT AS line_number, {cols} LIMIT 0"
    )


def extract(
    partition: str | dt.date,
    *,
    settings: Settings | None = None,
    run_id: str | None = None,
    engine: Engine | None = None,
    stage_in_memory: bool = False,
) -> StageRef:
    """Read the partition's landing file into the stage, keeping every line.

    Lines that are not CSV records of the right shape (wrong field count, invalid UTF-8)
    become quarantine candidates with their line numbers; the rest are kept as text
    for `validate`. Raises MissingPartitionError, SchemaDriftError, TransientSourceError.
    """
    settings = settings or Settings.from_env()
    run_id = run_id or new_run_id()
    source = preflight(partition, settings, run_id)
    day = source.partition
    stage_dir = (
        None if stage_in_memory else str(policy.staging_path(settings.staging_dir, day, run_id))
    )
    ref = StageRef(partition=day, run_id=run_id, source_file=source.file, stage_dir=stage_dir)
    with _engine(engine) as eng:
        counts = extract_into(eng, Stage.of(ref, eng), [source])
    return ref.with_counts(**counts[day])


# -------------------------------------------------------------------------- validate
# The parts of a flight's key, `flight_id` = their text joined with ':'.
KEY_PARTS = ("flight_date", "carrier", "flight_i", "origin", "sched_dep_time_i")


def _flight_id(table: str = "") -> str:
    return " || ':' || ".join(f"{table}{c}" for c in KEY_PARTS)


def _bad_time(col: str) -> str:
    return f"({col}_i IS NOT NULL AND NOT ({col}_i BETWEEN 0 AND 2400 AND {col}_i % 100 < 60))"


def _range_rules() -> list[tuple[str, str]]:
    """The out_of_range rules on the typed columns (`<column>_i`): (condition, message)."""
    return [
        ("distance_i <= 0", "'distance=' || distance_i || ' must be > 0'"),
        ("flight_i <= 0", "'flight=' || flight_i || ' must be > 0'"),
        ("air_time_i < 0", "'air_time=' || air_time_i || ' must be >= 0'"),
        *(
            (_bad_time(c), f"'{c}=' || {c}_i || ' is not a clock time hhmm (0000-2400)'")
            for c in TIME_COLUMNS
        ),
    ]


def _range_flag() -> str:
    return " OR ".join(f"coalesce({cond}, false)" for cond, _ in _range_rules())


def _raw_row(table: str = "") -> str:
    """The record as text again (for a quarantine row)."""
    return " || ',' || ".join(f"coalesce({table}{c}, '')" for c in SOURCE_COLUMNS)


def _judge_sql(raw: str, airlines: str) -> str:
    """One row per raw record: its typed values and the first rule it breaks (NULL when
    none), with the message and the record's text for the rows that break one.

    One pass over `raw` with no self-join: rules are booleans evaluated on every row; the
    messages and the text are built only for the rows that break a rule, which keeps a big
    clean partition fast. Duplicates are found afterwards on the typed keys (`_mark_duplicates`).
    The source's null is "NA" or empty after trimming; an integer column that is neither
    null nor an integer breaks `invalid_number`.
    """
    checked = sorted(set(INT_COLUMNS) | set(REQUIRED_COLUMNS), key=SOURCE_COLUMNS.index)
    trimmed = ", ".join(f"nullif(trim({c}), '{NULL_TOKEN}') AS {c}_t" for c in checked)
    ints = ", ".join(f"TRY_CAST({c}_t AS INTEGER) AS {c}_i" for c in INT_COLUMNS)
    nulls = ", ".join(f"(nullif({c}_t, '') IS NULL) AS {c}_null" for c in checked)
    missing_flag = " OR ".join(f"{c}_null" for c in REQUIRED_COLUMNS)
    missing_names = ", ".join(f"CASE WHEN {c}_null THEN '{c}' END" for c in REQUIRED_COLUMNS)

    def bad_number(c: str) -> str:
        return f"({c}_i IS NULL AND NOT {c}_null)"

    number_flag = " OR ".join(bad_number(c) for c in INT_COLUMNS)
    number_names = ", ".join(
        f"CASE WHEN {bad_number(c)} THEN '{c}=' || {c} END" for c in INT_COLUMNS
    )
    range_rules = _range_rules()
    range_flag = _range_flag()
    range_names = ", ".join(f"CASE WHEN {cond} THEN {msg} END" for cond, msg in range_rules)
    return f"""
    WITH trimmed AS (
      SELECT *, {trimmed} FROM {raw}
    ), typed AS (
      SELECT *, {ints}, {nulls},
             try(make_date(TRY_CAST(year AS INTEGER), TRY_CAST(month AS INTEGER),
                           TRY_CAST(day AS INTEGER))) AS flight_date,
             nullif(nullif(trim(tailnum), '{NULL_TOKEN}'), '') AS tailnum_v
      FROM trimmed
    ), judged AS (
      SELECT t.*,
        CASE
          WHEN {missing_flag} THEN 'missing_required'
          WHEN {number_flag} THEN 'invalid_number'
          WHEN flight_date IS NULL THEN 'invalid_date'
          WHEN flight_date <> partition_date THEN 'wrong_partition'
          WHEN {range_flag} THEN 'out_of_range'
          WHEN a.known_carrier IS NULL THEN 'unknown_carrier'
        END AS reason
      FROM typed t LEFT JOIN (SELECT carrier AS known_carrier FROM {airlines}) a
        ON a.known_carrier = t.carrier
    )
    SELECT partition_date, line_number, flight_date, carrier, origin, dest, tailnum_v,
      {", ".join(f"{c}_i" for c in INT_COLUMNS)}, reason,
      CASE
        WHEN reason = 'missing_required' THEN 'missing required field: ' || concat_ws(', ', {missing_names})
        WHEN reason = 'invalid_number' THEN 'not an integer: ' || concat_ws(', ', {number_names})
        WHEN reason = 'invalid_date' THEN 'no such date: ' || year || '-' || month || '-' || day
        WHEN reason = 'wrong_partition'
          THEN 'row dated ' || flight_date || ' is outside partition ' || partition_date
        WHEN reason = 'out_of_range' THEN 'out of range: ' || concat_ws('; ', {range_names})
        WHEN reason = 'unknown_carrier' THEN 'unknown carrier ' || carrier || ' (not in airlines.csv)'
      END AS message,
      CASE WHEN reason IS NOT NULL THEN {_raw_row()} END AS raw_row
    FROM judged
    """


def _fast_judge_sql(raw: str, airlines: str) -> str:
    """`_judge_sql` for the typed `raw`: the same columns, with reason NULL for a record
    that breaks no rule and 'recheck' for one that breaks any (its reason, message and
    text come from `_judge_sql` on its text, read again: `_text_records`).

    The reader typed an integer field exactly as `_judge_sql` does (TRY_CAST of the
    trimmed text; "NA" and empty are null; anything else is not a record here but a
    `recheck` line), and the text columns are as written, so every rule reads the same
    values: a record is valid here exactly when it is valid there.
    """
    text_required = [c for c in REQUIRED_COLUMNS if c not in INT_COLUMNS]
    missing = " OR ".join(
        [f"{c} IS NULL" for c in REQUIRED_COLUMNS if c in INT_COLUMNS]
        + [f"nullif(nullif(trim({c}), '{NULL_TOKEN}'), '') IS NULL" for c in text_required]
    )
    ints = ", ".join(f"{c} AS {c}_i" for c in INT_COLUMNS)
    return f"""
    WITH typed AS (
      SELECT partition_date, line_number, carrier, origin, dest, {ints},
             try(make_date(year, month, day)) AS flight_date,
             nullif(nullif(trim(tailnum), '{NULL_TOKEN}'), '') AS tailnum_v,
             ({missing}) AS missing
      FROM {raw}
    )
    SELECT partition_date, line_number, flight_date, carrier, origin, dest, tailnum_v,
      {", ".join(f"{c}_i" for c in INT_COLUMNS)},
      CASE WHEN missing OR flight_date IS NULL OR flight_date <> partition_date
             OR {_range_flag()} OR a.known_carrier IS NULL THEN 'recheck' END AS reason,
      NULL::VARCHAR AS message, NULL::VARCHAR AS raw_row
    FROM typed t LEFT JOIN (SELECT carrier AS known_carrier FROM {airlines}) a
      ON a.known_carrier = t.carrier
    """


def _text_at(eng: Engine, stage: Stage, sources: list[Source], lines: str) -> tuple[str, str]:
    """Read the files of `sources` again with every field as text, as written; return two
    scratch tables: their records at `lines` (partition_date, line_number), the input of
    `_judge_sql`, and the lines this read rejected (as `_read_records` gives them).

    Sources with different headers are read one group at a time.
    """
    groups: dict[tuple[tuple[str, ...], str], list[Source]] = {}
    for s in sources:
        groups.setdefault((s.header, s.encoding), []).append(s)
    tag = uuid.uuid4().hex[:8]
    texts, bad = stage.scratch(f"text_{tag}"), stage.scratch(f"text_{tag}_bad")
    for i, group in enumerate(groups.values()):
        records, group_bad = _read_records(eng, stage, group, f"text_{tag}_{i}", typed=False)
        into = "INSERT INTO {} BY NAME" if i else "CREATE TEMP TABLE {} AS"
        eng.execute(
            f"""{into.format(texts)} SELECT r.* FROM ({records}) r
            SEMI JOIN {lines} l ON l.partition_date = r.partition_date
                               AND l.line_number = r.line_number"""
        )
        eng.execute(f"{into.format(bad)} SELECT * FROM {group_bad}")
        stage.release(f"text_{tag}_{i}")
    return texts, bad


def _text_records(eng: Engine, stage: Stage, lines: str) -> str:
    """A scratch table of the records at `lines` (partition_date, line_number) as text
    (`_judge_sql`'s input), read again from the landing files of `stage`'s sources.

    Only the files of those partitions are read. Raises EtlError when a line is not a
    record any more (the file changed since `extract`).
    """
    picked = eng.execute(
        f"""SELECT s.partition_date::VARCHAR, s.source_file, s.run_id FROM {stage.rel("sources")} s
        WHERE s.partition_date IN (SELECT partition_date FROM {lines}) ORDER BY ALL"""
    ).fetchall()
    sources = []
    for day, file, run_id in picked:
        header, encoding = _read_header(Path(file), day)
        sources.append(Source(day, file, run_id, tuple(header), encoding))
    texts, bad = _text_at(eng, stage, sources, lines)
    eng.execute(f"DROP TABLE {bad}")
    ((found, wanted),) = eng.execute(
        f"SELECT (SELECT count(*) FROM {texts}), "
        f"(SELECT count(*) FROM (SELECT DISTINCT partition_date, line_number FROM {lines}))"
    ).fetchall()
    if found != wanted:
        raise EtlError(
            f"landing files changed since extract: {wanted - found} of {wanted} lines to "
            f"judge are not records any more ({', '.join(s.file for s in sources)})"
        )
    return texts


def _find_duplicates(eng: Engine, judged: str, text: Callable[[str], str]) -> str:
    """A scratch table of the valid rows of `judged` (a relation) whose flight_id an
    earlier valid row of its partition already has: partition_date, line_number, reason
    `duplicate_key`, the first line in the message and the record's text as `raw_row`
    (which `text(lines)` gives: a table of the records at those lines, as text).

    A valid row's flight_id joins the typed KEY_PARTS with ':'; they are never NULL and
    cannot run into each other (a date, a known carrier code, two integers), so equal
    parts are equal flight_ids. Candidates first by one 64-bit hash of the parts (a set of
    integers; equal keys hash alike): the usual partition has none, and costs one pass.
    Then exact groups among the candidates only.
    """
    parts = ", ".join(KEY_PARTS)
    dups = f"{judged}_dups"
    candidates = f"{judged}_candidates"
    eng.execute(
        f"""CREATE OR REPLACE TEMP TABLE {candidates} AS
        SELECT hash({parts}) AS h FROM {judged} WHERE reason IS NULL
        GROUP BY h HAVING count(*) > 1"""
    )
    ((n_candidates,),) = eng.execute(f"SELECT count(*) FROM {candidates}").fetchall()
    keys = f"{judged}_dupkeys"
    found = (
        f"""
        WITH hits AS (
          SELECT * FROM {judged}
          WHERE reason IS NULL AND hash({parts}) IN (SELECT h FROM {candidates})
        ), firsts AS (
          SELECT partition_date, {parts}, min(line_number) AS first_line FROM hits
          GROUP BY ALL HAVING count(*) > 1
        )
        SELECT j.partition_date, j.line_number, f.first_line, {_flight_id("j.")} AS flight_id
        FROM hits j JOIN firsts f ON f.partition_date = j.partition_date
          AND {" AND ".join(f"f.{c} = j.{c}" for c in KEY_PARTS)}
        WHERE j.line_number > f.first_line
        """
        if n_candidates
        else "SELECT NULL::DATE AS partition_date, NULL::BIGINT AS line_number, "
        "NULL::BIGINT AS first_line, NULL::VARCHAR AS flight_id LIMIT 0"
    )
    eng.execute(f"CREATE OR REPLACE TEMP TABLE {keys} AS {found}")
    eng.execute(f"DROP TABLE {candidates}")
    ((n,),) = eng.execute(f"SELECT count(*) FROM {keys}").fetchall()
    if n:
        texts = text(keys)
        rows = f"""
            SELECT d.partition_date, d.line_number, 'duplicate_key' AS reason,
              'duplicate flight_id ' || d.flight_id || ' (first on line ' || d.first_line || ')'
                AS message,
              {_raw_row("r.")} AS raw_row
            FROM {keys} d
            JOIN {texts} r ON r.partition_date = d.partition_date AND r.line_number = d.line_number
            """
    else:
        texts = None
        rows = (
            "SELECT NULL::DATE AS partition_date, NULL::BIGINT AS line_number, "
            "NULL::VARCHAR AS reason, NULL::VARCHAR AS message, NULL::VARCHAR AS raw_row LIMIT 0"
        )
    eng.execute(f"CREATE OR REPLACE TEMP TABLE {dups} AS {rows}")
    for table in (texts, keys):
        if table:
            eng.execute(f"DROP TABLE {table}")
    return dups


def _airlines(eng: Engine, landing_dir: Path) -> str:
    path = reference_file(landing_dir, "airlines.csv")
    return eng.cached_table(
        "airlines",
        path,
        f"SELECT DISTINCT carrier, name FROM read_csv({sql_literal(path)}, header = true, all_varchar = true)",
    )


# Above this many records a read is judged through a view over it, not copied.
JUDGE_IN_VIEW_ROWS = 1_000_000


def validate_into(
    eng: Engine, stage: Stage, landing_dir: Path, days: list[str]
) -> dict[str, dict[str, int]]:
    """Judge every `raw` record: typed rows to `valid`, the rest (with the `malformed`
    lines) to `quarantine`, each with a reason code and a message."""
    airlines = _airlines(eng, landing_dir)
    # Each partition of a read comes from one file of one run: judged rows carry the
    # partition only, and quarantine rows get the file and the run id back from `sources`.
    files = stage.rel("sources")
    ((n_files, n_days),) = eng.execute(
        f"SELECT count(*), count(DISTINCT partition_date) FROM {files}"
    ).fetchall()
    if n_files != n_days:
        raise EtlError("one read holds two files or runs for one partition; run them one by one")
    # The typed records are judged where they are read: a big read through a view (the
    # usual record breaks no rule and is never copied), a small one into a table (cheaper
    # than judging it again in each later pass: a batch of a month). The few that break a
    # rule (`suspects`), and the `recheck` lines, are judged from their text into `slow`
    # (what they are judged on when every field is text).
    ((n_read,),) = eng.execute(f"SELECT count(*) FROM {stage.rel('raw')}").fetchall()
    big = n_read > JUDGE_IN_VIEW_ROWS
    fast = stage.scratch("valid_fast")
    eng.execute(
        f"CREATE OR REPLACE TEMP {'VIEW' if big else 'TABLE'} {fast} AS "
        f"{_fast_judge_sql(stage.rel('raw'), airlines)}"
    )
    suspects = stage.scratch("valid_suspects")
    eng.execute(
        f"CREATE OR REPLACE TEMP TABLE {suspects} AS "
        f"SELECT partition_date, line_number FROM {fast} WHERE reason IS NOT NULL"
    )
    slow = stage.scratch("valid_slow")
    eng.execute(
        f"CREATE OR REPLACE TEMP TABLE {slow} AS "
        f"SELECT * FROM ({_judge_sql(stage.rel('recheck'), airlines)}) WHERE false"
    )
    ((n_suspects,),) = eng.execute(f"SELECT count(*) FROM {suspects}").fetchall()
    if n_suspects:
        texts = _text_records(eng, stage, suspects)
        eng.execute(f"INSERT INTO {slow} BY NAME {_judge_sql(texts, airlines)}")
        eng.execute(f"DROP TABLE {texts}")
    eng.execute(f"DROP TABLE {suspects}")
    ((n_recheck,),) = eng.execute(f"SELECT count(*) FROM {stage.rel('recheck')}").fetchall()
    if n_recheck:
        eng.execute(f"INSERT INTO {slow} BY NAME {_judge_sql(stage.rel('recheck'), airlines)}")
    judged = stage.scratch("valid_judged")  # every record with its reason (NULL: valid)
    eng.execute(
        f"CREATE OR REPLACE TEMP VIEW {judged} AS "
        f"SELECT * FROM {fast} WHERE reason IS NULL UNION ALL BY NAME SELECT * FROM {slow}"
    )
    dups = _find_duplicates(eng, judged, lambda lines: _text_records(eng, stage, lines))
    ((n_dups,),) = eng.execute(f"SELECT count(*) FROM {dups}").fetchall()
    unique = f"ANTI JOIN {dups} d USING (partition_date, line_number)" if n_dups else ""
    stage.put(
        "valid",
        f"""
        SELECT partition_date, line_number, {_flight_id()} AS flight_id, flight_date, carrier,
               flight_i AS flight, tailnum_v AS tailnum, origin, dest,
               sched_dep_time_i AS sched_dep_time, dep_time_i AS dep_time,
               dep_delay_i AS dep_delay, sched_arr_time_i AS sched_arr_time,
               arr_time_i AS arr_time, arr_delay_i AS arr_delay, air_time_i AS air_time,
               distance_i AS distance
        FROM {judged} {unique} WHERE reason IS NULL
        """,
        lazy=True,
    )
    stage.put(
        "quarantine",
        f"""
        SELECT j.partition_date, f.source_file, j.line_number, j.raw_row, j.reason, j.message,
               f.run_id
        FROM (
          SELECT partition_date, line_number, raw_row, reason, message FROM {slow}
          WHERE reason IS NOT NULL
          UNION ALL
          SELECT partition_date, line_number, raw_row, reason, message FROM {dups}
        ) j JOIN {files} f ON f.partition_date = j.partition_date
        UNION ALL
        SELECT partition_date, source_file, line_number, raw_row, reason, message, run_id
        FROM {stage.rel("malformed")}
        """,
    )
    if stage.folder is not None:  # `valid` is a file now: the scratch relations can go
        stage.release("valid", keep_relation=True)
    elif not big:  # every record is judged into tables now: free the read
        stage.release("raw")
    return _stage_counts(
        eng,
        stage,
        days,
        valid=("valid", "partition_date"),
        quarantined=("quarantine", "partition_date"),
    )


def validate(
    ref: RefLike, *, settings: Settings | None = None, engine: Engine | None = None
) -> StageRef:
    """Type-check every row; rows that break a rule go to the quarantine with a reason.

    Reason codes: malformed_line, missing_required, invalid_number, invalid_date,
    wrong_partition, out_of_range, unknown_carrier, duplicate_key.
    """
    return _step_on_ref(validate_into, ref, settings, engine)


# ------------------------------------------------------------------------- transform
def _reference_tables(eng: Engine, landing_dir: Path) -> tuple[str, str, str]:
    airports_path = reference_file(landing_dir, "airports.csv")
    weather_path = reference_file(landing_dir, "weather.csv")
    airports = eng.cached_table(
        "airports",
        airports_path,
        f"""SELECT faa, any_value(name) AS name
            FROM read_csv({sql_literal(airports_path)}, header = true, all_varchar = true) GROUP BY faa""",
    )
    # The weather file has a few duplicate readings for one airport-hour (the hour that
    # repeats when daylight saving time ends): keep the earliest reading, so a join on
    # (origin, date, hour) can never duplicate a flight.
    weather = eng.cached_table(
        "weather",
        weather_path,
        f"""
        SELECT origin, make_date(year::INT, month::INT, day::INT) AS weather_date, hour::INT AS hour,
               TRY_CAST(nullif(temp, 'NA') AS DOUBLE) AS temp,
               TRY_CAST(nullif(wind_speed, 'NA') AS DOUBLE) AS wind_speed,
               TRY_CAST(nullif(precip, 'NA') AS DOUBLE) AS precip,
               TRY_CAST(nullif(visib, 'NA') AS DOUBLE) AS visib
        FROM read_csv({sql_literal(weather_path)}, header = true, all_varchar = true)
        QUALIFY row_number() OVER (PARTITION BY origin, year, month, day, hour ORDER BY time_hour) = 1
        """,
    )
    return _airlines(eng, landing_dir), airports, weather


def transform_into(
    eng: Engine, stage: Stage, landing_dir: Path, days: list[str]
) -> dict[str, dict[str, int]]:
    """`valid` -> `flights` (enriched) and `carrier_daily` (aggregated).

    In-process (an engine stage) `flights` is a view: the load streams it into the
    warehouse, so a big partition is never held once more as enriched rows. `carrier_daily`
    aggregates `valid` per carrier and then takes the carrier's name: the same rows as
    aggregating `flights` by (date, carrier, name), since `flights` is `valid` with the
    carrier's name(s) and one airport and one weather row at most per flight.
    """
    airlines, airports, weather = _reference_tables(eng, landing_dir)
    stage.put(
        "flights",
        f"""
        SELECT v.flight_id, v.flight_date, v.carrier, a.name AS carrier_name, v.flight,
               v.tailnum, v.origin, v.dest, ap.name AS dest_name, v.sched_dep_time, v.dep_time,
               v.dep_delay, v.sched_arr_time, v.arr_time, v.arr_delay, v.air_time, v.distance,
               v.dep_time IS NULL AS cancelled, w.temp, w.wind_speed, w.precip, w.visib
        FROM {stage.rel("valid")} v
        JOIN {airlines} a ON a.carrier = v.carrier
        LEFT JOIN {airports} ap ON ap.faa = v.dest
        LEFT JOIN {weather} w ON w.origin = v.origin AND w.weather_date = v.flight_date
                              AND w.hour = v.sched_dep_time // 100
        """,
        lazy=True,
    )
    stage.put(
        "carrier_daily",
        f"""
        SELECT d.flight_date, d.carrier, a.name AS carrier_name, d.flights, d.cancelled,
               d.arrived, d.on_time, d.avg_dep_delay, d.avg_arr_delay, d.total_distance
        FROM (
          SELECT flight_date, carrier,
                 count(*)::BIGINT AS flights,
                 count(*) FILTER (WHERE dep_time IS NULL)::BIGINT AS cancelled,
                 count(arr_delay)::BIGINT AS arrived,
                 count(*) FILTER (WHERE arr_delay < 15)::BIGINT AS on_time,
                 avg(dep_delay)::DOUBLE AS avg_dep_delay,
                 avg(arr_delay)::DOUBLE AS avg_arr_delay,
                 coalesce(sum(distance) FILTER (WHERE dep_time IS NOT NULL), 0)::BIGINT
                   AS total_distance
          FROM {stage.rel("valid")}
          GROUP BY flight_date, carrier
        ) d
        JOIN {airlines} a ON a.carrier = d.carrier
        """,
    )
    counts = _stage_counts(eng, stage, days, carrier_daily=("carrier_daily", "flight_date"))
    flights = _flights_by_partition(eng, stage)
    return {day: {"flights": flights.get(day, 0), **n} for day, n in counts.items()}


def _flights_by_partition(eng: Engine, stage: Stage) -> dict[str, int]:
    """Rows of `flights` per partition, from `carrier_daily` (each flight is counted in
    exactly one of its rows) instead of another pass over the flights."""
    rows = eng.execute(
        f"SELECT flight_date::VARCHAR, sum(flights)::BIGINT FROM {stage.rel('carrier_daily')} "
        "GROUP BY ALL"
    ).fetchall()
    return {day: int(n) for day, n in rows}


def transform(
    ref: RefLike, *, settings: Settings | None = None, engine: Engine | None = None
) -> StageRef:
    """Enrich valid rows into `flights` (carrier name, destination name, origin weather)
    and aggregate them into `carrier_daily`."""
    return _step_on_ref(transform_into, ref, settings, engine)


# ------------------------------------------------------------------------------ load
def load_into(wh: Warehouse, stage: Stage, extracted: dict[str, int]) -> dict[str, int]:
    """Replace the partitions in `extracted` (partition -> rows extracted) in one
    transaction, gated by the checks; return rows loaded per partition."""
    partitions = sorted(extracted)

    def gate(w: Warehouse) -> None:
        results = run_checks_many(w, extracted)
        for partition in partitions:
            assert_checks(results[partition], partition)

    def before_commit() -> None:
        for partition in partitions:
            faults.maybe_fail_load(partition)

    wh.replace_partitions(
        partitions,
        {t: stage.rel(t) for t in ("flights", "carrier_daily", "quarantine")},
        gate,
        before_commit=before_commit,
    )
    return _flights_by_partition(wh.engine, stage)


def load(
    ref: RefLike,
    *,
    settings: Settings | None = None,
    engine: Engine | None = None,
    warehouse: Warehouse | None = None,
) -> StageRef:
    """Replace the partition in the warehouse in one transaction, gated by the checks.

    A rerun of the same input leaves identical tables; a failure at any point (a check,
    an error, a crash) leaves the partition as it was before.
    """
    ref = StageRef.coerce(ref)
    settings = settings or Settings.from_env()
    extracted = {ref.partition: ref.counts["extracted"]}
    if warehouse is not None:
        loaded = load_into(warehouse, Stage.of(ref, warehouse.engine), extracted)
    else:
        with _engine(engine) as eng, open_warehouse(settings.warehouse_url, eng) as wh:
            loaded = load_into(wh, Stage.of(ref, eng), extracted)
    return ref.with_counts(loaded=loaded.get(ref.partition, 0))


# ----------------------------------------------------------------------------- check
def check(
    ref_or_partition: RefLike | str | dt.date,
    *,
    settings: Settings | None = None,
    warehouse: Warehouse | None = None,
) -> list[CheckResult]:
    """Run the data-quality checks against what the warehouse holds for the partition.

    Raises CheckFailedError when any check fails; returns the results otherwise.
    """
    settings = settings or Settings.from_env()
    if isinstance(ref_or_partition, (StageRef, dict)):
        ref = StageRef.coerce(ref_or_partition)
        partition, extracted = ref.partition, ref.counts.get("extracted")
    else:
        partition, extracted = partition_key(ref_or_partition), None

    def run(wh: Warehouse) -> list[CheckResult]:
        known = extracted if extracted is not None else last_extracted(wh, partition)
        results = run_checks(wh, partition, known)
        assert_checks(results, partition)
        return results

    if warehouse is not None:
        return run(warehouse)
    with open_warehouse(settings.warehouse_url) as wh:
        return run(wh)


def cleanup(ref: RefLike, *, engine: Engine | None = None) -> None:
    """Drop the run's staging relations (the folder, or the engine's temp tables)."""
    ref = StageRef.coerce(ref)
    with _engine(engine) as eng:
        Stage.of(ref, eng).drop()


# ------------------------------------------------------------------------ run records
def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def run_record(
    *,
    run_id: str,
    platform: str,
    partition: str | dt.date | None,
    started_at: dt.datetime,
    status: str,
    ref: RefLike | None = None,
    error: BaseException | str | None = None,
    finished_at: dt.datetime | None = None,
) -> dict[str, Any]:
    """A `pipeline_runs` row: what a run did, for any platform."""
    counts = StageRef.coerce(ref).counts if ref is not None else {}
    day = partition_key(partition) if partition is not None else None
    return {
        "run_id": run_id,
        "platform": platform,
        "partition_date": dt.date.fromisoformat(day) if day else None,
        "started_at": started_at,
        "finished_at": finished_at or now(),
        "status": status,
        "rows_extracted": counts.get("extracted"),
        "rows_loaded": counts.get("loaded"),
        "rows_quarantined": counts.get("quarantined"),
        "error": None if error is None else str(error)[:4000],
    }


def record_run(
    record: dict[str, Any], *, settings: Settings | None = None, warehouse: Warehouse | None = None
) -> None:
    """Write a `pipeline_runs` row (insert, or update the row with the same run_id)."""
    if warehouse is not None:
        warehouse.record_run(record)
        return
    settings = settings or Settings.from_env()
    with open_warehouse(settings.warehouse_url) as wh:
        wh.record_run(record)


# ----------------------------------------------------------------- the plain-CLI chain
def run_partition(
    partition: str | dt.date,
    *,
    settings: Settings | None = None,
    platform: str = "cli",
    run_id: str | None = None,
    engine: Engine | None = None,
    warehouse: Warehouse | None = None,
    stage_in_memory: bool = True,
) -> StageRef:
    """extract -> validate -> transform -> load for one partition, in-process.

    The checks run inside the load transaction (its gate), so no separate `check` pass
    is needed here; orchestrators still run `check` as a step of its own.

    Records the run in `pipeline_runs` (status `success` or `failed`) and re-raises a
    failure after recording it. Pass `engine` and `warehouse` to reuse them across
    partitions (a backfill).
    """
    settings = settings or Settings.from_env()
    day = partition_key(partition)
    run_id = run_id or new_run_id(platform)
    started = now()
    ref: StageRef | None = None
    with _engine(engine if warehouse is None else warehouse.engine) as eng:
        try:
            ref = extract(
                day, settings=settings, run_id=run_id, engine=eng, stage_in_memory=stage_in_memory
            )
            ref = validate(ref, settings=settings, engine=eng)
            ref = transform(ref, settings=settings, engine=eng)
            if warehouse is not None:
                ref = load(ref, settings=settings, warehouse=warehouse)
                warehouse.record_run(
                    run_record(
                        run_id=run_id,
                        platform=platform,
                        partition=day,
                        started_at=started,
                        status="success",
                        ref=ref,
                    )
                )
            else:
                with open_warehouse(settings.warehouse_url, eng) as wh:
                    ref = load(ref, settings=settings, warehouse=wh)
                    wh.record_run(
                        run_record(
                            run_id=run_id,
                            platform=platform,
                            partition=day,
                            started_at=started,
                            status="success",
                            ref=ref,
                        )
                    )
        except EtlError as exc:
            policy.record_failed_run(
                run_id=run_id,
                platform=platform,
                partition=day,
                started_at=started,
                error=exc,
                ref=ref,
                settings=settings,
                warehouse=warehouse,
            )
            raise
        finally:
            if ref is not None:
                Stage.of(ref, eng).drop()
    return ref


def run_batch(
    partitions: list[str],
    *,
    warehouse: Warehouse,
    settings: Settings | None = None,
    platform: str = "cli",
) -> list[StageRef]:
    """Run several partitions together: each step is one query over all of them and one
    transaction loads them all, gated by every partition's checks.

    The same SQL as :func:`run_partition`, amortized: a backfill of a year is 12 batches
    instead of 365 runs. All or nothing: on any error nothing is loaded and the error is
    raised, so the caller can rerun the partitions one by one to isolate the bad one.
    """
    settings = settings or Settings.from_env()
    started = now()
    sources = [preflight(p, settings, new_run_id(platform)) for p in partitions]
    if len({(s.header, s.encoding) for s in sources}) > 1:
        raise EtlError(
            "the batch's landing files have different headers or encodings; run them one by one"
        )
    eng = warehouse.engine
    stage = Stage(f"batch_{uuid.uuid4().hex[:12]}", None, eng)
    try:
        days = [s.partition for s in sources]
        counts = extract_into(eng, stage, sources)
        for step in (validate_into, transform_into):
            for day, more in step(eng, stage, settings.landing_dir, days).items():
                counts[day].update(more)
        loaded = load_into(
            warehouse, stage, {s.partition: counts[s.partition]["extracted"] for s in sources}
        )
    finally:
        stage.drop()
    refs = [
        StageRef(
            partition=s.partition,
            run_id=s.run_id,
            source_file=s.file,
            counts={**counts[s.partition], "loaded": loaded.get(s.partition, 0)},
        )
        for s in sources
    ]
    warehouse.record_runs(
        [
            run_record(
                run_id=r.run_id,
                platform=platform,
                partition=r.partition,
                started_at=started,
                status="success",
                ref=r,
            )
            for r in refs
        ]
    )
    return refs

"""The errors a run can end with. Each names the partition, the file and what was wrong.

Orchestrators use :func:`is_retryable` to decide what to retry: only a transient
source error is worth another attempt; bad data or a bad argument never gets better.
"""

from __future__ import annotations


class EtlError(Exception):
    """Base class: a run failed for a reason the pipeline understands."""

    reason = "error"

    def __init__(self, message: str, *, partition: str | None = None, file: str | None = None):
        self.partition = partition
        self.file = file
        prefix = []
        if partition:
            prefix.append(f"partition {partition}")
        if file:
            prefix.append(f"file {file}")
        super().__init__(f"{': '.join(prefix)}: {message}" if prefix else message)


class InvalidPartitionError(EtlError, ValueError):
    """The partition argument is not a real calendar date, or a date outside the data
    (2013-01-01..2013-12-31). A bad argument: nothing was touched (CLI exit code 2)."""

    reason = "invalid_partition"


class ConfigError(EtlError, ValueError):
    """A setting is missing or unsupported (e.g. `WAREHOUSE_URL`). A bad argument: nothing
    was touched (CLI exit code 2)."""

    reason = "invalid_config"


class MissingPartitionError(EtlError):
    """No landing file for the partition."""

    reason = "missing_partition"


class SchemaDriftError(EtlError):
    """The landing file's header does not have the columns the pipeline reads."""

    reason = "schema_drift"


class UnreadableFileError(EtlError):
    """The landing file is not CSV text the pipeline can read (binary, UTF-32, ...)."""

    reason = "unreadable_file"


class TransientSourceError(EtlError):
    """The source could not be read this time (network share, object store hiccup)."""

    reason = "transient_source"


class CheckFailedError(EtlError):
    """A data-quality check failed; the warehouse keeps its previous state."""

    reason = "check_failed"


class LoadError(EtlError):
    """The load transaction failed and was rolled back."""

    reason = "load_failed"


class WarehouseUnavailableError(EtlError):
    """The warehouse cannot be reached; the message never carries a password."""

    reason = "warehouse_unavailable"


# Exit codes of every entry point (the `etl` CLI and each platform's run/backfill commands).
EXIT_OK = 0
EXIT_FAILED = 1  # a run failed (bad data, a failed check, the warehouse unreachable, ...)
EXIT_BAD_ARGS = 2  # a bad argument or setting, refused before anything ran


def is_bad_argument(exc: BaseException) -> bool:
    """True for errors that mean "fix the command or the settings" (exit code 2)."""
    return isinstance(exc, (InvalidPartitionError, ConfigError))


def one_line(exc: BaseException) -> str:
    """The message every entry point prints for a bad argument: `error: <message>`."""
    return f"error: {exc}"


def is_retryable(exc: BaseException) -> bool:
    """True for errors that another attempt may cure (only transient source errors)."""
    return isinstance(exc, TransientSourceError)

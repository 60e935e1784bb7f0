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
    """The partition argument is not a real calendar date (CLI exit code 2)."""

    reason = "invalid_partition"


class MissingPartitionError(EtlError):
    """No landing file for the partition."""

    reason = "missing_partition"


class SchemaDriftError(EtlError):
    """The landing file's header does not have the columns the pipeline reads."""

    reason = "schema_drift"


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


def is_retryable(exc: BaseException) -> bool:
    """True for errors that another attempt may cure (only transient source errors)."""
    return isinstance(exc, TransientSourceError)

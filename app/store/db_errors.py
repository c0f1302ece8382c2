"""Which database errors mean "not now" rather than "wrong": the store turns them into coded
answers (retry) instead of INTERNAL."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

# PostgreSQL SQLSTATEs: lock_not_available, query_canceled (statement_timeout), too many
# connections, cannot connect now (starting up or shutting down), admin shutdown.
_BUSY_STATES = frozenset({"55P03", "57014", "53300", "57P03", "57P01"})
# deadlock_detected, serialization_failure: one of the transactions was rolled back.
_RETRY_STATES = frozenset({"40P01", "40001"})


def _state(error: DBAPIError) -> str | None:
    state = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    return state if isinstance(state, str) else None


def is_busy(error: DBAPIError) -> bool:
    """The database could not do this just now: SQLite's lock held past busy_timeout, or a
    PostgreSQL lock or statement timeout, or no connection to be had."""
    if "database is locked" in str(error.orig):
        return True
    return _state(error) in _BUSY_STATES or bool(error.connection_invalidated)


def is_rolled_back_for_retry(error: DBAPIError) -> bool:
    """PostgreSQL rolled this transaction back to let a concurrent one through (a deadlock,
    a serialization failure): running it again is the remedy."""
    return _state(error) in _RETRY_STATES

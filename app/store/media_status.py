"""Which media report wins. Statuses rank by how much they tell:

    PENDING < NOT_REQUIRED < NOT_ALLOWED < NOT_SUPPORTED < FAILED < WARNING < SUCCESS

A report replaces an item whose status ranks no higher than its own; among equals the later
report wins (a re-processed file replaces the previous one). So PENDING never reopens a finished
item, a failed retry never hides a file that was produced, and any set of reports leaves the
same status whatever order they arrive in.
"""

from __future__ import annotations

PENDING = "PENDING"
RANK = {
    status: rank
    for rank, status in enumerate(
        (
            PENDING,
            "NOT_REQUIRED",
            "NOT_ALLOWED",
            "NOT_SUPPORTED",
            "FAILED",
            "WARNING",
            "SUCCESS",
        )
    )
}
# Statuses whose report carries a produced file (and so a storage key).
PRODUCED = frozenset({"SUCCESS", "WARNING"})


def statuses_a_report_may_replace(status: str) -> list[str]:
    """The item statuses a report of ``status`` replaces."""
    return [other for other, rank in RANK.items() if rank <= RANK[status]]

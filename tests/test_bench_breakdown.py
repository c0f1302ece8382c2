"""The warm page's breakdown by selection (bench.breakdown): its steps build up to the page that
``make bench`` measures, and its table's increments add up to the page."""

from __future__ import annotations

import itertools

from bench.breakdown import Step, table
from bench.scenarios import BREAKDOWN, PAGE_URLS


def _fields(query: str) -> list[str]:
    """The names and arguments the operation selects (the variable definitions left out)."""
    body = query[query.index("{") :]
    return [
        word
        for word in body.replace("{", " ").replace("}", " ").split()
        if word != "__typename"  # a step's placeholder, replaced by the next step's fields
    ]


def test_the_breakdown_ends_with_the_measured_page_and_only_ever_adds_selections() -> None:
    assert BREAKDOWN[-1][1] == PAGE_URLS
    selections = [_fields(query) for _, query in BREAKDOWN]
    for before, after in itertools.pairwise(selections):
        # Every field of the smaller selection is still asked for: a step adds, never swaps.
        assert len(after) > len(before)
        for word in before:
            assert word in after, (word, after)


def test_the_table_shows_each_steps_increment_and_share_of_the_page() -> None:
    steps = [Step("a", 2_000_000, 10), Step("b", 5_000_000, 20), Step("c", 10_000_000, 1_234)]
    rows = table(steps).splitlines()[2:]
    assert rows == [
        "| a | 2.00 | +2.00 | 20.0% | 10 |",
        "| b | 5.00 | +3.00 | 30.0% | 20 |",
        "| c | 10.00 | +5.00 | 50.0% | 1,234 |",
    ]

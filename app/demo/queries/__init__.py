"""Seed 000's three queries, verbatim, as GraphiQL's starting tabs and the tests' documents;
then two tabs to see live updates: a subscription and a mutation that makes it fire."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).parent
NAMES = ("specificResult", "listResults", "GetAllResults")
LIVE_NAMES = ("watchResults", "addResult")


def document(name: str) -> str:
    """The query ``name`` with the fragments it uses, ready to send."""
    text = (_HERE / f"{name}.graphql").read_text()
    if "..." in text:
        text += "\n" + (_HERE / "fragments.graphql").read_text()
    return text

"""Seed 000's three queries, verbatim, as GraphiQL's starting tabs and the tests' documents."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).parent
NAMES = ("specificResult", "listResults", "GetAllResults")


def document(name: str) -> str:
    """The query ``name`` with the fragments it uses, ready to send."""
    text = (_HERE / f"{name}.graphql").read_text()
    if "..." in text:
        text += "\n" + (_HERE / "fragments.graphql").read_text()
    return text

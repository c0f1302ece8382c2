"""Watching the executor work, for tests that say what a request did not redo."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import pytest

from app.execution import FootageExecutionContext


def executed_objects(monkeypatch: pytest.MonkeyPatch, type_names: Collection[str]) -> list[object]:
    """The objects of these types whose fields the executor runs, as it runs them (a live list:
    clear it to watch a later request)."""
    executed: list[object] = []
    original = FootageExecutionContext.execute_fields

    def spy(self: Any, parent_type: Any, source: Any, *args: Any) -> Any:
        if parent_type.name in type_names:
            executed.append(source)
        return original(self, parent_type, source, *args)

    monkeypatch.setattr(FootageExecutionContext, "execute_fields", spy)
    return executed

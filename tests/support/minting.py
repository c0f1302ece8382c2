"""The URL minter's clock and signer, moved or broken for a test."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from app.media.signer import UrlMinter


def next_signing_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on, every minter is one signing window later than the clock says."""
    now = UrlMinter.window_start

    def later(minter: UrlMinter) -> int:
        return now(minter) + minter.window

    monkeypatch.setattr(UrlMinter, "window_start", later)


def signer_down(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Every mint fails until the returned function is called."""
    mint = UrlMinter.mint

    async def failing(minter: UrlMinter, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the signer is down")

    monkeypatch.setattr(UrlMinter, "mint", failing)
    return lambda: monkeypatch.setattr(UrlMinter, "mint", mint)

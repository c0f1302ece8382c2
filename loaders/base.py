"""Shared shape of every loader: one bulk store call per batch, results in key order."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, TypeVar

from aiodataloader import DataLoader

from app.store.facade import Store

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def one_per_key(keys: Sequence[K], records: Iterable[V], key: Callable[[V], K]) -> list[V | None]:
    """Each key's record or None, in key order."""
    by_key = {key(record): record for record in records}
    return [by_key.get(k) for k in keys]


def many_per_key(keys: Sequence[K], records: Iterable[V], key: Callable[[V], K]) -> list[list[V]]:
    """Each key's records (``[]`` when none), in key order; records keep their given order."""
    grouped: dict[K, list[V]] = {k: [] for k in keys}
    for record in records:
        grouped[key(record)].append(record)
    return [grouped[k] for k in keys]


async def settled(loads: Sequence[asyncio.Future[V]]) -> list[V | Exception]:
    """Each load's value or its error, in order, as ``asyncio.gather(*loads,
    return_exceptions=True)`` answers, but awaited in turn: a batch resolves its loads
    together, so all but the first are done by then, while a gather adds a callback and a
    loop turn per load (a page awaits about 200). Every failed load is retrieved.

    A cancellation is not an answer: it propagates, and the loads not yet awaited are left as
    a cancelled gather leaves its own (those still pending cancelled, those failed retrieved),
    so that none is logged as never retrieved."""
    answers: list[V | Exception] = []
    for index, load in enumerate(loads):
        try:
            answers.append(await load)
        except Exception as error:
            answers.append(error)
        except BaseException:
            _abandon(loads[index + 1 :])
            raise
    return answers


def _abandon(loads: Sequence[asyncio.Future[Any]]) -> None:
    for load in loads:
        if not load.done():
            load.cancel()
        elif not load.cancelled():
            load.exception()  # retrieved


class Loader(DataLoader[Any, Any]):
    """A DataLoader bound to one request's store and workspace (built inside the request: the
    loader binds to the running event loop)."""

    def __init__(self, store: Store, workspace_id: int) -> None:
        super().__init__()
        self.store = store
        self.workspace_id = workspace_id

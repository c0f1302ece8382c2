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


def _same(key: Any) -> Any:
    return key


class Loader(DataLoader[Any, Any]):
    """A DataLoader bound to one request's store and workspace (built inside the request: the
    loader binds to the running event loop)."""

    # A key is its own cache key (aiodataloader's default, as a function ``load_all`` knows).
    get_cache_key = staticmethod(_same)

    def __init__(self, store: Store, workspace_id: int) -> None:
        super().__init__()
        self.store = store
        self.workspace_id = workspace_id
        # What ``load_all`` fetched (each key's value or exception), and its fetches under way,
        # by cache key.
        self._fetched: dict[Any, Any] = {}
        self._fetching: dict[Any, asyncio.Future[dict[Any, Any]]] = {}

    def load(self, key: Any) -> asyncio.Future[Any]:
        """aiodataloader's, for a key ``load_all`` fetched or is fetching too."""
        if self._fetched or self._fetching:
            cache_key = self.get_cache_key(key)
            if cache_key in self._fetched:
                future: asyncio.Future[Any] = self.loop.create_future()
                _settle(future, self._fetched[cache_key])
                return future
            fetch = self._fetching.get(cache_key)
            if fetch is not None:
                return _picked(self.loop, fetch, cache_key)
        return super().load(key)

    async def load_all(self, keys: Sequence[Any]) -> list[Any]:
        """Each key's value or its error, in order, as ``settled([self.load(key) for key in
        keys])`` answers, but without a future, a queued load and a dispatch per key (a page
        asks for 100 keys at once: those cost it 4-5% of its CPU). Keys this loader holds
        (loaded, or asked and still pending) are answered from it; the others are fetched now,
        in one call of the batch function, and held for later loads. Unlike ``load``'s, these
        keys are not batched with loads that other callers make in the same tick: for a caller
        that asks for a whole list at once."""
        if not self.cache:
            return await settled([self.load(key) for key in keys])
        get_cache_key = self.get_cache_key
        cache_keys = keys if get_cache_key is _same else [get_cache_key(key) for key in keys]
        fetched, fetching, held = self._fetched, self._fetching, self._cache
        answers: dict[Any, Any] = {}  # by cache key
        waits: dict[Any, asyncio.Future[Any]] = {}  # by cache key: asked before this call
        fresh: dict[Any, Any] = {}  # key by cache key: fetched here
        for key, cache_key in zip(keys, cache_keys, strict=True):
            if cache_key in answers or cache_key in waits or cache_key in fresh:
                continue
            if cache_key in fetched:
                answers[cache_key] = fetched[cache_key]
            elif cache_key in held:
                waits[cache_key] = held[cache_key]
            elif cache_key in fetching:
                waits[cache_key] = _picked(self.loop, fetching[cache_key], cache_key)
            else:
                fresh[cache_key] = key
        if fresh:
            answers.update(await self._fetch(fresh))
        if waits:
            answers.update(zip(waits, await settled(list(waits.values())), strict=True))
        return [answers[cache_key] for cache_key in cache_keys]

    async def _fetch(self, fresh: dict[Any, Any]) -> dict[Any, Any]:
        """Each of ``fresh``'s keys' value or error, by cache key, from one call of the batch
        function. Loads of these keys made meanwhile wait for this fetch rather than fetch
        them again. As in a dispatch of ``load``'s, an error of the whole batch is every key's
        and is not held; an exception among the values is its key's, and held."""
        fetch: asyncio.Future[dict[Any, Any]] = self.loop.create_future()
        for cache_key in fresh:
            self._fetching[cache_key] = fetch
        try:
            values = list(await self.batch_load_fn(list(fresh.values())))
            if len(values) != len(fresh):
                raise TypeError(
                    f"{type(self).__name__}.batch_load_fn answered {len(values)} values "
                    f"for {len(fresh)} keys"
                )
        except Exception as error:
            answers = dict.fromkeys(fresh, error)
        except BaseException:
            fetch.cancel()  # and so the loads waiting for it
            raise
        else:
            answers = dict(zip(fresh, values, strict=True))
            self._fetched.update(answers)
        finally:
            for cache_key in fresh:
                if self._fetching.get(cache_key) is fetch:
                    del self._fetching[cache_key]
        fetch.set_result(answers)
        return answers


def _picked(
    loop: asyncio.AbstractEventLoop, fetch: asyncio.Future[dict[Any, Any]], cache_key: Any
) -> asyncio.Future[Any]:
    """A future of ``cache_key``'s answer in ``fetch`` (``Loader._fetch``)."""
    future: asyncio.Future[Any] = loop.create_future()

    def copy(done: asyncio.Future[dict[Any, Any]]) -> None:
        if future.done():
            return
        if done.cancelled():
            future.cancel()
        else:
            _settle(future, done.result()[cache_key])

    fetch.add_done_callback(copy)
    return future


def _settle(future: asyncio.Future[Any], value: Any) -> None:
    """Resolve ``future`` with ``value``: rejected when it is an exception (and marked
    retrieved: whoever awaits it gets it all the same)."""
    if isinstance(value, Exception):
        future.set_exception(value)
        future.exception()
    else:
        future.set_result(value)

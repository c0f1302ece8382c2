"""What every storage backend implements, and the minter that makes signing cheap.

Signing is the most expensive thing the server does, so the ``UrlMinter``:
- floors the signing time to a window and stretches the expiry by the window, so a URL is valid
  for at least the time asked, and every request inside one window gets byte-identical URLs;
- keeps a bounded, process-wide LRU of the URLs it minted in the current window;
- merges concurrent misses for the same key, so one object is signed once per window;
- signs in a worker (a thread, or a process for signers that hold the GIL: app.media.sign_pool),
  never on the event loop, split over ``parallel`` workers when there is enough to sign.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from datetime import UTC, datetime
from typing import NamedTuple, Protocol, TypeVar

from app.turns import Turn

T = TypeVar("T")


class SignRequest(NamedTuple):
    """What to sign: the loader key and, within a window, the cache key. A tuple, so hashing
    and comparing it run in C (a page looks up hundreds), and a cache of them holds nothing the
    garbage collector has to walk."""

    storage_key: str
    expires_in: int
    # A full Content-Disposition value (see app.media.disposition) the storage must serve the
    # object with, or None for the object's own.
    content_disposition: str | None = None


class SignedUrl(NamedTuple):
    url: str
    expires_at: datetime


class Signer(Protocol):
    """A storage backend's URL signer. ``sign`` is CPU work and runs in a worker thread."""

    name: str

    def sign(
        self, requests: Sequence[SignRequest], *, signed_at: int, window: int
    ) -> list[SignedUrl]:
        """One URL per request, signed as of ``signed_at`` (a window start, Unix seconds) and
        valid until at least ``signed_at + window + expires_in``."""
        ...


class UrlMinter:
    # Below this many misses per worker, one batch: splitting costs more than it saves.
    MIN_SPLIT = 32

    def __init__(
        self,
        signer: Signer,
        *,
        window: int,
        cache_size: int,
        executor: Executor,
        parallel: int = 1,
        hands_on_turns: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.signer = signer
        # Whether a request hands its turn on (app.turns) when its URLs are to be signed: when
        # the executor is processes, whose work leaves this process's Python free meanwhile.
        self.hands_on_turns = hands_on_turns
        self.window = window
        self.cache_size = cache_size
        self.parallel = max(1, parallel)
        self.executor = executor
        # The current window's URLs, least recently used first. A new window starts it afresh:
        # URLs of a past window are never handed out again.
        self._cache: OrderedDict[SignRequest, SignedUrl] = OrderedDict()
        self._cache_window = -1
        self._in_flight: dict[tuple[SignRequest, int], asyncio.Future[SignedUrl]] = {}
        self._now = clock
        # URLs signed since start-up (cache misses), for measurements.
        self.signed = 0

    def window_start(self) -> int:
        now = int(self._now())
        return now - now % self.window

    def _window_cache(self, start: int) -> OrderedDict[SignRequest, SignedUrl]:
        if start != self._cache_window:
            self._cache = OrderedDict()
            self._cache_window = start
        return self._cache

    async def mint(
        self, requests: Sequence[SignRequest], *, turn: Turn | None = None
    ) -> list[SignedUrl]:
        """URLs for ``requests`` in order, signing only what this window has not signed yet.
        ``turn``: the asking request's, handed on when it is to wait for signing processes."""
        start = self.window_start()
        cache = self._window_cache(start)
        found: list[SignedUrl | None] = [cache.get(request) for request in requests]
        if None not in found:  # the common case: a page seen before in this window
            for request in requests:
                cache.move_to_end(request)
            return found  # type: ignore[return-value]
        return await self._mint_misses(requests, found, start, turn)

    async def _mint_misses(
        self,
        requests: Sequence[SignRequest],
        found: list[SignedUrl | None],
        start: int,
        turn: Turn | None,
    ) -> list[SignedUrl]:
        known: dict[SignRequest, SignedUrl] = {}
        waits: dict[SignRequest, asyncio.Future[SignedUrl]] = {}
        misses: dict[SignRequest, None] = {}
        for request, hit in zip(requests, found, strict=True):
            if hit is not None:
                self._cache.move_to_end(request)
                known[request] = hit
            elif (pending := self._in_flight.get((request, start))) is not None:
                waits[request] = pending
            else:
                misses[request] = None
        if turn is not None and self.hands_on_turns:
            turn.hand_on()  # the next request may start while other processes sign
        if misses:
            # The signing runs in a task of its own, and every caller awaits it (or a future it
            # settles) shielded: a caller cancelled meanwhile (a direct caller such as a stable
            # link, at shutdown) neither cancels what others wait for nor loses the URLs for
            # them or for the cache; the processes sign them regardless.
            loop = asyncio.get_running_loop()
            futures = {request: loop.create_future() for request in misses}
            for request, future in futures.items():  # from now on, askers wait for these
                self._in_flight[(request, start)] = future
            signing = asyncio.ensure_future(self._sign(futures, start))
            signing.add_done_callback(functools.partial(self._settle, futures, start))
            urls: list[SignedUrl] = await _shielded(signing)
            known.update(zip(futures, urls, strict=True))
        for request, pending in waits.items():
            known[request] = await _shielded(pending)
        return [known[request] for request in requests]

    async def _sign(
        self, futures: dict[SignRequest, asyncio.Future[SignedUrl]], start: int
    ) -> list[SignedUrl]:
        """The in-flight ``futures``' URLs, signed, kept and handed to their waiters."""
        misses = list(futures)
        self.signed += len(misses)
        urls = await self._signed(misses, start)
        for request, url in zip(misses, urls, strict=True):
            self._remember(request, start, url)
            futures[request].set_result(url)  # pending: every caller awaits it shielded
        return urls

    def _settle(
        self,
        futures: dict[SignRequest, asyncio.Future[SignedUrl]],
        start: int,
        signing: asyncio.Future[list[SignedUrl]],
    ) -> None:
        """Once the signing task has ended, however it did: its futures are out of flight and
        none is left pending; a failure reaches each waiter (the URL loader logs it once) and
        is taken as seen for the task, whose starter may be gone."""
        error = None if signing.cancelled() else signing.exception()
        for request, future in futures.items():
            if self._in_flight.get((request, start)) is future:
                del self._in_flight[(request, start)]
            if future.done():
                continue
            if error is None:
                future.cancel()  # the task was cancelled: the app is shutting down
            else:
                future.set_exception(error)
                future.exception()  # retrieved: waiters re-raise it, nobody logs it twice

    async def _signed(self, misses: list[SignRequest], start: int) -> list[SignedUrl]:
        """``misses`` signed by the workers: one batch, or ``parallel`` slices signed at once."""
        loop = asyncio.get_running_loop()
        parts = min(self.parallel, len(misses) // self.MIN_SPLIT) or 1
        size = -(-len(misses) // parts)
        slices = [misses[i : i + size] for i in range(0, len(misses), size)]
        signed = await asyncio.gather(
            *(
                loop.run_in_executor(
                    self.executor,
                    functools.partial(self.signer.sign, part, signed_at=start, window=self.window),
                )
                for part in slices
            )
        )
        return [url for part in signed for url in part]

    def _remember(self, request: SignRequest, start: int, url: SignedUrl) -> None:
        if self.cache_size <= 0 or start != self._cache_window:
            return
        self._cache[request] = url
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def clear(self) -> None:
        self._cache.clear()


class SigningCancelled(Exception):
    """The signing a request waited for was cancelled (the app shutting down, its executor
    cancelling queued work) while the request itself was not: an error its URL fields answer
    as any signing failure, not a cancellation that would leave them unsettled."""


async def _shielded(future: asyncio.Future[T]) -> T:
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if future.cancelled() and task is not None and task.cancelling() == 0:
            raise SigningCancelled("the signing was cancelled") from None
        raise


def expiry(signed_at: int, window: int, expires_in: int) -> datetime:
    return datetime.fromtimestamp(signed_at + window + expires_in, UTC)

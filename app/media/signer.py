"""What every storage backend implements, and the minter that makes signing cheap.

Signing is the most expensive thing the server does, so the ``UrlMinter``:
- floors the signing time to a window and stretches the expiry by the window, so a URL is valid
  for at least the time asked, and every request inside one window gets byte-identical URLs;
- keeps a bounded, process-wide LRU of the URLs it minted, keyed by (request, window);
- merges concurrent misses for the same key, so one object is signed once per window;
- signs in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class SignRequest:
    """What to sign. Hashable: it is the loader key and, with the window, the cache key."""

    storage_key: str
    expires_in: int
    # A full Content-Disposition value (see app.media.disposition) the storage must serve the
    # object with, or None for the object's own.
    content_disposition: str | None = None


@dataclass(frozen=True, slots=True)
class SignedUrl:
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
    def __init__(
        self,
        signer: Signer,
        *,
        window: int,
        cache_size: int,
        executor: ThreadPoolExecutor,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.signer = signer
        self.window = window
        self.cache_size = cache_size
        self._executor = executor
        self._cache: OrderedDict[tuple[SignRequest, int], SignedUrl] = OrderedDict()
        self._in_flight: dict[tuple[SignRequest, int], asyncio.Future[SignedUrl]] = {}
        self._now = clock

    def window_start(self) -> int:
        now = int(self._now())
        return now - now % self.window

    async def mint(self, requests: Sequence[SignRequest]) -> list[SignedUrl]:
        """URLs for ``requests`` in order, signing only what this window has not signed yet."""
        start = self.window_start()
        found: dict[SignRequest, SignedUrl] = {}
        waits: dict[SignRequest, asyncio.Future[SignedUrl]] = {}
        misses: list[SignRequest] = []
        for request in dict.fromkeys(requests):
            key = (request, start)
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                found[request] = hit
            elif (pending := self._in_flight.get(key)) is not None:
                waits[request] = pending
            else:
                misses.append(request)
        if misses:
            await self._sign(misses, start, found)
        for request, pending in waits.items():
            found[request] = await pending
        return [found[request] for request in requests]

    async def _sign(
        self, misses: list[SignRequest], start: int, found: dict[SignRequest, SignedUrl]
    ) -> None:
        loop = asyncio.get_running_loop()
        futures = {request: loop.create_future() for request in misses}
        for request, future in futures.items():
            self._in_flight[(request, start)] = future
        try:
            urls = await loop.run_in_executor(
                self._executor,
                lambda: self.signer.sign(misses, signed_at=start, window=self.window),
            )
        except BaseException as error:
            for future in futures.values():
                future.set_exception(error)
                future.exception()  # retrieved here: waiters re-raise it, nobody logs it twice
            raise
        finally:
            for request in misses:
                self._in_flight.pop((request, start), None)
        for request, url in zip(misses, urls, strict=True):
            futures[request].set_result(url)
            found[request] = url
            self._remember((request, start), url)

    def _remember(self, key: tuple[SignRequest, int], url: SignedUrl) -> None:
        if self.cache_size <= 0:
            return
        self._cache[key] = url
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def clear(self) -> None:
        self._cache.clear()


def expiry(signed_at: int, window: int, expires_in: int) -> datetime:
    return datetime.fromtimestamp(signed_at + window + expires_in, UTC)

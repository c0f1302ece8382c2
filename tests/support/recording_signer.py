"""A real signer wrapped to record what it was asked to sign (signing tests count calls)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from app.media.signer import SignedUrl, Signer, SignRequest


class RecordingSigner:
    def __init__(self, inner: Signer, *, fail: bool = False) -> None:
        self.inner = inner
        self.name = inner.name
        self.fail = fail
        self.signed: list[str] = []
        self.batches = 0
        self.threads: set[str] = set()
        self._lock = threading.Lock()

    def sign(
        self, requests: Sequence[SignRequest], *, signed_at: int, window: int
    ) -> list[SignedUrl]:
        with self._lock:
            self.batches += 1
            self.threads.add(threading.current_thread().name)
            self.signed.extend(r.storage_key for r in requests)
        if self.fail:
            raise OSError("storage signing backend unavailable")
        return self.inner.sign(requests, signed_at=signed_at, window=window)

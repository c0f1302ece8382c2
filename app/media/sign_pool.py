"""GCS signing in worker processes.

cryptography holds the GIL while it makes an RSA signature (0.7 ms for Google's 2048-bit test
key on this machine, measured in BENCHMARKS.md), so signing threads neither use a second core
nor leave the event loop alone: 600 signatures cost 400 ms, one after the other, whatever the
number of threads. GCS HMAC signing is Python (0.04 ms a URL): a cold page's 25 ms of it in a
thread took the GIL from the loop in 5 ms slices. For both the minter signs in processes, each
with its own signer built from the same settings, and splits a large batch across them.

The local signer (0.007 ms a URL), keyless IAM signBlob (which waits on the network) and the
signers tests pass in keep signing in threads.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass

from app.media.backends import build_signer
from app.media.signer import SignedUrl, Signer, SignRequest
from app.settings import Settings

# This worker process's own signer, set once by ``_start_worker`` (the pool's initializer). A
# module global because a worker process is nothing but this signer; the server process never
# sets it.
_WORKER_SIGNER: Signer | None = None


# Below the server's priority: when both compete for a core, the event loop (every other
# request) goes first and a cold page's signing takes what is left.
WORKER_NICENESS = 5


def _start_worker(settings: Settings) -> None:
    global _WORKER_SIGNER
    if hasattr(os, "nice"):
        os.nice(WORKER_NICENESS)
    _WORKER_SIGNER = build_signer(settings)


def _ready() -> bool:
    return _WORKER_SIGNER is not None


class WorkerSigner:
    """Stands for the signer in the server process: what the minter hands the pool is this
    object's ``sign``, which runs in a worker with the worker's own signer."""

    def __init__(self, name: str) -> None:
        self.name = name

    def sign(
        self, requests: Sequence[SignRequest], *, signed_at: int, window: int
    ) -> list[SignedUrl]:
        if _WORKER_SIGNER is None:
            raise RuntimeError("WorkerSigner.sign runs in a signing process only")
        return _WORKER_SIGNER.sign(requests, signed_at=signed_at, window=window)


@dataclass(frozen=True, slots=True)
class SigningProcesses:
    executor: Executor
    signer: Signer
    parallel: int


def signs_in_processes(signer: Signer) -> bool:
    """True for a GCS signer that signs in this process: with a service-account key file (RSA)
    or an HMAC key."""
    if signer.name != "gcs":
        return False
    # Imported here: only a gcs process has google-cloud-storage loaded.
    from app.media.gcs import GcsSigner, HmacUrls, KeyFileUrls

    return isinstance(signer, GcsSigner) and isinstance(signer.backend, KeyFileUrls | HmacUrls)


def signing_processes(settings: Settings, signer: Signer) -> SigningProcesses | None:
    """Worker processes for ``signer`` (built from ``settings``), or None to sign in threads.
    The workers start now, in the background, so the first cold page does not wait for them."""
    if not signs_in_processes(signer):
        return None
    workers = os.cpu_count() or 2
    executor = ProcessPoolExecutor(
        max_workers=workers,
        # Not fork: the server has threads (and an event loop) a forked child must not inherit.
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(settings,),
    )
    for _ in range(workers):
        executor.submit(_ready)
    return SigningProcesses(executor, WorkerSigner(signer.name), workers)

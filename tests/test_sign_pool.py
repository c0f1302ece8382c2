"""GCS keys (RSA or HMAC) sign in worker processes; the local signer stays in threads."""

from __future__ import annotations

from pathlib import Path

from app.media.backends import build_signer
from app.media.sign_pool import WorkerSigner, signing_processes
from app.media.signer import SignRequest, UrlMinter
from tests.conftest import make_settings
from tests.test_gcs_signing import HMAC_KEYED, KEYED, verifies

WINDOW_START = 1_700_000_100


async def test_key_file_signer_signs_in_processes_split_across_them(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, "sqlite+aiosqlite://", **KEYED)
    signer = build_signer(settings)
    processes = signing_processes(settings, signer)
    assert processes is not None
    try:
        assert isinstance(processes.signer, WorkerSigner)
        minter = UrlMinter(
            processes.signer,
            window=300,
            cache_size=1_000,
            executor=processes.executor,
            parallel=processes.parallel,
            clock=lambda: WINDOW_START,
        )
        requests = [SignRequest(f"r/{i}.mp4", 900) for i in range(2 * UrlMinter.MIN_SPLIT)]
        urls = await minter.mint(requests)
        expected = signer.sign(requests, signed_at=WINDOW_START, window=300)
        assert urls == expected
        assert all(verifies(url.url) for url in urls[:5])
        assert minter.signed == len(requests)
    finally:
        processes.executor.shutdown(wait=True)


def test_hmac_key_signs_in_processes_and_the_local_signer_in_threads(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, "sqlite+aiosqlite://", **HMAC_KEYED)
    processes = signing_processes(settings, build_signer(settings))
    assert processes is not None
    processes.executor.shutdown(wait=True)
    local = make_settings(tmp_path, "sqlite+aiosqlite://")
    assert signing_processes(local, build_signer(local)) is None

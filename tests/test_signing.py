"""URLs are minted lazily, once per distinct object and window, off the event loop."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from app.demo.queries import document
from app.media.local import LocalSigner
from app.media.signer import SigningCancelled, SignRequest, UrlMinter
from loaders.urls import SignedUrlsBySignRequestsLoader
from tests.conftest import SIGNING_SECRET, ClientFactory
from tests.support.graphql import error_codes, gql, same_signing_window
from tests.support.recording_signer import RecordingSigner

NO_URLS = document("GetAllResults").replace("url", "status")
SPECIFIC_NO_URLS = document("specificResult").replace("  mediaUrl\n", "")


async def test_queries_without_url_fields_sign_nothing(
    client: httpx.AsyncClient, signer: RecordingSigner
) -> None:
    await gql(client, NO_URLS)
    await gql(client, SPECIFIC_NO_URLS)
    assert signer.signed == []


async def test_page_signs_each_distinct_object_once_in_one_batch(
    client: httpx.AsyncClient, signer: RecordingSigner
) -> None:
    body = await gql(client, document("GetAllResults"))
    urls = [
        media["url"]
        for edge in body["data"]["userTest"]["results"]["edges"]
        for group in edge["node"]["recordings"]["download"]["attachedMedia"]
        for media in group["media"]
        if media["url"] is not None
    ]
    assert len(urls) == len(set(urls)) == len(signer.signed) == len(set(signer.signed))
    assert signer.batches == 1


async def test_signing_runs_in_worker_threads_never_on_the_event_loop(
    client: httpx.AsyncClient, signer: RecordingSigner
) -> None:
    await gql(client, document("GetAllResults"))
    assert signer.threads
    assert threading.current_thread().name not in signer.threads
    assert all(name.startswith("sign") for name in signer.threads)


async def test_same_object_selected_many_ways_is_signed_once(
    client: httpx.AsyncClient, signer: RecordingSigner
) -> None:
    query = """{ userTestResult(resultUuid: "ut_response_9568e478-f8fe-450d-81e6-741a279c6b5b") {
      recordings { download {
        a: mediaUrl b: mediaUrl subtitles
        attachedMedia { media { type url } }
      } } } }"""
    body = await gql(client, query)
    recording = body["data"]["userTestResult"]["recordings"]["download"]
    assert recording["a"] == recording["b"]
    [subtitles] = [
        m["url"] for m in recording["attachedMedia"][0]["media"] if m["type"] == "SUBTITLES"
    ]
    assert recording["subtitles"] == subtitles
    assert len(signer.signed) == len(set(signer.signed)) == 6  # recording + five media


async def test_repeat_query_in_a_window_returns_identical_urls_and_signs_nothing(
    client: httpx.AsyncClient, signer: RecordingSigner
) -> None:
    same_signing_window(client)  # a window ending between the two would sign all again
    first = await gql(client, document("GetAllResults"))
    signed = len(signer.signed)
    second = await gql(client, document("GetAllResults"))
    assert second == first
    assert len(signer.signed) == signed


async def test_signing_failure_nulls_only_that_field_with_signing_failed(
    client_factory: ClientFactory, tmp_path: Path
) -> None:
    failing = RecordingSigner(
        LocalSigner(secret=SIGNING_SECRET.encode(), public_url="http://x", root=tmp_path),
        fail=True,
    )
    async with client_factory(signer=failing) as client:
        body = await gql(client, document("specificResult"), expect_errors=True)
    assert set(error_codes(body)) == {"SIGNING_FAILED"}
    recording = body["data"]["userTestResult"]["recordings"]["download"]
    assert recording["mediaUrl"] is None
    assert recording["mimeType"] == "video/mp4"
    assert recording["transcription"] is not None


def minter(signer: RecordingSigner, now: list[float], *, cache_size: int = 100) -> UrlMinter:
    return UrlMinter(
        signer,
        window=300,
        cache_size=cache_size,
        executor=ThreadPoolExecutor(max_workers=2),
        clock=lambda: now[0],
    )


def recording_signer(tmp_path: Path) -> RecordingSigner:
    return RecordingSigner(
        LocalSigner(secret=b"k" * 32, public_url="http://testserver", root=tmp_path)
    )


async def test_minter_urls_are_stable_in_a_window_and_outlive_the_ttl(tmp_path: Path) -> None:
    signer = recording_signer(tmp_path)
    window_start = 1_000_200.0  # a multiple of the 300 s window
    now = [window_start]
    urls = minter(signer, now)
    request = SignRequest("a/b.mp4", expires_in=900)

    [first] = await urls.mint([request])
    now[0] = window_start + 299
    [same] = await urls.mint([request])
    assert same == first
    assert same.expires_at >= datetime.fromtimestamp(now[0] + 900, UTC)

    now[0] = window_start + 300
    [fresh] = await urls.mint([request])
    assert fresh.url != first.url
    assert fresh.expires_at >= datetime.fromtimestamp(now[0] + 900, UTC)
    assert signer.signed == ["a/b.mp4", "a/b.mp4"]


async def test_minter_cache_stays_within_its_bound(tmp_path: Path) -> None:
    signer = recording_signer(tmp_path)
    urls = minter(signer, [1_000_000.0], cache_size=2)
    await urls.mint([SignRequest(f"k{i}", 900) for i in range(5)])
    assert len(urls._cache) == 2


async def test_minter_merges_concurrent_misses_for_the_same_object(tmp_path: Path) -> None:
    signer = recording_signer(tmp_path)
    urls = minter(signer, [1_000_000.0])
    request = SignRequest("same.mp4", 900)
    a, b = await asyncio.gather(urls.mint([request]), urls.mint([request, request]))
    assert a[0] == b[0] == b[1]
    assert signer.signed == ["same.mp4"]


class HeldSigning:
    """The recording signer, held in its worker until ``go`` is set."""

    def __init__(self, signer: RecordingSigner) -> None:
        self.started, self.go = threading.Event(), threading.Event()
        sign = signer.sign

        def held_sign(*args: object, **kwargs: object) -> object:
            self.started.set()
            assert self.go.wait(30)
            return sign(*args, **kwargs)  # type: ignore[arg-type]

        signer.sign = held_sign  # type: ignore[method-assign]

    async def wait_started(self) -> None:
        await asyncio.wait_for(asyncio.to_thread(self.started.wait), 30)


async def test_a_caller_cancelled_while_signing_fails_no_other_waiting_for_the_urls(
    tmp_path: Path,
) -> None:
    """The caller that started a signing is cancelled while it runs: a second caller waiting
    for the same URLs still gets them, and they are cached, not signed again."""
    signer = recording_signer(tmp_path)
    held = HeldSigning(signer)
    urls = minter(signer, [1_000_000.0])
    request = SignRequest("shared.mp4", 900)
    first = asyncio.create_task(urls.mint([request]))
    await held.wait_started()
    second = asyncio.create_task(urls.mint([request]))
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.sleep(0)
    held.go.set()
    [url] = await asyncio.wait_for(second, 30)
    assert first.cancelled()
    assert url.url.startswith("http://testserver/")
    assert [url] == await urls.mint([request])
    assert signer.signed == ["shared.mp4"]


async def test_a_cancelled_waiter_fails_neither_the_signing_nor_the_other_waiters(
    tmp_path: Path,
) -> None:
    signer = recording_signer(tmp_path)
    held = HeldSigning(signer)
    urls = minter(signer, [1_000_000.0])
    a, b = SignRequest("a.mp4", 900), SignRequest("b.mp4", 900)
    starter = asyncio.create_task(urls.mint([a, b]))
    await held.wait_started()
    cancelled, other, for_b = (asyncio.create_task(urls.mint([r])) for r in (a, a, b))
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.sleep(0)
    held.go.set()
    signed = await asyncio.wait_for(asyncio.gather(starter, other, for_b), 30)
    assert cancelled.cancelled()
    assert signed[0] == [signed[1][0], signed[2][0]]
    assert signer.signed == ["a.mp4", "b.mp4"]
    assert await urls.mint([a, b]) == signed[0]  # cached
    assert signer.signed == ["a.mp4", "b.mp4"]


async def test_a_signing_cancelled_under_its_callers_is_an_error_for_them(tmp_path: Path) -> None:
    """The executor cancels the queued signing (the app shutting down): its callers, not
    themselves cancelled, get an error their URL fields answer as SIGNING_FAILED, and nothing
    is left in flight."""
    signer = recording_signer(tmp_path)
    executor = ThreadPoolExecutor(max_workers=1)
    urls = UrlMinter(signer, window=300, cache_size=10, executor=executor)
    busy = threading.Event()
    executor.submit(busy.wait, 30)  # the one worker is busy: the signing queues behind it
    request = SignRequest("queued.mp4", 900)
    starter = asyncio.create_task(urls.mint([request]))
    for _ in range(3_000):  # until its signing is handed to the executor (bounded)
        if urls.signed:
            break
        await asyncio.sleep(0.01)
    waiter = asyncio.create_task(urls.mint([request]))
    await asyncio.sleep(0)
    executor.shutdown(wait=False, cancel_futures=True)
    busy.set()
    for caller in (starter, waiter):
        with pytest.raises(SigningCancelled):
            await asyncio.wait_for(caller, 30)
    assert urls._in_flight == {}
    assert signer.signed == []


async def test_minter_splits_a_large_batch_over_its_workers(tmp_path: Path) -> None:
    signer = recording_signer(tmp_path)
    urls = UrlMinter(
        signer,
        window=300,
        cache_size=1_000,
        executor=ThreadPoolExecutor(max_workers=2),
        parallel=2,
        clock=lambda: 1_000_000.0,
    )
    requests = [SignRequest(f"k{i}", 900) for i in range(2 * UrlMinter.MIN_SPLIT)]
    minted = await urls.mint(requests)
    assert signer.batches == 2
    assert sorted(signer.signed) == sorted(r.storage_key for r in requests)
    assert [m.url for m in minted] == [m.url for m in await urls.mint(requests)]
    assert signer.batches == 2  # the repeat came from the cache


async def test_minter_signs_a_small_batch_in_one_piece(tmp_path: Path) -> None:
    signer = recording_signer(tmp_path)
    urls = minter(signer, [1_000_000.0])
    urls.parallel = 2
    await urls.mint([SignRequest(f"k{i}", 900) for i in range(UrlMinter.MIN_SPLIT)])
    assert signer.batches == 1


async def test_minter_forgets_a_past_window(tmp_path: Path) -> None:
    signer = recording_signer(tmp_path)
    now = [1_000_200.0]
    urls = minter(signer, now)
    await urls.mint([SignRequest("a", 900), SignRequest("b", 900)])
    now[0] += 300
    await urls.mint([SignRequest("a", 900)])
    assert list(urls._cache) == [SignRequest("a", 900)]
    assert signer.signed == ["a", "b", "a"]


async def test_signed_urls_loader_mints_all_parents_in_one_call_in_key_order(
    tmp_path: Path,
) -> None:
    signer = recording_signer(tmp_path)
    loader = SignedUrlsBySignRequestsLoader(minter(signer, [1_000_000.0]))
    a, b = SignRequest("a", 900), SignRequest("b", 900)
    first, empty, second = await asyncio.gather(
        loader.load((a, b)), loader.load(()), loader.load((b,))
    )
    assert [url.url for url in first] == [u.url for u in await loader.load((a, b))]
    assert empty == []
    assert second == [first[1]]
    assert signer.batches == 1
    assert signer.signed == ["a", "b"]

"""Loaders: one bulk store call with all keys, results in key order, None or [] for misses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, cast

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import hash_api_key
from app.demo.seed import RESULT_UUID, TEST_UUID
from app.store.facade import Store
from app.store.records import PageRequest
from loaders.base import Loader, settled
from loaders.media import (
    AttachedMediaByRecordingIdLoader,
    AttachedMediaByUuidLoader,
    TranscriptionByRecordingIdLoader,
)
from loaders.recordings import RecordingByUuidLoader, RecordingsByResultIdLoader
from loaders.results import (
    ResultByUuidLoader,
    ResultCountByUserTestIdLoader,
    ResultPageByPageRequestLoader,
)
from loaders.user_tests import UserTestByIdLoader, UserTestByUuidLoader
from tests.conftest import Backend


class SpyStore:
    """The real store, recording every call with its arguments."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._store, name)

        async def spy(**kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            return await method(**kwargs)

        return spy


@pytest.fixture
async def spy(connection: AsyncConnection) -> AsyncIterator[SpyStore]:
    @asynccontextmanager
    async def connect() -> AsyncIterator[AsyncConnection]:
        yield connection

    store = Store(connect, connect)
    yield SpyStore(store)
    await store.close()


async def demo_ids(spy: SpyStore, backend: Backend) -> tuple[int, int, list[int]]:
    key = await spy._store.fetch_api_key_by_hash(key_hash=hash_api_key(backend.demo_key))
    assert key is not None
    workspace_id = key.workspace_id
    [test] = await spy._store.fetch_user_tests_by_uuids(
        workspace_id=workspace_id, uuids=[TEST_UUID]
    )
    [page] = await spy._store.fetch_result_pages(
        workspace_id=workspace_id, pages=[PageRequest(user_test_id=test.id, limit=3)]
    )
    return workspace_id, test.id, [r.id for r in page]


async def test_one_per_key_loaders_batch_keep_order_and_answer_none_for_misses(
    spy: SpyStore, backend: Backend
) -> None:
    workspace_id, test_id, _ = await demo_ids(spy, backend)
    by_uuid = UserTestByUuidLoader(spy, workspace_id)
    by_id = UserTestByIdLoader(spy, workspace_id)
    results = ResultByUuidLoader(spy, workspace_id)
    spy.calls.clear()

    tests, ids, found = await asyncio.gather(
        by_uuid.load_many(["ut_missing", TEST_UUID]),
        by_id.load_many([test_id, -1]),
        results.load_many([RESULT_UUID, "nope"]),
    )
    assert [t and t.uuid for t in tests] == [None, TEST_UUID]
    assert [t and t.id for t in ids] == [test_id, None]
    assert [r and r.uuid for r in found] == [RESULT_UUID, None]
    assert sorted(name for name, _ in spy.calls) == [
        "fetch_results_by_uuids",
        "fetch_user_tests_by_ids",
        "fetch_user_tests_by_uuids",
    ]
    assert dict(spy.calls)["fetch_user_tests_by_uuids"]["uuids"] == ["ut_missing", TEST_UUID]


async def test_many_per_key_loaders_answer_lists_in_key_order(
    spy: SpyStore, backend: Backend
) -> None:
    workspace_id, _, result_ids = await demo_ids(spy, backend)
    recordings = RecordingsByResultIdLoader(spy, workspace_id)
    spy.calls.clear()
    lists = await recordings.load_many([result_ids[2], -5, result_ids[0]])
    assert [[r.result_id for r in rs] for rs in lists] == [[result_ids[2]], [], [result_ids[0]]]
    assert spy.calls == [
        (
            "fetch_recordings_by_result_ids",
            {"workspace_id": workspace_id, "result_ids": [result_ids[2], -5, result_ids[0]]},
        )
    ]

    recording_ids = [lists[0][0].id, -1, lists[2][0].id]
    media = AttachedMediaByRecordingIdLoader(spy, workspace_id)
    transcripts = TranscriptionByRecordingIdLoader(spy, workspace_id)
    spy.calls.clear()
    grouped, documents = await asyncio.gather(
        media.load_many(recording_ids), transcripts.load_many(recording_ids)
    )
    assert [len(g) for g in grouped] == [5, 0, 5]
    assert all(m.recording_id == recording_ids[0] for m in grouped[0])
    assert [d and d.recording_id for d in documents] == [recording_ids[0], None, recording_ids[2]]
    assert len(spy.calls) == 2

    by_uuid = RecordingByUuidLoader(spy, workspace_id)
    media_by_uuid = AttachedMediaByUuidLoader(spy, workspace_id)
    assert await by_uuid.load_many(["x", lists[0][0].uuid]) == [None, lists[0][0]]
    assert await media_by_uuid.load_many([grouped[2][1].uuid, "y"]) == [grouped[2][1], None]


async def test_page_loader_reads_every_page_asked_in_one_statement(
    spy: SpyStore, backend: Backend
) -> None:
    workspace_id, test_id, result_ids = await demo_ids(spy, backend)
    pages = ResultPageByPageRequestLoader(spy, workspace_id)
    counts = ResultCountByUserTestIdLoader(spy, workspace_id)
    spy.calls.clear()
    first, after, backward, missing = await pages.load_many(
        [
            PageRequest(user_test_id=test_id, limit=2),
            PageRequest(user_test_id=test_id, limit=2, after=result_ids[1]),
            PageRequest(user_test_id=test_id, limit=2, backward=True),
            PageRequest(user_test_id=-1, limit=2),
        ]
    )
    assert [r.id for r in first] == result_ids[:2]
    assert [r.id for r in after] == [result_ids[2], result_ids[2] + 1]
    assert [r.id for r in backward] == [12345 + 118, 12345 + 119]
    assert missing == []
    assert [name for name, _ in spy.calls] == ["fetch_result_pages"]
    assert await counts.load_many([test_id, -1]) == [120, 0]


async def test_a_page_alone_reads_as_it_does_among_others(spy: SpyStore, backend: Backend) -> None:
    """A page asked alone (one prepared statement per shape) holds what the same page holds
    when read beside another (the UNION ALL statement): every bound and direction."""
    workspace_id, test_id, _ = await demo_ids(spy, backend)
    store = spy._store
    everything = PageRequest(user_test_id=test_id, limit=1000)
    [every] = await store.fetch_result_pages(workspace_id=workspace_id, pages=[everything])
    assert len(every) > 4
    low, high = every[1].id, every[-2].id
    shapes = [
        PageRequest(user_test_id=test_id, limit=2),
        PageRequest(user_test_id=test_id, limit=2, after=low),
        PageRequest(user_test_id=test_id, limit=2, before=high),
        PageRequest(user_test_id=test_id, limit=2, after=low, before=high),
        PageRequest(user_test_id=test_id, limit=2, backward=True),
        PageRequest(user_test_id=test_id, limit=2, after=low, backward=True),
        PageRequest(user_test_id=test_id, limit=2, before=high, backward=True),
        PageRequest(user_test_id=test_id, limit=2, after=low, before=high, backward=True),
        PageRequest(user_test_id=test_id + 10_000, limit=2),  # no such test: empty
    ]
    for page in shapes:
        [alone] = await store.fetch_result_pages(workspace_id=workspace_id, pages=[page])
        [among, _] = await store.fetch_result_pages(
            workspace_id=workspace_id, pages=[page, everything]
        )
        assert alone == among, page
        in_range = [
            r
            for r in every
            if (page.after is None or r.id > page.after)
            and (page.before is None or r.id < page.before)
            and r.user_test_id == page.user_test_id
        ]
        assert alone == (in_range[-2:] if page.backward else in_range[:2]), page


async def test_settled_answers_as_gather_with_exceptions_returned() -> None:
    """Values and errors in order, every failed load retrieved (none is logged as never
    retrieved), a cancellation propagated rather than answered."""
    from loaders.base import settled

    loop = asyncio.get_running_loop()
    done, failed, later = loop.create_future(), loop.create_future(), loop.create_future()
    done.set_result(1)
    failed.set_exception(ValueError("no"))
    loop.call_soon(later.set_result, 3)
    answers = await settled([done, failed, later])
    expected = await asyncio.gather(done, failed, later, return_exceptions=True)
    assert answers == expected
    assert [type(a) for a in answers] == [int, ValueError, int]

    broken = [loop.create_future() for _ in range(3)]
    for future in broken:
        future.set_exception(RuntimeError("batch failed"))
    assert all(isinstance(a, RuntimeError) for a in await settled(broken))
    assert all(future.done() and not future._log_traceback for future in broken)

    cancelled = loop.create_future()
    cancelled.cancel()
    failed_after = loop.create_future()
    failed_after.set_exception(ValueError("unread"))
    with pytest.raises(asyncio.CancelledError):
        await settled([done, cancelled, failed_after])
    assert not failed_after._log_traceback  # retrieved: not logged as never retrieved


async def test_settled_cancelled_leaves_its_loads_as_a_cancelled_gather_does() -> None:
    """The awaiting task cancelled mid-way: loads still pending are cancelled (their batch
    then skips them), loads already failed are retrieved."""
    from loaders.base import settled

    loop = asyncio.get_running_loop()
    first, pending, failed = loop.create_future(), loop.create_future(), loop.create_future()
    failed.set_exception(RuntimeError("batch failed"))
    task = asyncio.ensure_future(settled([first, pending, failed]))
    await asyncio.sleep(0)  # the task now waits on the first load
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert first.cancelled()
    assert pending.cancelled()
    assert not failed._log_traceback


# -- load_all: a whole list of keys at once --------------------------------------------------------


async def test_load_all_answers_as_loads_do_in_one_store_call(
    spy: SpyStore, backend: Backend
) -> None:
    workspace_id, _, result_ids = await demo_ids(spy, backend)
    keys = [result_ids[2], -5, result_ids[0], result_ids[2]]
    expected = await settled([RecordingsByResultIdLoader(spy, workspace_id).load(k) for k in keys])
    loader = RecordingsByResultIdLoader(spy, workspace_id)
    spy.calls.clear()
    assert await loader.load_all(keys) == expected
    assert spy.calls == [
        (
            "fetch_recordings_by_result_ids",
            {"workspace_id": workspace_id, "result_ids": [result_ids[2], -5, result_ids[0]]},
        )
    ]
    # Held for the rest of the request: by later loads of either kind.
    assert await loader.load(result_ids[0]) == expected[2]
    assert await loader.load_all([result_ids[0], -5]) == [expected[2], []]
    assert len(spy.calls) == 1


class Toy(Loader):
    """A loader whose batch answers ``answer(keys)``, optionally once ``gate`` is set."""

    def __init__(self, answer: Any = lambda keys: [k * 10 for k in keys]) -> None:
        super().__init__(cast("Store", None), 0)
        self.answer = answer
        self.calls: list[list[int]] = []
        self.gate: asyncio.Event | None = None

    async def batch_load_fn(self, keys: Sequence[int]) -> list[Any]:
        self.calls.append(list(keys))
        if self.gate is not None:
            await self.gate.wait()
        return self.answer(keys)  # type: ignore[no-any-return]


async def test_load_all_waits_for_keys_asked_before() -> None:
    loader = Toy()
    earlier = loader.load(1)  # queued, dispatched in a later tick
    assert await loader.load_all([1, 2]) == [10, 20]
    assert await earlier == 10
    assert sorted(loader.calls) == [[1], [2]]  # each key fetched once


async def test_loads_made_during_a_fetch_wait_for_it() -> None:
    loader = Toy()
    loader.gate = asyncio.Event()
    fetching = asyncio.ensure_future(loader.load_all([1, 2]))
    await asyncio.sleep(0)
    assert loader.calls == [[1, 2]]
    during = [loader.load(2), loader.load(3)]
    again = asyncio.ensure_future(loader.load_all([1, 3]))
    await asyncio.sleep(0)
    loader.gate.set()
    assert await fetching == [10, 20]
    assert await settled(during) == [20, 30]
    assert await again == [10, 30]
    assert loader.calls == [[1, 2], [3]]


async def test_a_failed_batch_is_every_keys_error_and_is_not_held() -> None:
    failures = [RuntimeError("database gone")]

    def answer(keys: Sequence[int]) -> list[int]:
        if failures:
            raise failures.pop()
        return [k * 10 for k in keys]

    loader = Toy(answer)
    errors = await loader.load_all([1, 2])
    assert [type(e) for e in errors] == [RuntimeError, RuntimeError]
    assert await loader.load_all([1, 2]) == [10, 20]  # asked again
    assert loader.calls == [[1, 2], [1, 2]]


async def test_a_batch_answering_the_wrong_number_of_values_fails_every_key() -> None:
    loader = Toy(lambda keys: [1])
    errors = await loader.load_all([1, 2])
    assert [type(e) for e in errors] == [TypeError, TypeError]


async def test_an_exception_among_the_values_is_its_keys_and_is_held() -> None:
    loader = Toy(lambda keys: [10, ValueError("no such key")])
    first = await loader.load_all([1, 2])
    assert first[0] == 10
    assert isinstance(first[1], ValueError)
    later = loader.load(2)
    with pytest.raises(ValueError, match="no such key"):
        await later
    assert loader.calls == [[1, 2]]


async def test_a_cancelled_fetch_cancels_the_loads_waiting_for_it_and_holds_nothing() -> None:
    loader = Toy()
    loader.gate = asyncio.Event()
    fetching = asyncio.ensure_future(loader.load_all([1, 2]))
    await asyncio.sleep(0)
    waiting = loader.load(1)
    fetching.cancel()
    with pytest.raises(asyncio.CancelledError):
        await fetching
    assert waiting.cancelled()
    loader.gate.set()
    assert await loader.load_all([1, 2]) == [10, 20]
    assert loader.calls == [[1, 2], [1, 2]]

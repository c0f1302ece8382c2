"""The read cache (app.store.tree_cache): results' recordings and media read again are
answered from the process's cache, and never once a write has changed them, whoever wrote it
(the API, another process, SQL typed by hand) and even when that write was rolled back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.ids import to_global_id
from app.store.facade import Admin, Store
from app.store.records import AttachedMediaRecord, PageRequest, RecordingRecord
from app.store.tree_cache import TreeCache
from tests.conftest import Backend, ClientFactory, StatementCounter, make_settings
from tests.support.graphql import gql
from tests.support.writes import report

Tree = tuple[list[RecordingRecord], list[AttachedMediaRecord]]


@pytest.fixture
async def demo(connection: AsyncConnection) -> dict[str, Any]:
    """Two demo results with a recording and media each: ``result`` (the one read) and
    ``other``, with their ids and their download recording's, and one of ``result``'s media."""
    rows = (
        await connection.execute(
            text(
                "SELECT r.id, r.uuid, r.workspace_id, r.participant_id, rec.id, m.id, rec.uuid "
                "FROM user_test_results r JOIN recordings rec ON rec.result_id = r.id "
                "JOIN attached_media m ON m.recording_id = rec.id "
                "WHERE rec.kind = 'download' ORDER BY r.id, m.id"
            )
        )
    ).all()
    first = rows[0]
    second = next(row for row in rows if row[0] != first[0] and row[3] != first[3])
    return {
        "result": first[0],
        "uuid": first[1],
        "workspace": first[2],
        "participant": first[3],
        "recording": first[4],
        "media": first[5],
        "recording_uuid": first[6],
        "other_result": second[0],
        "other_participant": second[3],
        "other_recording": second[4],
    }


def shared(connection: AsyncConnection) -> Any:
    @asynccontextmanager
    async def connect() -> AsyncIterator[AsyncConnection]:
        yield connection

    return connect


async def below(store: Store, workspace: int, result_ids: list[int]) -> Tree:
    """The recordings of ``result_ids`` and their media, as a request reads them, sorted."""
    grouped = await store.fetch_recordings_by_result_ids(
        workspace_id=workspace, result_ids=result_ids
    )
    recordings = [record for records in grouped.values() for record in records]
    media = await store.fetch_attached_media_by_recording_ids(
        workspace_id=workspace, recording_ids=[r.id for r in recordings]
    )
    return sorted(recordings), sorted(record for records in media.values() for record in records)


async def read_tree(connection: AsyncConnection, trees: TreeCache, demo: dict[str, Any]) -> Tree:
    """What one request reads of the demo result: the result, its recordings, their media."""
    store = Store(shared(connection), shared(connection), trees=trees)
    workspace = demo["workspace"]
    try:
        [result] = await store.fetch_results_by_uuids(workspace_id=workspace, uuids=[demo["uuid"]])
        return await below(store, workspace, [result.id])
    finally:
        await store.close()


# Every kind of change to what a result's tree reads as, in SQL (any writer's): each trigger of
# migration 0004, and for a move both its old and its new side.
_COPY_MEDIA = (
    "INSERT INTO attached_media (workspace_id, recording_id, uuid, language, type, status, "
    "status_reason, storage_key, mime_type, error, finalised_at, created_at) "
    "SELECT workspace_id, :into, 'copied-media', 'zz', type, status, status_reason, "
    "storage_key, mime_type, error, finalised_at, created_at FROM attached_media WHERE id = :media"
)
_COPY_RECORDING = (
    "INSERT INTO recordings (workspace_id, result_id, uuid, kind, storage_key, mime_type, "
    "is_audio, filesize, duration, language, failed, failed_type, missing_data_warning, "
    "start_time, created_at, status) "
    "SELECT workspace_id, :into, 'copied-recording', 'camera', storage_key, mime_type, "
    "is_audio, filesize, duration, language, failed, failed_type, missing_data_warning, "
    "start_time, created_at, status FROM recordings WHERE id = :recording"
)
# Each: one statement, or a copy (``_COPY_*``, into the demo row named next) and what follows.
WRITES: dict[str, str | tuple[str, ...]] = {
    "media status": "UPDATE attached_media SET status = 'FAILED' WHERE id = :media",
    "media inserted": (_COPY_MEDIA, "recording"),
    "media deleted": "DELETE FROM attached_media WHERE id = :media",
    "media moved away": (
        "UPDATE attached_media SET recording_id = :other_recording, language = 'zz' "
        "WHERE id = :media"
    ),
    "media moved here": (
        _COPY_MEDIA,
        "other_recording",
        "UPDATE attached_media SET recording_id = :recording WHERE uuid = 'copied-media'",
    ),
    "recording duration": "UPDATE recordings SET duration = 4242.5 WHERE id = :recording",
    "recording inserted": (_COPY_RECORDING, "result"),
    "recording deleted": "DELETE FROM recordings WHERE id = :recording",
    "recording moved away": (
        "UPDATE recordings SET result_id = :other_result, kind = 'camera' WHERE id = :recording"
    ),
    "recording moved here": (
        _COPY_RECORDING,
        "other_result",
        "UPDATE recordings SET result_id = :result WHERE uuid = 'copied-recording'",
    ),
    "participant renamed": "UPDATE participants SET name = 'Renamed' WHERE id = :participant",
    "participant deleted": "DELETE FROM participants WHERE id = :participant",
    "result given another participant": (
        "UPDATE user_test_results SET participant_id = :other_participant WHERE id = :result"
    ),
    "test renamed": (
        "UPDATE user_tests SET name = 'Renamed study' "
        "WHERE id = (SELECT user_test_id FROM user_test_results WHERE id = :result)"
    ),
}


async def run_sql(
    connection: AsyncConnection, write: str | tuple[str, ...], demo: dict[str, Any]
) -> None:
    if isinstance(write, str):
        write = (write,)
    values = dict(demo)
    if write[0] in (_COPY_MEDIA, _COPY_RECORDING):
        values["into"] = demo[write[1]]
        write = (write[0], *write[2:])
    for statement in write:
        names = {name for name in values if f":{name}" in statement}
        await connection.execute(text(statement), {name: values[name] for name in names})


@pytest.mark.parametrize("write", list(WRITES))
async def test_a_cached_tree_is_never_answered_once_a_write_changed_it(
    connection: AsyncConnection,
    statements: StatementCounter,
    demo: dict[str, Any],
    write: str,
) -> None:
    trees = TreeCache(100)
    before = await read_tree(connection, trees, demo)
    statements.reset()
    assert await read_tree(connection, trees, demo) == before
    assert statements.count == 1  # the result only: its recordings and media from the cache
    await run_sql(connection, WRITES[write], demo)
    uncached = await read_tree(connection, TreeCache(0), demo)
    assert uncached != before  # the write changed the tree
    statements.reset()
    assert await read_tree(connection, trees, demo) == uncached
    assert statements.count == (3 if uncached[0] else 2)  # read afresh (no recordings: no media)
    statements.reset()
    assert await read_tree(connection, trees, demo) == uncached
    assert statements.count == 1  # and cached again


async def read_pages(connection: AsyncConnection, trees: TreeCache, demo: dict[str, Any]) -> Tree:
    """Two pages of the demo result's test read in one statement (``fetch_result_pages``' UNION
    ALL, as aliased connections are), and their results' recordings and media."""
    test = (
        await connection.execute(
            text("SELECT user_test_id FROM user_test_results WHERE id = :result"), demo
        )
    ).scalar_one()
    store = Store(shared(connection), shared(connection), trees=trees)
    workspace = demo["workspace"]
    try:
        pages = await store.fetch_result_pages(
            workspace_id=workspace,
            pages=[
                PageRequest(user_test_id=test, limit=3),
                PageRequest(user_test_id=test, limit=3, after=demo["result"] - 1),
            ],
        )
        result_ids = sorted({r.id for page in pages for r in page})
        assert demo["result"] in result_ids
        return await below(store, workspace, result_ids)
    finally:
        await store.close()


async def test_pages_read_together_check_each_tree_by_its_own_revision(
    connection: AsyncConnection, statements: StatementCounter, demo: dict[str, Any]
) -> None:
    trees = TreeCache(100)
    before = await read_pages(connection, trees, demo)
    statements.reset()
    assert await read_pages(connection, trees, demo) == before
    assert statements.count == 2  # the user test's id, the pages: the trees from the cache
    await run_sql(connection, WRITES["media status"], demo)
    after = await read_pages(connection, trees, demo)
    assert after != before
    assert after == await read_pages(connection, TreeCache(0), demo)


async def test_a_write_rolled_back_after_its_tree_was_cached_leaves_no_trace(
    connection: AsyncConnection, demo: dict[str, Any]
) -> None:
    trees = TreeCache(100)
    before = await read_tree(connection, trees, demo)
    savepoint = await connection.begin_nested()
    await run_sql(connection, WRITES["media status"], demo)
    changed = await read_tree(connection, trees, demo)  # cached as of the write's revision
    assert changed != before
    await savepoint.rollback()
    assert await read_tree(connection, trees, demo) == before
    # The same write again, committed this time, gets a revision of its own: not the one the
    # rolled-back write's tree was cached under, whatever it cached.
    await run_sql(connection, "UPDATE attached_media SET status = 'ERROR' WHERE id = :media", demo)
    assert await read_tree(connection, trees, demo) == await read_tree(
        connection, TreeCache(0), demo
    )


async def test_a_bulk_load_of_new_results_turns_the_triggers_off_only_meanwhile(
    connection: AsyncConnection, backend: Backend, demo: dict[str, Any]
) -> None:
    """``Admin.loading_new_results`` (the benchmark's dataset): on PostgreSQL, rows inserted in
    it leave their result's revision alone; afterwards the triggers are back."""
    query = text("SELECT revision FROM user_test_results WHERE id = :result")

    async def revision() -> int:
        found: int = (await connection.execute(query, {"result": demo["result"]})).scalar_one()
        return found

    before = await revision()
    async with Admin(connection).loading_new_results():
        await run_sql(connection, WRITES["media inserted"], demo)
    during = await revision()
    assert (during == before) is (backend.name == "postgresql")
    await run_sql(connection, WRITES["media status"], demo)
    assert await revision() != during


async def test_revisions_are_never_reused(
    connection: AsyncConnection, demo: dict[str, Any]
) -> None:
    query = text("SELECT revision FROM user_test_results WHERE id = :result")
    seen = {(await connection.execute(query, {"result": demo["result"]})).scalar_one()}
    for status in ("FAILED", "SUCCESS") * 10:
        await connection.execute(
            text("UPDATE attached_media SET status = :status WHERE id = :media"),
            {"status": status, "media": demo["media"]},
        )
        revision = (await connection.execute(query, {"result": demo["result"]})).scalar_one()
        assert revision not in seen
        seen.add(revision)


async def test_another_workspace_never_reads_a_cached_tree(
    connection: AsyncConnection, demo: dict[str, Any]
) -> None:
    trees = TreeCache(100)
    await read_tree(connection, trees, demo)
    assert len(trees) == 1
    store = Store(shared(connection), shared(connection), trees=trees)
    stranger = demo["workspace"] + 1000
    try:
        # The result read in its workspace, then its recordings asked for in another one.
        await store.fetch_results_by_uuids(workspace_id=demo["workspace"], uuids=[demo["uuid"]])
        assert await store.fetch_recordings_by_result_ids(
            workspace_id=stranger, result_ids=[demo["result"]]
        ) == {demo["result"]: []}
        assert await store.fetch_attached_media_by_recording_ids(
            workspace_id=stranger, recording_ids=[demo["recording"]]
        ) == {demo["recording"]: []}
    finally:
        await store.close()


async def test_the_cache_keeps_at_most_its_size_least_recently_used_out_first() -> None:
    trees = TreeCache(2)
    for result_id in (1, 2):
        tree = trees.keep(result_id, revision=10)
        assert tree is not None
        tree.recordings = []
    assert trees.get(1, 10) is not None  # 1 is now the most recently used
    trees.keep(3, revision=10)
    assert len(trees) == 2
    assert trees.get(2, 10) is None
    assert trees.get(1, 10) is not None
    assert trees.get(1, 11) is None  # another revision: not this tree
    assert TreeCache(0).keep(1, revision=10) is None  # off


PAGE = """query($first: Int!) {
  userTest(uuid: "ut_645c4faa-5c2d-49b1-85fa-823ffbbbfa17") {
    results(first: $first) { edges { node { pk recordings { download {
      duration usertestName mediaUrl
      attachedMedia { language media { id type status url } }
    } } } } }
  }
}"""


async def test_a_page_read_again_reads_neither_recordings_nor_media(
    client: httpx.AsyncClient, statements: StatementCounter, one_window: None
) -> None:
    await gql(client, "{ __typename }")  # the key, authenticated and cached
    statements.reset()
    first = await gql(client, PAGE, {"first": 100})
    assert statements.count == 4  # user test, results, recordings, media
    statements.reset()
    assert await gql(client, PAGE, {"first": 100}) == first
    assert statements.count == 2  # user test, results


async def test_a_page_with_the_cache_off_reads_everything_every_time(
    client_factory: ClientFactory, backend: Backend, statements: StatementCounter
) -> None:
    settings = make_settings(
        backend.settings.var_dir,
        backend.settings.database_url,
        FOOTAGE_READ_CACHE_SIZE="0",
    )
    async with client_factory(settings=settings) as client:
        await gql(client, "{ __typename }")
        for _ in range(2):
            statements.reset()
            await gql(client, PAGE, {"first": 100})
            assert statements.count == 4


def languages(body: dict[str, Any]) -> set[str]:
    return {
        group["language"]
        for edge in body["data"]["userTest"]["results"]["edges"]
        if edge["node"]["recordings"]["download"] is not None
        for group in edge["node"]["recordings"]["download"]["attachedMedia"]
    }


async def test_a_process_sees_what_another_process_wrote_through_the_api(
    client_factory: ClientFactory, demo: dict[str, Any], one_window: None
) -> None:
    """Two apps (two processes' caches) over one database: one reads a page, the other
    reports a media item for one of its recordings; the first then answers with it."""
    async with client_factory() as reader, client_factory() as writer:
        before = await gql(reader, PAGE, {"first": 100})
        assert await gql(reader, PAGE, {"first": 100}) == before  # from the cache
        assert "zz" not in languages(before)
        recording_id = to_global_id("TestSessionRecording", demo["recording_uuid"])
        await report(writer, recording_id, type="WAVEFORM", language="zz", status="PENDING")
        after = await gql(reader, PAGE, {"first": 100})
        assert languages(after) == languages(before) | {"zz"}

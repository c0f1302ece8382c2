"""Storage keys belong to a workspace: every key a workspace writes lies under `<slug>/`, only
the key's own workspace's rows keep its object from deletion, a replaced upload key goes to the
outbox, and a key naming a directory is dropped from the outbox instead of retried forever."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.ids import from_global_id
from app.media.storage import LocalDeleter, UnsafeKey
from app.store import models
from app.store.lifecycle import TRANSITIONS, apply_transition
from app.store.outbox import referenced_keys
from tests.conftest import Backend, ClientFactory, make_settings
from tests.support.factories import make_workspace
from tests.support.graphql import error_codes, gql
from tests.support.writes import (
    DELETE_RECORDING,
    REGISTER,
    create_result,
    create_test,
    register,
    report,
    session,
    transition,
)


def demo_key(name: str) -> str:
    """A key of the demo's no other test uses (on SQLite, the app's writes outlive a test)."""
    return f"demo/tenancy/{uuid.uuid4()}/{name}"


def stored(root: Path, key: str) -> Path:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"data")
    return path


async def outbox_keys(connection: AsyncConnection) -> list[str]:
    rows = await connection.execute(select(models.StorageDeletion.storage_key))
    return sorted(str(row[0]) for row in rows)


async def demo_workspace_id(connection: AsyncConnection) -> int:
    found = select(models.Workspace.id).where(models.Workspace.slug == "demo")
    return int((await connection.execute(found)).scalar_one())


def assert_outside_prefix(body: dict[str, Any], prefix: str) -> None:
    assert error_codes(body) == ["BAD_USER_INPUT"]
    error = body["errors"][0]
    assert error["extensions"]["argument"] == "storageKey"
    assert error["extensions"]["requiredPrefix"] == prefix
    assert prefix in error["message"]


@pytest.mark.parametrize(
    "key",
    [
        "demo/recordings/tenancy/recording.mp4",
        "other/recording.mp4",
        "demo",
        "evilx/recording.mp4",
        "evil",
    ],
)
async def test_register_recording_refuses_a_key_outside_the_workspace_prefix(
    client: httpx.AsyncClient, connection: AsyncConnection, key: str
) -> None:
    evil = await make_workspace(connection, "evil")
    client.headers["Authorization"] = f"Bearer {evil.key}"
    result = await create_result(client, await create_test(client))
    values = {
        "resultUuid": result["responseUUID"],
        "kind": "DOWNLOAD",
        "mimeType": "video/mp4",
        "storageKey": key,
        "uploaded": True,
    }
    body = await gql(client, REGISTER, {"input": values}, expect_errors=True)
    assert_outside_prefix(body, "evil/")
    assert body["data"] is None
    count = select(func.count()).select_from(models.Recording)
    rows = await connection.execute(count.where(models.Recording.storage_key == key))
    assert rows.scalar_one() == 0


async def test_register_recording_accepts_a_key_under_the_workspace_prefix(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    evil = await make_workspace(connection, "evil")
    client.headers["Authorization"] = f"Bearer {evil.key}"
    result = await create_result(client, await create_test(client))
    recording = await register(
        client, result["responseUUID"], storageKey="evil/own/recording.mp4", uploaded=True
    )
    assert recording["status"] == "UPLOADED"


async def test_complete_upload_refuses_a_key_outside_the_workspace_prefix(
    client: httpx.AsyncClient,
) -> None:
    _test, _result, recording_id = await session(client)
    await transition(client, "start", recording_id)
    await transition(client, "stop", recording_id)
    body = await transition(
        client, "complete", recording_id, storageKey="bench/recording.mp4", expect_errors=True
    )
    assert_outside_prefix(body, "demo/")
    done = await transition(client, "complete", recording_id, storageKey="demo/late/key.mp4")
    assert done["data"]["completeRecordingUpload"]["recording"]["status"] == "UPLOADED"


async def test_report_attached_media_refuses_a_key_outside_the_workspace_prefix(
    client: httpx.AsyncClient,
) -> None:
    _test, _result, recording_id = await session(client)
    body = await report(
        client, recording_id, status="SUCCESS", storageKey="evil/subtitles.vtt", expect_errors=True
    )
    assert_outside_prefix(body, "demo/")
    done = await report(client, recording_id, status="SUCCESS", storageKey="demo/subtitles.vtt")
    assert done["data"]["reportAttachedMedia"]["applied"] is True


async def test_another_workspace_row_does_not_keep_a_deleted_file_alive(
    backend: Backend, client_factory: ClientFactory, connection: AsyncConnection, tmp_path: Path
) -> None:
    """A row of another workspace naming the demo's object (one written before keys were tied
    to workspaces) does not keep it once the demo deletes its own recording."""
    settings = make_settings(tmp_path, backend.settings.database_url)
    key = demo_key("recording.mp4")
    file = stored(settings.media_root, key)
    evil = await make_workspace(connection, "evil")
    await connection.execute(
        update(models.Recording)
        .where(models.Recording.uuid == evil.recording_uuid)
        .values(storage_key=key)
    )
    async with client_factory(settings=settings) as client:
        _test, _result, recording_id = await session(client, storageKey=key, uploaded=True)
        await gql(client, DELETE_RECORDING, {"input": {"recordingId": recording_id}})
    assert not file.exists()
    assert await outbox_keys(connection) == []


async def test_a_file_a_row_of_its_own_workspace_uses_is_kept(
    backend: Backend, client_factory: ClientFactory, connection: AsyncConnection, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, backend.settings.database_url)
    key = demo_key("recording.mp4")
    file = stored(settings.media_root, key)
    async with client_factory(settings=settings) as client:
        _test, _result, first = await session(client, storageKey=key, uploaded=True)
        await session(client, storageKey=key, uploaded=True)
        await gql(client, DELETE_RECORDING, {"input": {"recordingId": first}})
    assert file.exists()
    assert await outbox_keys(connection) == []


async def test_referenced_keys_counts_only_rows_of_the_key_owner(
    connection: AsyncConnection,
) -> None:
    evil = await make_workspace(connection, "evil")
    # evil/recording.mp4 and evil/subtitles.vtt are evil's own (make_workspace).
    nested = await make_workspace(connection, "evil/team")
    pinned = demo_key("pinned.mp4")
    legacy = {
        nested.recording_uuid: "evil/team/x.mp4",  # under both `evil/` and `evil/team/`
        evil.recording_uuid: pinned,  # another workspace's object
    }
    for recording_uuid, key in legacy.items():
        await connection.execute(
            update(models.Recording)
            .where(models.Recording.uuid == recording_uuid)
            .values(storage_key=key)
        )
    orphan = await make_workspace(connection, "orphan")
    await connection.execute(
        update(models.AttachedMedia)
        .where(models.AttachedMedia.uuid == orphan.media_uuid)
        .values(storage_key="no-such-workspace/legacy.vtt")
    )
    keys = [
        "evil/subtitles.vtt",
        "evil/team/x.mp4",
        pinned,
        "no-such-workspace/legacy.vtt",
        "evil/never.mp4",
    ]
    # A key of no workspace (written before the prefix rule) stays while any row uses it.
    assert await referenced_keys(connection, keys) == {
        "evil/subtitles.vtt",
        "evil/team/x.mp4",
        "no-such-workspace/legacy.vtt",
    }


async def uploading(client: httpx.AsyncClient, key: str | None) -> str:
    extra = {} if key is None else {"storageKey": key}
    _test, _result, recording_id = await session(client, **extra)
    await transition(client, "start", recording_id)
    await transition(client, "stop", recording_id)
    return recording_id


async def complete_in_store(
    connection: AsyncConnection, recording_id: str, key: str
) -> tuple[int, ...]:
    _type, recording_uuid = from_global_id(recording_id)
    moved = await apply_transition(
        connection,
        workspace_id=await demo_workspace_id(connection),
        recording_uuid=recording_uuid,
        transition=TRANSITIONS["complete_upload"],
        now=datetime.now(UTC),
        caller={"type": "ORGANIZATION", "userId": None, "name": None},
        note=None,
        values={"storage_key": key, "filesize": None, "duration": None},
        storage="local",
    )
    return moved.deletions


async def test_completing_with_a_new_key_queues_the_replaced_object(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    first = demo_key("first.mp4")
    recording_id = await uploading(client, first)
    deletions = await complete_in_store(connection, recording_id, demo_key("second.mp4"))
    assert len(deletions) == 1
    assert await outbox_keys(connection) == [first]


async def test_completing_keeps_an_object_that_is_not_replaced_or_still_used(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    same_key = demo_key("same.mp4")
    same = await uploading(client, same_key)
    assert await complete_in_store(connection, same, same_key) == ()
    unnamed = await uploading(client, None)
    assert await complete_in_store(connection, unnamed, demo_key("named-late.mp4")) == ()
    shared_key = demo_key("shared.mp4")
    await session(client, storageKey=shared_key, uploaded=True)
    shared = await uploading(client, shared_key)
    assert await complete_in_store(connection, shared, demo_key("own.mp4")) == ()
    assert await outbox_keys(connection) == []


async def test_complete_upload_with_a_new_key_removes_the_replaced_file(
    backend: Backend, client_factory: ClientFactory, connection: AsyncConnection, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, backend.settings.database_url)
    first_key, second_key = demo_key("first.mp4"), demo_key("second.mp4")
    first = stored(settings.media_root, first_key)
    second = stored(settings.media_root, second_key)
    async with client_factory(settings=settings) as client:
        recording_id = await uploading(client, first_key)
        await transition(client, "complete", recording_id, storageKey=second_key)
    assert (first.exists(), second.exists()) == (False, True)
    assert await outbox_keys(connection) == []


async def test_a_key_naming_a_directory_is_dropped_from_the_outbox(
    backend: Backend, client_factory: ClientFactory, connection: AsyncConnection, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, backend.settings.database_url)
    key = demo_key("folder")
    directory = settings.media_root / key
    stored(settings.media_root, f"{key}/inside.mp4")
    async with client_factory(settings=settings) as client:
        _test, _result, recording_id = await session(client, storageKey=key, uploaded=True)
        await gql(client, DELETE_RECORDING, {"input": {"recordingId": recording_id}})
    assert (directory / "inside.mp4").exists()
    assert await outbox_keys(connection) == []


def test_local_deleter_refuses_a_directory(tmp_path: Path) -> None:
    (tmp_path / "demo/folder").mkdir(parents=True)
    with pytest.raises(UnsafeKey):
        LocalDeleter(root=tmp_path).delete("demo/folder")
    assert (tmp_path / "demo/folder").is_dir()


def test_local_deleter_treats_a_path_through_a_file_as_deleted(tmp_path: Path) -> None:
    file = stored(tmp_path, "demo/recording.mp4")
    LocalDeleter(root=tmp_path).delete("demo/recording.mp4/part")
    assert file.exists()

"""Deletes: rows go in one transaction, files go after it (best-effort, through the outbox),
and afterwards every id answers as an unknown one."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.api_core.exceptions import NotFound
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.context import Services
from app.main import create_app
from app.media.cleanup import backoff
from app.media.gcs import GcsDeleter
from app.media.storage import LocalDeleter, UnsafeKey, path_under
from app.store import models
from tests.conftest import Backend, ClientFactory, FreshDatabase, make_settings, running
from tests.support.graphql import error_codes, gql
from tests.support.writes import (
    DELETE_RECORDING,
    DELETE_RESULT,
    FEED,
    REGISTER,
    create_result,
    create_test,
    register,
    report,
)

GONE = """query($r: String!, $result: ID!, $rec: ID!, $media: ID!) {
  userTestResult(resultUuid: $r) { pk }
  result: node(id: $result) { id }
  recording: node(id: $rec) { id }
  media: node(id: $media) { id }
}"""


def stored(root: Path, key: str, content: bytes = b"data") -> Path:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


async def full_session(client: httpx.AsyncClient, prefix: str) -> dict[str, Any]:
    """A result with an uploaded recording and a produced subtitles file, under ``prefix``."""
    test_uuid = await create_test(client)
    result = await create_result(client, test_uuid)
    recording = await register(
        client,
        result["responseUUID"],
        storageKey=f"{prefix}/recording.mp4",
        uploaded=True,
    )
    media = await report(
        client,
        recording["id"],
        status="SUCCESS",
        storageKey=f"{prefix}/subtitles.en.vtt",
    )
    return {
        "test": test_uuid,
        "result": result,
        "recording": recording["id"],
        "media": media["data"]["reportAttachedMedia"]["attachedMedia"]["id"],
    }


async def outbox_rows(connection: AsyncConnection) -> int:
    count = select(func.count()).select_from(models.StorageDeletion)
    return int((await connection.execute(count)).scalar_one())


async def test_deleted_result_answers_as_gone_and_its_files_are_removed(
    backend: Backend, client_factory: ClientFactory, connection: AsyncConnection, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, backend.settings.database_url)
    files = [
        stored(settings.media_root, "demo/s1/recording.mp4"),
        stored(settings.media_root, "demo/s1/subtitles.en.vtt"),
    ]
    async with client_factory(settings=settings) as client:
        made = await full_session(client, "demo/s1")
        variables = {
            "r": made["result"]["responseUUID"],
            "result": made["result"]["id"],
            "rec": made["recording"],
            "media": made["media"],
        }
        before = await gql(client, GONE, variables)
        assert all(value is not None for value in before["data"].values())
        assert (await client.get(f"/media/{made['recording']}")).status_code == 302

        body = await gql(
            client, DELETE_RESULT, {"input": {"resultUuid": made["result"]["responseUUID"]}}
        )
        deleted = body["data"]["deleteUserTestResult"]
        assert deleted["deletedResultUuid"] == made["result"]["responseUUID"]
        assert deleted["deletedId"] == made["result"]["id"]
        assert deleted["userTest"] == {"uuid": made["test"]}

        after = await gql(client, GONE, variables)
        assert after["data"] == {
            "userTestResult": None,
            "result": None,
            "recording": None,
            "media": None,
        }
        for global_id in (made["recording"], made["media"]):
            assert (await client.get(f"/media/{global_id}")).status_code == 404
        feed = await gql(client, FEED, {"test": made["test"], "first": 100})
        last = feed["data"]["testResultChanges"]["edges"][-1]["node"]
        assert (last["kind"], last["objectType"]) == ("DELETED", "USER_TEST_RESULT")
        again = await gql(
            client,
            DELETE_RESULT,
            {"input": {"resultUuid": made["result"]["responseUUID"]}},
            expect_errors=True,
        )
        assert error_codes(again) == ["NOT_FOUND"]
    assert [path.exists() for path in files] == [False, False]
    assert not (settings.media_root / "demo/s1").exists()
    assert await outbox_rows(connection) == 0


async def test_deleted_recording_leaves_its_result(
    backend: Backend, client_factory: ClientFactory, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, backend.settings.database_url)
    file = stored(settings.media_root, "demo/s2/recording.mp4")
    async with client_factory(settings=settings) as client:
        made = await full_session(client, "demo/s2")
        body = await gql(client, DELETE_RECORDING, {"input": {"recordingId": made["recording"]}})
        payload = body["data"]["deleteRecording"]
        assert payload["deletedRecordingId"] == made["recording"]
        assert payload["userTestResult"] == {"responseUUID": made["result"]["responseUUID"]}
        read = await gql(
            client,
            """query($r: String!) {
              userTestResult(resultUuid: $r) { recordings { download { id } } } }""",
            {"r": made["result"]["responseUUID"]},
        )
        assert read["data"]["userTestResult"]["recordings"]["download"] is None
        feed = await gql(client, FEED, {"test": made["test"], "first": 100})
        last = feed["data"]["testResultChanges"]["edges"][-1]["node"]
        assert (last["kind"], last["objectType"], last["objectChange"]) == (
            "UPDATED",
            "TEST_SESSION_RECORDING",
            "DELETED",
        )
    assert not file.exists()


async def test_a_file_another_row_still_uses_is_kept(
    backend: Backend, client_factory: ClientFactory, connection: AsyncConnection, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, backend.settings.database_url)
    shared = stored(settings.media_root, "demo/shared/intro.mp4")
    async with client_factory(settings=settings) as client:
        test_uuid = await create_test(client)
        one = await create_result(client, test_uuid, "One")
        two = await create_result(client, test_uuid, "Two")
        for result in (one, two):
            await register(
                client, result["responseUUID"], storageKey="demo/shared/intro.mp4", uploaded=True
            )
        await gql(client, DELETE_RESULT, {"input": {"resultUuid": one["responseUUID"]}})
    assert shared.exists()
    assert await outbox_rows(connection) == 0


class FailingOnce:
    """A local backend whose first deletion fails, as a storage outage would."""

    def __init__(self, inner: LocalDeleter) -> None:
        self.inner = inner
        self.name = inner.name
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def delete(self, storage_key: str) -> None:
        with self._lock:
            self.calls.append(storage_key)
            first = len(self.calls) == 1
        if first:
            raise OSError("storage is unavailable")
        self.inner.delete(storage_key)


async def test_a_failed_storage_deletion_is_retried_from_the_outbox(
    fresh_database: FreshDatabase,
) -> None:
    root = fresh_database.settings.media_root
    file = stored(root, "fresh/flaky/recording.mp4")
    deleter = FailingOnce(LocalDeleter(root=root))
    app = create_app(fresh_database.settings, engine=fresh_database.engine, deleter=deleter)
    async with running(app) as client:
        client.headers["Authorization"] = f"Bearer {fresh_database.key}"
        test_uuid = await create_test(client)
        result = await create_result(client, test_uuid)
        recording = await register(
            client, result["responseUUID"], storageKey="fresh/flaky/recording.mp4", uploaded=True
        )
        body = await gql(client, DELETE_RECORDING, {"input": {"recordingId": recording["id"]}})
        assert body["data"]["deleteRecording"]["deletedRecordingId"] == recording["id"]
        assert file.exists()  # the storage failed, the delete did not
        services: Services = app.state.services
        [(key, attempts, error)] = await services.storage.outbox.pending()
        assert (key, attempts) == ("fresh/flaky/recording.mp4", 1)
        assert error is not None
        assert "storage is unavailable" in error

        # Not due yet: the backoff holds it back.
        early = await services.storage.sweep()
        assert (early.removed, early.failed) == (0, 0)
        later = datetime.now(UTC) + backoff(1) + timedelta(seconds=1)
        report_ = await services.storage.sweep(now=later)
        assert (report_.removed, report_.failed) == (1, 0)
        assert await services.storage.outbox.pending() == []
    assert not file.exists()
    assert deleter.calls == ["fresh/flaky/recording.mp4", "fresh/flaky/recording.mp4"]


def test_backoff_doubles_up_to_an_hour() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 8, 50)] == [30, 60, 120, 3600, 3600]


@pytest.mark.parametrize("key", ["../outside", "a/../../outside", "/etc/passwd", "a\x00b", ""])
def test_local_deleter_refuses_keys_leaving_its_root(tmp_path: Path, key: str) -> None:
    root = tmp_path / "media"
    root.mkdir()
    outside = stored(tmp_path, "outside")
    with pytest.raises(UnsafeKey):
        LocalDeleter(root=root).delete(key)
    assert outside.exists()


def test_local_deleter_refuses_a_symlink_out_of_its_root(tmp_path: Path) -> None:
    root = tmp_path / "media"
    root.mkdir()
    target = stored(tmp_path, "secret.txt")
    (root / "link").symlink_to(target)
    with pytest.raises(UnsafeKey):
        path_under(root, "link")
    assert target.exists()


def test_local_deleter_treats_a_missing_file_as_deleted(tmp_path: Path) -> None:
    LocalDeleter(root=tmp_path).delete("never/was.mp4")


class FakeBlob:
    def __init__(self, bucket: FakeBucket, name: str) -> None:
        self.bucket, self.name = bucket, name

    def delete(self, *, timeout: float, retry: object) -> None:
        assert retry is None  # the outbox retries, not the library
        if self.name not in self.bucket.objects:
            raise NotFound("no such object")
        self.bucket.objects.remove(self.name)


class FakeBucket:
    def __init__(self, objects: set[str]) -> None:
        self.objects = objects

    def blob(self, name: str) -> FakeBlob:
        return FakeBlob(self, name)


class FakeClient:
    def __init__(self, bucket: FakeBucket) -> None:
        self._bucket = bucket
        self.buckets: list[str] = []

    def bucket(self, name: str) -> FakeBucket:
        self.buckets.append(name)
        return self._bucket


def test_gcs_deleter_deletes_the_blob_and_counts_404_as_done() -> None:
    bucket = FakeBucket({"a/recording.mp4"})
    client = FakeClient(bucket)
    deleter = GcsDeleter(bucket="footage-media", client=lambda: client)
    assert deleter.name == "gcs:footage-media"
    deleter.delete("a/recording.mp4")
    deleter.delete("a/recording.mp4")  # gone already: fine
    assert bucket.objects == set()
    assert client.buckets == ["footage-media"]  # one client, made once


async def test_writes_racing_a_delete_are_refused_cleanly_and_leave_no_orphans(
    fresh_database: FreshDatabase,
) -> None:
    """A result deleted while recordings are registered and media reported under it: each
    racing write either lands before the delete (and goes with it) or is NOT_FOUND or CONFLICT;
    none is INTERNAL, and no row is left pointing at the deleted result."""
    app = create_app(fresh_database.settings, engine=fresh_database.engine)
    async with running(app) as client:
        client.headers["Authorization"] = f"Bearer {fresh_database.key}"
        result = await create_result(client, await create_test(client))
        recording = await register(client, result["responseUUID"])
        writes = [
            gql(
                client,
                DELETE_RESULT,
                {"input": {"resultUuid": result["responseUUID"]}},
                expect_errors=True,
            ),
            *(
                register_kind(client, result["responseUUID"], kind)
                for kind in ("SCREEN", "CAMERA", "AUDIO")
            ),
            *(
                report(client, recording["id"], status="PENDING", type=t, expect_errors=True)
                for t in ("SUBTITLES", "WAVEFORM", "SUMMARISATION")
            ),
        ]
        bodies = await asyncio.gather(*writes)
    assert "errors" not in bodies[0]
    codes = {code for body in bodies for code in error_codes(body)}
    assert codes <= {"NOT_FOUND", "CONFLICT"}
    async with fresh_database.engine.connect() as connection:
        for model in (models.UserTestResult, models.Recording, models.AttachedMedia):
            count = select(func.count()).select_from(model)
            assert (await connection.execute(count)).scalar_one() == 0


async def register_kind(client: httpx.AsyncClient, result_uuid: str, kind: str) -> dict[str, Any]:
    mime = "audio/ogg" if kind == "AUDIO" else "video/webm"
    return await gql(
        client,
        REGISTER,
        {"input": {"resultUuid": result_uuid, "kind": kind, "mimeType": mime}},
        expect_errors=True,
    )

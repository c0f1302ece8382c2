"""Deletes and first media reports racing other writes, each in its own committed transaction.

Every scenario is the same interleaving: the first write runs and holds its transaction open,
the second starts in its own and runs until it has to wait for the first, then the first
commits. On PostgreSQL the second is released once the server reports it blocked by the first;
on SQLite (whose driver opens a transaction only at the first write, so the reads before it are
in none) once it is about to write, which makes it wait for the first's write lock. Either way
the second has done whatever reading it does before its wait, so a write that read too early
is caught every time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.errors import FootageError
from app.store import models
from app.store.records import WriteOutcome
from app.store.writes import MediaReport, NewParticipant, NewRecording, Writer
from tests.conftest import FreshDatabase

Work = Callable[[Writer], Awaitable[WriteOutcome]]


def writer(fresh: FreshDatabase, connection: AsyncConnection) -> Writer:
    return Writer(
        connection, workspace_id=fresh.workspace_id, now=datetime.now(UTC), storage="local"
    )


async def committed(fresh: FreshDatabase, work: Work) -> WriteOutcome:
    async with fresh.engine.begin() as connection:
        return await work(writer(fresh, connection))


async def interleaved(
    fresh: FreshDatabase, first: Work, second: Work
) -> WriteOutcome | FootageError:
    """Run ``first`` and ``second`` as described above; what ``second`` answered (an outcome,
    or the error it raised)."""
    engine = fresh.engine
    async with engine.connect() as holder:
        transaction = await holder.begin()
        await first(writer(fresh, holder))
        about_to_write = asyncio.Event()

        def on_statement(*args: Any) -> None:
            if not args[2].lstrip().upper().startswith("SELECT"):
                about_to_write.set()

        async def run_second() -> WriteOutcome | FootageError:
            try:
                return await committed(fresh, second)
            except FootageError as error:
                return error

        async def release_first(task: asyncio.Task[Any]) -> None:
            if engine.dialect.name == "postgresql":
                await blocked_by(engine, holder, task)
            else:
                writing = asyncio.ensure_future(about_to_write.wait())
                await asyncio.wait([task, writing], return_when=asyncio.FIRST_COMPLETED)
                writing.cancel()
            await transaction.commit()

        event.listen(engine.sync_engine, "before_cursor_execute", on_statement)
        try:
            async with asyncio.timeout(60):  # a guard against a hang, not a measurement
                task = asyncio.ensure_future(run_second())
                outcome, _ = await asyncio.gather(task, release_first(task))
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", on_statement)
    return outcome


async def blocked_by(engine: AsyncEngine, holder: AsyncConnection, task: asyncio.Task[Any]) -> None:
    """Until some session waits for one of ``holder``'s locks (or ``task`` is done)."""
    pid = (await holder.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    waiting = text("SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))")
    async with engine.connect() as probe:
        while not task.done():
            if (await probe.execute(waiting, {"pid": pid})).scalar_one():
                return
            await probe.rollback()


def recording(key: str | None, kind: str = "download") -> NewRecording:
    return NewRecording(
        kind=kind,
        mime_type="video/mp4",
        is_audio=False,
        storage_key=key,
        filesize=1,
        duration=1.0,
        language=None,
        status="UPLOADED" if key else "INVOKED",
    )


def subtitles(key: str) -> MediaReport:
    return MediaReport(
        language="en",
        type="SUBTITLES",
        status="SUCCESS",
        status_reason=None,
        error=None,
        storage_key=key,
        mime_type="text/vtt",
    )


async def a_result(fresh: FreshDatabase, recording_key: str | None = None) -> tuple[str, str]:
    """A committed result, with a recording when ``recording_key`` is given: the result's
    uuid and the recording's (the result's again without one)."""

    async def work(w: Writer) -> WriteOutcome:
        test = await w.create_user_test(name="Race")
        assert test.uuid is not None
        result = await w.create_result(
            test_uuid=test.uuid,
            name="Session",
            status="IN_PROGRESS",
            participant=NewParticipant("anon-1", None, None),
        )
        assert result.uuid is not None
        if recording_key is None:
            return WriteOutcome(uuid=result.uuid, parent_uuid=result.uuid)
        return await w.register_recording(
            result_uuid=result.uuid, recording=recording(recording_key), caller={}
        )

    outcome = await committed(fresh, work)
    assert outcome.uuid is not None
    assert outcome.parent_uuid is not None
    return outcome.parent_uuid, outcome.uuid


async def table(fresh: FreshDatabase, column: Any) -> list[Any]:
    async with fresh.engine.connect() as connection:
        return list((await connection.execute(select(column).order_by(column))).scalars())


async def count(fresh: FreshDatabase, model: Any) -> int:
    async with fresh.engine.connect() as connection:
        return int((await connection.execute(select(func.count()).select_from(model))).scalar_one())


def succeeded(answer: WriteOutcome | FootageError) -> WriteOutcome:
    assert isinstance(answer, WriteOutcome), answer
    return answer


async def test_a_result_deleted_while_a_recording_is_registered_enqueues_its_file(
    fresh_database: FreshDatabase,
) -> None:
    result_uuid, _ = await a_result(fresh_database)

    async def register(w: Writer) -> WriteOutcome:
        return await w.register_recording(
            result_uuid=result_uuid, recording=recording("fresh/race/late.mp4"), caller={}
        )

    async def delete(w: Writer) -> WriteOutcome:
        return await w.delete_result(result_uuid=result_uuid)

    deleted = succeeded(await interleaved(fresh_database, register, delete))
    assert len(deleted.deletions) == 1
    assert await count(fresh_database, models.Recording) == 0
    assert await table(fresh_database, models.StorageDeletion.storage_key) == [
        "fresh/race/late.mp4"
    ]
    feed = await table(fresh_database, models.ResultChange.id)
    assert feed[-1] == deleted.changes[0].change.id  # the result's DELETED comes last


@pytest.mark.parametrize("parent", ["recording", "result"])
async def test_a_delete_racing_a_first_media_report_enqueues_the_media_file(
    fresh_database: FreshDatabase, parent: str
) -> None:
    result_uuid, recording_uuid = await a_result(fresh_database, "fresh/race/recording.mp4")

    async def report(w: Writer) -> WriteOutcome:
        return await w.report_media(
            recording_uuid=recording_uuid, report=subtitles("fresh/race/en.vtt")
        )

    async def delete(w: Writer) -> WriteOutcome:
        if parent == "recording":
            return await w.delete_recording(recording_uuid=recording_uuid)
        return await w.delete_result(result_uuid=result_uuid)

    deleted = succeeded(await interleaved(fresh_database, report, delete))
    assert len(deleted.deletions) == 2
    assert await count(fresh_database, models.AttachedMedia) == 0
    assert await table(fresh_database, models.StorageDeletion.storage_key) == [
        "fresh/race/en.vtt",
        "fresh/race/recording.mp4",
    ]


@pytest.mark.parametrize("target", ["recording", "result"])
async def test_the_second_of_two_concurrent_deletes_is_not_found(
    fresh_database: FreshDatabase, target: str
) -> None:
    result_uuid, recording_uuid = await a_result(fresh_database, "fresh/race/recording.mp4")

    async def delete(w: Writer) -> WriteOutcome:
        if target == "recording":
            return await w.delete_recording(recording_uuid=recording_uuid)
        return await w.delete_result(result_uuid=result_uuid)

    second = await interleaved(fresh_database, delete, delete)
    assert isinstance(second, FootageError), second
    argument = {"recording": "recordingId", "result": "resultUuid"}[target]
    assert second.extensions == {"code": "NOT_FOUND", "argument": argument}
    assert await table(fresh_database, models.ResultChange.kind) == [
        "CREATED",
        "CREATED",
        "DELETED",
    ]
    assert await table(fresh_database, models.StorageDeletion.storage_key) == [
        "fresh/race/recording.mp4"
    ]


async def test_concurrent_first_reports_of_one_item_enqueue_the_replaced_file(
    fresh_database: FreshDatabase,
) -> None:
    _, recording_uuid = await a_result(fresh_database, "fresh/race/recording.mp4")

    def report(key: str) -> Work:
        async def work(w: Writer) -> WriteOutcome:
            return await w.report_media(recording_uuid=recording_uuid, report=subtitles(key))

        return work

    second = succeeded(
        await interleaved(
            fresh_database, report("fresh/race/one.vtt"), report("fresh/race/two.vtt")
        )
    )
    assert second.applied
    assert [c.change.kind for c in second.changes] == ["UPDATED"]
    assert len(second.deletions) == 1
    assert await table(fresh_database, models.AttachedMedia.storage_key) == ["fresh/race/two.vtt"]
    assert await table(fresh_database, models.StorageDeletion.storage_key) == ["fresh/race/one.vtt"]


async def test_a_reject_racing_a_delete_is_not_found(fresh_database: FreshDatabase) -> None:
    result_uuid, _ = await a_result(fresh_database)

    async def delete(w: Writer) -> WriteOutcome:
        return await w.delete_result(result_uuid=result_uuid)

    async def reject(w: Writer) -> WriteOutcome:
        return await w.reject_result(result_uuid=result_uuid)

    second = await interleaved(fresh_database, delete, reject)
    assert isinstance(second, FootageError), second  # not "applied: false"
    assert second.extensions == {"code": "NOT_FOUND", "argument": "resultUuid"}
    assert await table(fresh_database, models.ResultChange.kind) == ["CREATED", "DELETED"]

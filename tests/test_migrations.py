"""Migrations build the schema the models describe, and carry existing data over: 0003 gives
every recording a lifecycle status and every result a change-feed history, 0004 every result a
revision of its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.store import models
from app.store.engine import make_engine
from app.store.migrate import downgrade, upgrade

T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


async def test_migrations_build_what_the_models_describe(empty_database: str) -> None:
    engine = make_engine(empty_database)
    try:
        await upgrade(engine)

        def differences(connection: Connection) -> list[Any]:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, models.Base.metadata))

        async with engine.connect() as connection:
            assert await connection.run_sync(differences) == []
    finally:
        await engine.dispose()


async def old_study(connection: AsyncConnection) -> None:
    """A workspace (1) and its user test (1), as a database made by an older release has."""
    await connection.execute(
        insert(models.Workspace).values(id=1, slug="old", name="Old", created_at=T0)
    )
    await connection.execute(
        insert(models.UserTest).values(
            id=1, workspace_id=1, uuid="ut_old", name="Old study", created_at=T0
        )
    )


async def test_0003_gives_existing_recordings_a_status_and_results_a_history(
    empty_database: str,
) -> None:
    engine = make_engine(empty_database)
    try:
        await upgrade(engine, "0002")
        async with engine.begin() as connection:
            await old_study(connection)
            for pk, status in ((1, "COMPLETED"), (2, "REJECTED")):
                await connection.execute(
                    insert(models.UserTestResult).values(
                        id=pk,
                        workspace_id=1,
                        user_test_id=1,
                        uuid=f"ut_response_{pk}",
                        name=f"Session {pk}",
                        status=status,
                        created_at=T0 + timedelta(minutes=pk),
                    )
                )
            for pk, failed in ((1, False), (2, True)):
                await connection.execute(
                    insert(models.Recording).values(
                        id=pk,
                        workspace_id=1,
                        result_id=pk,
                        uuid=f"rec-{pk}",
                        kind="download",
                        mime_type="video/mp4",
                        is_audio=False,
                        failed=failed,
                        missing_data_warning=False,
                        start_time=T0 + timedelta(minutes=pk, seconds=5),
                        created_at=T0 + timedelta(minutes=pk),
                    )
                )
        await upgrade(engine)
        rec = models.Recording
        async with engine.connect() as connection:
            recordings = (
                await connection.execute(
                    select(rec.uuid, rec.status, rec.started_at, rec.errored_at).order_by(rec.id)
                )
            ).all()
            feed = models.ResultChange
            changes = (
                await connection.execute(
                    select(feed.result_uuid, feed.object_type, feed.kind, feed.created_at).order_by(
                        feed.id
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    assert [tuple(r) for r in recordings] == [
        ("rec-1", "UPLOADED", T0 + timedelta(minutes=1, seconds=5), None),
        ("rec-2", "ERRORED", T0 + timedelta(minutes=2, seconds=5), T0 + timedelta(minutes=2)),
    ]
    assert [tuple(c) for c in changes] == [
        ("ut_response_1", "UserTestResult", "CREATED", T0 + timedelta(minutes=1)),
        ("ut_response_2", "UserTestResult", "CREATED", T0 + timedelta(minutes=2)),
        ("ut_response_2", "UserTestResult", "REJECTED", T0 + timedelta(minutes=2)),
    ]


async def test_0004_gives_existing_results_distinct_revisions_and_can_be_undone(
    empty_database: str,
) -> None:
    """Revisions must never repeat (app.store.tree_cache): results already there get distinct
    ones, none the default a new result starts at. Downgrading drops the triggers with the
    column (a trigger left behind would fail every write), and upgrading again restores them."""
    engine = make_engine(empty_database)
    results = models.UserTestResult
    try:
        await upgrade(engine, "0003")
        async with engine.begin() as connection:
            await old_study(connection)
            for pk in range(1, 6):
                await connection.execute(
                    insert(results).values(
                        id=pk,
                        workspace_id=1,
                        user_test_id=1,
                        uuid=f"ut_response_{pk}",
                        name=f"Session {pk}",
                        status="COMPLETED",
                        created_at=T0,
                    )
                )
        await upgrade(engine)
        async with engine.connect() as connection:
            revisions = (await connection.execute(select(results.revision))).scalars().all()
        assert len(set(revisions)) == 5
        assert 0 not in revisions
        await downgrade(engine, "0003")
        async with engine.begin() as connection:  # a write the triggers would have touched
            await connection.execute(update(models.UserTest).values(name="Renamed"))
        await upgrade(engine)
        async with engine.begin() as connection:
            before = (await connection.execute(select(results.revision))).scalars().all()
            await connection.execute(update(models.UserTest).values(name="Renamed again"))
            after = (await connection.execute(select(results.revision))).scalars().all()
        assert not set(before) & set(after)
    finally:
        await engine.dispose()

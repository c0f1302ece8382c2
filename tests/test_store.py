"""The store's guarantees that no GraphQL query shows directly."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import configure_mappers

from app.main import NotMigrated, create_app
from app.settings import Settings, SettingsError
from app.store import models
from app.store.engine import make_engine
from tests.conftest import make_settings, running


def test_every_relationship_refuses_to_lazy_load() -> None:
    configure_mappers()
    relationships = [
        (mapper.class_.__name__, rel.key, rel.lazy)
        for mapper in models.Base.registry.mappers
        for rel in mapper.relationships
    ]
    assert relationships
    assert [r for r in relationships if r[2] != "raise"] == []


async def test_app_refuses_to_start_on_an_unmigrated_database(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    engine = make_engine(settings.database_url)
    app = create_app(settings, engine=engine)
    with pytest.raises(NotMigrated, match="python -m app migrate"):
        async with running(app):
            pass
    await engine.dispose()


def test_settings_generate_one_signing_key_and_keep_it(tmp_path: Path) -> None:
    environ = {"FOOTAGE_VAR_DIR": str(tmp_path)}
    first = Settings.from_env(environ)
    second = Settings.from_env(environ)
    assert len(first.signing_key) >= 32
    assert first.signing_key == second.signing_key
    assert (tmp_path / "signing_key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FOOTAGE_URL_TTL", "0"),
        ("FOOTAGE_URL_TTL", "soon"),
        ("FOOTAGE_MAX_PAGE_SIZE", "1000"),
        ("FOOTAGE_SIGNING_KEY", "short"),
    ],
)
def test_settings_reject_bad_values_with_one_clear_line(
    tmp_path: Path, name: str, value: str
) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({"FOOTAGE_VAR_DIR": str(tmp_path), name: value})


def test_settings_accept_a_libpq_style_postgres_url(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"FOOTAGE_VAR_DIR": str(tmp_path), "FOOTAGE_DATABASE_URL": "postgresql://u:p@db/footage"}
    )
    assert settings.database_url == "postgresql+asyncpg://u:p@db/footage"


def test_media_select_columns_follow_the_record_fields() -> None:
    from app.store.facade import _media_select
    from app.store.records import AttachedMediaRecord

    columns = [column.name for column in _media_select(1).selected_columns]
    assert columns == list(AttachedMediaRecord._fields)


def test_recordings_select_columns_follow_the_record_fields() -> None:
    from app.store.facade import _recordings_select
    from app.store.records import RecordingRecord

    columns = [column.name for column in _recordings_select(1).selected_columns]
    assert columns == list(RecordingRecord._fields)


async def test_utc_datetimes_read_back_as_the_same_instant_in_utc(connection: Any) -> None:
    """``UTCDateTime`` answers timezone-aware UTC datetimes on both backends; on SQLite its
    fast parse of the stored text, and SQLAlchemy's own processing for text written otherwise
    (an offset of its own, a date alone)."""
    from datetime import UTC, datetime, timedelta, timezone

    from sqlalchemy import Column, Integer, MetaData, Table, select, text

    probe = Table(
        "utc_probe",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("at", models.UTCDateTime()),
    )
    await connection.run_sync(probe.create)
    plus_two = timezone(timedelta(hours=2))
    written = {
        1: datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
        2: datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        3: datetime(2026, 7, 1, 12, 0, tzinfo=plus_two),  # stored as 10:00 UTC
    }
    await connection.execute(probe.insert(), [{"id": k, "at": v} for k, v in written.items()])
    await connection.execute(probe.insert(), [{"id": 4, "at": None}])
    expected: dict[int, datetime | None] = {**written, 4: None}
    if connection.dialect.name == "sqlite":
        await connection.execute(
            text(
                "INSERT INTO utc_probe (id, at) VALUES "
                "(5, '2026-01-02 03:04:05+02:00'), (6, '2026-01-02')"
            )
        )
        expected[5] = datetime(2026, 1, 2, 1, 4, 5, tzinfo=UTC)
        expected[6] = datetime(2026, 1, 2, tzinfo=UTC)
    rows = (await connection.execute(select(probe.c.id, probe.c.at).order_by(probe.c.id))).all()
    read = {row.id: row.at for row in rows}
    assert read == expected
    assert all(at is None or at.tzinfo is UTC for at in read.values())
    with pytest.raises(Exception, match="naive datetime"):
        await connection.execute(probe.insert(), [{"id": 7, "at": datetime(2026, 1, 2)}])


def test_utc_datetime_fast_parse_answers_as_sqlalchemy_on_sqlite() -> None:
    """On SQLite, ``UTCDateTime`` parses the text SQLAlchemy writes itself; any other text
    goes through SQLAlchemy's processing. Both answer (or refuse) every text alike, malformed
    ones included (``fromisoformat`` is lenient about what precedes an offset)."""
    import itertools

    from sqlalchemy.dialects import sqlite
    from sqlalchemy.types import TypeDecorator

    dialect = sqlite.dialect()
    column = models.UTCDateTime().dialect_impl(dialect)
    fast = column.result_processor(dialect, None)
    standard = TypeDecorator.result_processor(column, dialect, None)
    assert fast is not None
    assert standard is not None

    def answer(process: Any, value: str) -> tuple[str, object]:
        try:
            parsed = process(value)
        except Exception as error:
            return "refused", type(error)
        # Aware datetimes compare by instant: the zone is compared as well.
        return "value", (parsed, parsed.tzinfo)

    bases = [
        "2026-01-02 03:04:05",
        "2026-01-02 03:04:05.123456",
        "2026-01-02",
        "2026-01-02 03:04",
        "2026-01-02T03:04:05",
        "2026-13-02 03:04:05.123456",
        "2026-01-02 03:04:05.123",
        "٢٠٢٦-01-02 03:04:05",
        # SQLAlchemy's own shape (26 characters, microseconds), and text of that length
        # carrying an offset or a zone of its own.
        "2026-01-02 03:04:05.1+0100",
        "2026-01-02 03:04:05.123+01",
        "2026-01-02 03:04:05.12345Z",
        "2026-01-02T03:04:05.123456",
        "2026-01-02 03:04:05.12+0:0",
    ]
    texts = [
        base + "".join(extra)
        for base in bases
        for size in (0, 1, 2)
        for extra in itertools.product(" .,:+-Z0T\t", repeat=size)
    ]
    differ = [text for text in texts if answer(fast, text) != answer(standard, text)]
    assert differ == []
    assert fast(None) is None  # a null column, answered without SQLAlchemy's processing
    assert standard(None) is None
    assert answer(fast, "2026-01-02 03:04:05.123456")[1] == (
        datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
        UTC,
    )

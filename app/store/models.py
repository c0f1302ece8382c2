"""ORM models: the schema that migrations target. Every row belongs to a workspace.

Relationships are declared ``lazy="raise"``: data reaches the API only through the store's bulk
methods, so a forgotten loader fails loudly instead of issuing one query per row.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no offset of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        """On SQLite, one function per value where SQLAlchemy's processing takes two, and no
        ``replace(tzinfo=UTC)``: its keyword parsing alone costs about 8,000 instructions a
        value in CPython 3.11 (a page reads about 850 non-null datetimes: 8% of its
        instructions, BENCHMARKS.md). The text is parsed by the same ``fromisoformat`` as
        SQLAlchemy's SQLite DATETIME parses it, so it accepts and refuses exactly what that
        does. Text shaped as SQLAlchemy writes it (``YYYY-MM-DD HH:MM:SS.ffffff``, naive UTC)
        is parsed with ``+00:00`` appended, which makes it UTC in the same call (a third of
        the time of parsing, then building the datetime again with UTC); other text is parsed
        as it is, and a naive result is built again with UTC, positionally. A null answers at
        once (a recording row has about five)."""
        standard = super().result_processor(dialect, coltype)
        if dialect.name != "sqlite" or standard is None:
            return standard
        parse = datetime.fromisoformat

        def process(value: object) -> datetime | None:
            if type(value) is not str:
                return None if value is None else standard(value)
            if len(value) == 26 and value[19] == ".":  # as SQLAlchemy writes: microseconds
                try:
                    # Naive UTC, read as UTC in one call: with "+00:00" appended, text that
                    # carried an offset of its own no longer parses.
                    return parse(value + "+00:00")
                except ValueError:
                    pass
            parsed = parse(value)
            if parsed.tzinfo is not None:
                return parsed.astimezone(UTC)
            return datetime(
                parsed.year, parsed.month, parsed.day, parsed.hour, parsed.minute,
                parsed.second, parsed.microsecond, UTC,
            )  # fmt: skip

        return process


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    # Read once by SQLAlchemy when the class is created, never mutated.
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}  # noqa: RUF012


class Workspace(Base):
    __tablename__ = "workspaces"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class ApiKey(Base):
    """An API key, stored as the SHA-256 of the secret (keys are 256-bit random, so no KDF)."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    # Space-separated scope names (app.auth.SCOPES).
    scopes: Mapped[str] = mapped_column(String(200), server_default="results:read media:sign write")
    last_used_at: Mapped[datetime | None]

    workspace: Mapped[Workspace] = relationship(lazy="raise")


class UserTest(Base):
    __tablename__ = "user_tests"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    uuid: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime]


class Participant(Base):
    __tablename__ = "participants"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    anonymous_id: Mapped[str] = mapped_column(String(80))
    email: Mapped[str | None] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("workspace_id", "anonymous_id"),)


class UserTestResult(Base):
    __tablename__ = "user_test_results"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    user_test_id: Mapped[int] = mapped_column(ForeignKey("user_tests.id", ondelete="CASCADE"))
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL"), index=True
    )
    uuid: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    # Changes with what the result's recordings and media read as; kept by triggers (migration
    # 0004), never reused. The read cache checks a cached tree by it (app.store.tree_cache).
    revision: Mapped[int] = mapped_column(BigInteger, server_default="0")

    user_test: Mapped[UserTest] = relationship(lazy="raise")
    participant: Mapped[Participant | None] = relationship(lazy="raise")

    # Keyset pagination walks (user_test_id, id): page 1 and page 10,000 cost the same.
    __table_args__ = (Index("ix_user_test_results_user_test_id_id", "user_test_id", "id"),)


class Recording(Base):
    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    result_id: Mapped[int] = mapped_column(
        ForeignKey("user_test_results.id", ondelete="CASCADE"), index=True
    )
    uuid: Mapped[str] = mapped_column(String(80), unique=True)
    # download (combined screen and camera), screen, camera or audio.
    kind: Mapped[str] = mapped_column(String(16))
    storage_key: Mapped[str | None] = mapped_column(String(1024))
    mime_type: Mapped[str] = mapped_column(String(100))
    is_audio: Mapped[bool] = mapped_column(Boolean)
    filesize: Mapped[int | None] = mapped_column(BigInteger)
    duration: Mapped[float | None] = mapped_column(Float)
    language: Mapped[str | None] = mapped_column(String(16))
    failed: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_type: Mapped[str | None] = mapped_column(String(32))
    missing_data_warning: Mapped[bool] = mapped_column(Boolean, default=False)
    start_time: Mapped[datetime | None]
    created_at: Mapped[datetime]
    # The lifecycle (app.store.lifecycle): INVOKED -> RECORDING <-> PAUSED -> UPLOADING ->
    # UPLOADED, any -> ERRORED. Callers are JSON objects {type, userId, name, apiKeyId}.
    status: Mapped[str] = mapped_column(String(16), server_default="UPLOADED")
    started_at: Mapped[datetime | None]
    paused_at: Mapped[datetime | None]
    resumed_at: Mapped[datetime | None]
    stopped_at: Mapped[datetime | None]
    uploaded_at: Mapped[datetime | None]
    errored_at: Mapped[datetime | None]
    start_reason: Mapped[str | None] = mapped_column(String(32))
    start_caller: Mapped[dict[str, Any] | None]
    stop_reason: Mapped[str | None] = mapped_column(String(32))
    stop_caller: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(Text)
    status_changed_at: Mapped[datetime | None]
    status_caller: Mapped[dict[str, Any] | None]
    status_note: Mapped[str | None] = mapped_column(String(500))

    result: Mapped[UserTestResult] = relationship(lazy="raise")

    __table_args__ = (UniqueConstraint("result_id", "kind"),)


class AttachedMedia(Base):
    __tablename__ = "attached_media"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    recording_id: Mapped[int] = mapped_column(
        ForeignKey("recordings.id", ondelete="CASCADE"), index=True
    )
    uuid: Mapped[str] = mapped_column(String(80), unique=True)
    language: Mapped[str] = mapped_column(String(16))
    type: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    status_reason: Mapped[str | None] = mapped_column(String(64))
    storage_key: Mapped[str | None] = mapped_column(String(1024))
    mime_type: Mapped[str | None] = mapped_column(String(100))
    error: Mapped[str | None] = mapped_column(Text)
    finalised_at: Mapped[datetime | None]
    created_at: Mapped[datetime]

    recording: Mapped[Recording] = relationship(lazy="raise")

    __table_args__ = (UniqueConstraint("recording_id", "language", "type"),)


class Transcription(Base):
    """The structured, word-level transcript of a recording, kept apart so that only queries
    selecting ``transcription`` ever read it."""

    __tablename__ = "transcriptions"

    recording_id: Mapped[int] = mapped_column(
        ForeignKey("recordings.id", ondelete="CASCADE"), primary_key=True
    )
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(16))
    document: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]

    recording: Mapped[Recording] = relationship(lazy="raise")


class IdempotencyKey(Base):
    """A client's idempotency key: the first request with it claims the row (the unique
    constraint decides between concurrent ones); retries replay ``result``."""

    __tablename__ = "idempotency_keys"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    mutation: Mapped[str] = mapped_column(String(64))
    # SHA-256 (hex) of the mutation's canonical input.
    fingerprint: Mapped[str] = mapped_column(String(64))
    # What the mutation answered with, e.g. {"uuid": ...}; null until the write is done (the
    # claim and the write share one transaction, so nobody else ever sees it null).
    result: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(index=True)

    __table_args__ = (UniqueConstraint("workspace_id", "key"),)


class ResultChange(Base):
    """The change feed: one row per change to a result or to what hangs off it. ``id`` is the
    feed's cursor; rows are never updated, and outlive the objects they name."""

    __tablename__ = "result_changes"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    user_test_id: Mapped[int] = mapped_column(ForeignKey("user_tests.id", ondelete="CASCADE"))
    result_uuid: Mapped[str] = mapped_column(String(80))
    # UserTestResult, TestSessionRecording or AttachedMedia.
    object_type: Mapped[str] = mapped_column(String(32))
    object_uuid: Mapped[str] = mapped_column(String(80))
    # CREATED, UPDATED, REJECTED or DELETED: what happened to that object.
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]

    __table_args__ = (Index("ix_result_changes_user_test_id_id", "user_test_id", "id"),)


class StorageDeletion(Base):
    """The storage-deletion outbox: objects whose rows are gone, to be removed from storage
    after the commit and retried with backoff until the backend confirms."""

    __tablename__ = "storage_deletions"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    storage_key: Mapped[str] = mapped_column(String(1024))
    # The backend the key belongs to (``local`` or ``gcs:<bucket>``).
    backend: Mapped[str] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]

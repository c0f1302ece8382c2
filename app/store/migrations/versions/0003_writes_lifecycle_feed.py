"""recording lifecycle, idempotency keys, change feed, storage-deletion outbox

Revision ID: 0003
Revises: 0002

Existing recordings become UPLOADED (ERRORED when they failed), started when they say they
started. Existing results get a CREATED entry in the change feed (a REJECTED one too when they
are rejected), so the feed's first page is the full history, as it is for results created later.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), nullable=False, server_default="UPLOADED")
        )
        for name in (
            "started_at",
            "paused_at",
            "resumed_at",
            "stopped_at",
            "uploaded_at",
            "errored_at",
        ):
            batch_op.add_column(sa.Column(name, When, nullable=True))
        batch_op.add_column(sa.Column("start_reason", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("start_caller", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("stop_reason", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("stop_caller", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("error", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("status_changed_at", When, nullable=True))
        batch_op.add_column(sa.Column("status_caller", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("status_note", sa.String(length=500), nullable=True))

    recordings = sa.table(
        "recordings",
        sa.column("failed", sa.Boolean()),
        sa.column("status", sa.String()),
        sa.column("start_time", When),
        sa.column("created_at", When),
        sa.column("started_at", When),
        sa.column("errored_at", When),
    )
    op.execute(recordings.update().values(started_at=recordings.c.start_time))
    op.execute(
        recordings.update()
        .where(recordings.c.failed == sa.true())
        .values(status="ERRORED", errored_at=recordings.c.created_at)
    )

    op.create_table(
        "idempotency_keys",
        sa.Column("id", Id, nullable=False),
        sa.Column("workspace_id", Id, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("mutation", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_idempotency_keys_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("workspace_id", "key", name=op.f("uq_idempotency_keys_workspace_id")),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotency_keys_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "result_changes",
        sa.Column("id", Id, nullable=False),
        sa.Column("workspace_id", Id, nullable=False),
        sa.Column("user_test_id", Id, nullable=False),
        sa.Column("result_uuid", sa.String(length=80), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("object_uuid", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_test_id"],
            ["user_tests.id"],
            name=op.f("fk_result_changes_user_test_id_user_tests"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_result_changes_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_result_changes")),
    )
    with op.batch_alter_table("result_changes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_result_changes_user_test_id_id", ["user_test_id", "id"], unique=False
        )

    op.create_table(
        "storage_deletions",
        sa.Column("id", Id, nullable=False),
        sa.Column("storage_key", sa.String(length=1024), nullable=False),
        sa.Column("backend", sa.String(length=255), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", When, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_storage_deletions")),
    )
    with op.batch_alter_table("storage_deletions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_storage_deletions_next_attempt_at"), ["next_attempt_at"], unique=False
        )

    _backfill_change_feed()


def _backfill_change_feed() -> None:
    results = sa.table(
        "user_test_results",
        sa.column("id", Id),
        sa.column("workspace_id", Id),
        sa.column("user_test_id", Id),
        sa.column("uuid", sa.String()),
        sa.column("status", sa.String()),
        sa.column("created_at", When),
    )
    changes = sa.table(
        "result_changes",
        sa.column("workspace_id", Id),
        sa.column("user_test_id", Id),
        sa.column("result_uuid", sa.String()),
        sa.column("object_type", sa.String()),
        sa.column("object_uuid", sa.String()),
        sa.column("kind", sa.String()),
        sa.column("created_at", When),
    )
    columns = ["workspace_id", "user_test_id", "result_uuid", "object_type", "object_uuid"]
    for kind, condition in (
        ("CREATED", sa.true()),
        ("REJECTED", results.c.status == "REJECTED"),
    ):
        source = (
            sa.select(
                results.c.workspace_id,
                results.c.user_test_id,
                results.c.uuid,
                sa.literal("UserTestResult"),
                results.c.uuid.label("object_uuid"),
                sa.literal(kind),
                results.c.created_at,
            )
            .where(condition)
            .order_by(results.c.id)
        )
        op.execute(changes.insert().from_select([*columns, "kind", "created_at"], source))


def downgrade() -> None:
    with op.batch_alter_table("storage_deletions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_storage_deletions_next_attempt_at"))
    op.drop_table("storage_deletions")
    with op.batch_alter_table("result_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_result_changes_user_test_id_id")
    op.drop_table("result_changes")
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_keys_created_at"))
    op.drop_table("idempotency_keys")
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        for name in (
            "status_note",
            "status_caller",
            "status_changed_at",
            "error",
            "stop_caller",
            "stop_reason",
            "start_caller",
            "start_reason",
            "errored_at",
            "uploaded_at",
            "stopped_at",
            "resumed_at",
            "paused_at",
            "started_at",
            "status",
        ):
            batch_op.drop_column(name)

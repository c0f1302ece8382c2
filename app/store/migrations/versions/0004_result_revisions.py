"""result revisions: what the read cache (app.store.tree_cache) checks a result's tree by

Revision ID: 0004
Revises: 0003

``user_test_results.revision`` changes, in the same transaction, with every change to what a
result's recordings and their media read as: a recording or a media item inserted, updated or
deleted, the result moved to another test or participant, its participant's name or its test's
name changed. Triggers keep it, so every writer is covered, the API's and any other.

A new value is never one the result had before, even after a rollback: PostgreSQL takes it from
a sequence (``nextval`` is not rolled back), SQLite from ``random()`` (64 bits). A counter would
not do: a transaction that bumped it and rolled back would hand the same number to a later,
different tree, and a process that cached the first would serve it for the second. Existing
results start at distinct values too, so that a result id SQLite reuses after a delete (a new
result, at the default 0 until its first recording) never meets an old result's cached tree.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# What each trigger bumps, per dialect: the results whose trees a changed row belongs to.
_SQLITE = (
    """CREATE TRIGGER revise_on_recording_insert AFTER INSERT ON recordings BEGIN
  UPDATE user_test_results SET revision = random() WHERE id = NEW.result_id;
END""",
    """CREATE TRIGGER revise_on_recording_update AFTER UPDATE ON recordings BEGIN
  UPDATE user_test_results SET revision = random() WHERE id IN (OLD.result_id, NEW.result_id);
END""",
    """CREATE TRIGGER revise_on_recording_delete AFTER DELETE ON recordings BEGIN
  UPDATE user_test_results SET revision = random() WHERE id = OLD.result_id;
END""",
    """CREATE TRIGGER revise_on_media_insert AFTER INSERT ON attached_media BEGIN
  UPDATE user_test_results SET revision = random()
  WHERE id = (SELECT result_id FROM recordings WHERE id = NEW.recording_id);
END""",
    """CREATE TRIGGER revise_on_media_update AFTER UPDATE ON attached_media BEGIN
  UPDATE user_test_results SET revision = random()
  WHERE id IN (SELECT result_id FROM recordings WHERE id IN (OLD.recording_id, NEW.recording_id));
END""",
    """CREATE TRIGGER revise_on_media_delete AFTER DELETE ON attached_media BEGIN
  UPDATE user_test_results SET revision = random()
  WHERE id = (SELECT result_id FROM recordings WHERE id = OLD.recording_id);
END""",
    """CREATE TRIGGER revise_on_result_move AFTER UPDATE OF user_test_id, participant_id
ON user_test_results BEGIN
  UPDATE user_test_results SET revision = random() WHERE id = NEW.id;
END""",
    """CREATE TRIGGER revise_on_participant_rename AFTER UPDATE OF name, anonymous_id
ON participants BEGIN
  UPDATE user_test_results SET revision = random() WHERE participant_id = NEW.id;
END""",
    """CREATE TRIGGER revise_on_test_rename AFTER UPDATE OF name ON user_tests BEGIN
  UPDATE user_test_results SET revision = random() WHERE user_test_id = NEW.id;
END""",
)
_SQLITE_TRIGGERS = tuple(statement.split()[2] for statement in _SQLITE)

# PostgreSQL: row-level triggers, as on SQLite. Writes through the API change one row per
# statement, and so does a bulk load through ``executemany`` (each row its own execution of the
# statement), where a statement-level trigger with transition tables cost far more per row.
_FUNCTIONS = {
    "revise_results_of_recordings": """
  IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.result_id <> NEW.result_id) THEN
    UPDATE user_test_results SET revision = nextval('result_revisions') WHERE id = OLD.result_id;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    UPDATE user_test_results SET revision = nextval('result_revisions') WHERE id = NEW.result_id;
  END IF;
  RETURN NULL;""",
    "revise_results_of_media": """
  IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.recording_id <> NEW.recording_id) THEN
    UPDATE user_test_results SET revision = nextval('result_revisions')
    WHERE id = (SELECT result_id FROM recordings WHERE id = OLD.recording_id);
  END IF;
  IF TG_OP <> 'DELETE' THEN
    UPDATE user_test_results SET revision = nextval('result_revisions')
    WHERE id = (SELECT result_id FROM recordings WHERE id = NEW.recording_id);
  END IF;
  RETURN NULL;""",
    "revise_moved_result": """
  NEW.revision := nextval('result_revisions');
  RETURN NEW;""",
    "revise_results_of_participant": """
  UPDATE user_test_results SET revision = nextval('result_revisions') WHERE participant_id = NEW.id;
  RETURN NULL;""",
    "revise_results_of_test": """
  UPDATE user_test_results SET revision = nextval('result_revisions') WHERE user_test_id = NEW.id;
  RETURN NULL;""",
}
_POSTGRESQL_ROW_TRIGGERS = {
    # name: (table, definition)
    "revise_on_result_move": (
        "user_test_results",
        """BEFORE UPDATE OF user_test_id, participant_id ON user_test_results FOR EACH ROW
WHEN (OLD.user_test_id IS DISTINCT FROM NEW.user_test_id
      OR OLD.participant_id IS DISTINCT FROM NEW.participant_id)
EXECUTE FUNCTION revise_moved_result()""",
    ),
    "revise_on_participant_rename": (
        "participants",
        """AFTER UPDATE OF name, anonymous_id ON participants FOR EACH ROW
WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.anonymous_id IS DISTINCT FROM NEW.anonymous_id)
EXECUTE FUNCTION revise_results_of_participant()""",
    ),
    "revise_on_test_rename": (
        "user_tests",
        """AFTER UPDATE OF name ON user_tests FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
EXECUTE FUNCTION revise_results_of_test()""",
    ),
}
_POSTGRESQL_ROW_TRIGGERS.update(
    {
        f"revise_on_{table}_change": (
            table,
            f"AFTER INSERT OR UPDATE OR DELETE ON {table} FOR EACH ROW "
            f"EXECUTE FUNCTION {function}()",
        )
        for table, function in (
            ("recordings", "revise_results_of_recordings"),
            ("attached_media", "revise_results_of_media"),
        )
    }
)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table("user_test_results", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("revision", sa.BigInteger(), nullable=False, server_default="0")
        )
    if dialect == "postgresql":
        op.execute("CREATE SEQUENCE result_revisions")
        op.execute("UPDATE user_test_results SET revision = nextval('result_revisions')")
        for function, body in _FUNCTIONS.items():
            op.execute(
                f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
                f"BEGIN{body}\nEND $$"
            )
        for name, (_, definition) in _POSTGRESQL_ROW_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {definition}")
    else:
        op.execute("UPDATE user_test_results SET revision = random()")
        for statement in _SQLITE:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, (table, _) in _POSTGRESQL_ROW_TRIGGERS.items():
            op.execute(f"DROP TRIGGER {name} ON {table}")
        for function in _FUNCTIONS:
            op.execute(f"DROP FUNCTION {function}()")
        op.execute("DROP SEQUENCE result_revisions")
    else:
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    with op.batch_alter_table("user_test_results", schema=None) as batch_op:
        batch_op.drop_column("revision")

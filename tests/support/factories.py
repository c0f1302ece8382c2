"""Rows for one test, written inside its rolled-back transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import hash_api_key, new_api_key
from app.store.facade import Admin


@dataclass(frozen=True)
class Workspace:
    id: int
    key: str
    test_uuid: str
    result_uuid: str
    recording_uuid: str
    media_uuid: str


async def make_workspace(
    connection: AsyncConnection,
    slug: str,
    *,
    expires_at: datetime | None = None,
    revoked: bool = False,
    scopes: str = "results:read media:sign write",
) -> Workspace:
    """A workspace with a key, one user test, one result, one recording and one media item."""
    now = datetime.now(UTC)
    admin = Admin(connection)
    workspace_id = await admin.ensure_workspace(slug=slug, name=slug, now=now)
    key = new_api_key()
    await admin.create_api_key(
        workspace_id=workspace_id,
        key_hash=hash_api_key(key),
        prefix=key[:8],
        label="test",
        now=now,
        scopes=scopes,
        expires_at=expires_at,
    )
    if revoked:
        await admin.revoke_api_keys(key_hash=hash_api_key(key), now=now)
    scoped = {"workspace_id": workspace_id}
    suffix = uuid.uuid4()
    test_uuid, result_uuid = f"ut_{suffix}", f"ut_response_{suffix}"
    recording_uuid, media_uuid = f"rec-{suffix}", f"media-{suffix}"
    [test_id] = await admin.insert_rows(
        table="user_tests",
        rows=[{**scoped, "uuid": test_uuid, "name": f"{slug} study", "created_at": now}],
        returning_ids=True,
    )
    [result_id] = await admin.insert_rows(
        table="user_test_results",
        rows=[
            {
                **scoped,
                "uuid": result_uuid,
                "user_test_id": test_id,
                "name": "Only session",
                "status": "COMPLETED",
                "created_at": now,
            }
        ],
        returning_ids=True,
    )
    [recording_id] = await admin.insert_rows(
        table="recordings",
        rows=[
            {
                **scoped,
                "uuid": recording_uuid,
                "result_id": result_id,
                "kind": "download",
                "storage_key": f"{slug}/recording.mp4",
                "mime_type": "video/mp4",
                "is_audio": False,
                "failed": False,
                "missing_data_warning": False,
                "created_at": now,
            }
        ],
        returning_ids=True,
    )
    await admin.insert_rows(
        table="attached_media",
        rows=[
            {
                **scoped,
                "uuid": media_uuid,
                "recording_id": recording_id,
                "language": "en",
                "type": "SUBTITLES",
                "status": "SUCCESS",
                "storage_key": f"{slug}/subtitles.vtt",
                "created_at": now,
            }
        ],
    )
    return Workspace(workspace_id, key, test_uuid, result_uuid, recording_uuid, media_uuid)


async def workspace_key(connection: AsyncConnection, test_uuid: str, scopes: str) -> str:
    """A new API key with ``scopes`` in the workspace of the user test ``test_uuid``."""
    workspace_id = (
        await connection.execute(
            text("SELECT workspace_id FROM user_tests WHERE uuid = :test"), {"test": test_uuid}
        )
    ).scalar_one()
    key = new_api_key()
    await Admin(connection).create_api_key(
        workspace_id=workspace_id,
        key_hash=hash_api_key(key),
        prefix=key[:8],
        label=scopes,
        now=datetime.now(UTC),
        scopes=scopes,
    )
    return key

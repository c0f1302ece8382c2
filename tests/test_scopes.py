"""Scopes: a missing one nulls the field with FORBIDDEN and the rest of the answer stands."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import scope_string
from app.demo.queries import document
from app.store import models
from tests.support.factories import make_workspace
from tests.support.graphql import error_codes, gql


async def test_key_without_media_sign_reads_results_but_gets_no_urls(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    workspace = await make_workspace(connection, "readers", scopes="results:read")
    headers = {"Authorization": f"Bearer {workspace.key}"}
    query = """query($r: String!) { userTestResult(resultUuid: $r) {
      name recordings { download { mimeType mediaUrl } } } }"""
    body = await gql(
        client, query, {"r": workspace.result_uuid}, expect_errors=True, headers=headers
    )
    assert error_codes(body) == ["FORBIDDEN"]
    assert body["errors"][0]["extensions"]["scope"] == "media:sign"
    result = body["data"]["userTestResult"]
    assert result["name"] == "Only session"
    assert result["recordings"]["download"] == {"mimeType": "video/mp4", "mediaUrl": None}
    link = await client.get("/media/x", headers=headers)
    assert link.status_code == 403


async def test_key_without_results_read_is_forbidden_every_root_field(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    workspace = await make_workspace(connection, "signers", scopes="media:sign")
    headers = {"Authorization": f"Bearer {workspace.key}"}
    body = await gql(
        client,
        'query($t: String!) { a: userTest(uuid: $t) { name } b: node(id: "x") { id } '
        'c: userTestResult(resultUuid: "y") { name } __typename }',
        {"t": workspace.test_uuid},
        expect_errors=True,
        headers=headers,
    )
    assert error_codes(body) == ["FORBIDDEN"] * 3
    assert body["data"] == {"a": None, "b": None, "c": None, "__typename": "Query"}


async def test_demo_key_holds_every_scope(client: httpx.AsyncClient) -> None:
    await gql(client, document("GetAllResults"))


def test_scope_names_are_checked() -> None:
    assert scope_string(["write", "results:read", "write"]) == "results:read write"
    with pytest.raises(ValueError, match="admin"):
        scope_string(["admin"])


async def test_key_use_is_recorded(client: httpx.AsyncClient, connection: AsyncConnection) -> None:
    workspace = await make_workspace(connection, "used")
    before = datetime.now(UTC).replace(microsecond=0)
    await gql(client, "{ __typename }", headers={"Authorization": f"Bearer {workspace.key}"})
    last_used = (
        await connection.execute(
            select(models.ApiKey.last_used_at).where(models.ApiKey.workspace_id == workspace.id)
        )
    ).scalar_one()
    assert last_used is not None
    assert last_used >= before

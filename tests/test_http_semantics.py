"""GraphQL over HTTP: media types, status codes and what bodies are accepted."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.demo.queries import document
from app.store import models
from tests.support.graphql import error_codes

GRAPHQL_RESPONSE = "application/graphql-response+json"


async def post(client: httpx.AsyncClient, query: str, accept: str) -> httpx.Response:
    return await client.post("/graphql", json={"query": query}, headers={"Accept": accept})


async def test_graphql_response_media_type_is_answered_when_accepted(
    client: httpx.AsyncClient,
) -> None:
    response = await post(client, "{ __typename }", f"{GRAPHQL_RESPONSE}, application/json")
    assert response.status_code == 200
    assert response.headers["content-type"] == GRAPHQL_RESPONSE
    legacy = await post(client, "{ __typename }", "application/json")
    assert legacy.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("query", "code"),
    [("{ userTest(", "GRAPHQL_PARSE_FAILED"), ("{ nope }", "GRAPHQL_VALIDATION_FAILED")],
)
async def test_request_errors_are_400_without_data_under_graphql_response_json(
    client: httpx.AsyncClient, query: str, code: str
) -> None:
    response = await post(client, query, GRAPHQL_RESPONSE)
    assert response.status_code == 400
    body = response.json()
    assert "data" not in body
    assert error_codes(body) == [code]
    legacy = await post(client, query, "application/json")
    assert legacy.status_code == 200
    assert error_codes(legacy.json()) == [code]


async def test_field_errors_keep_200_and_partial_data(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    await connection.execute(
        update(models.AttachedMedia)
        .where(models.AttachedMedia.type == "WAVEFORM")
        .values(status="SOMETHING_NEW")
    )
    response = await post(client, document("GetAllResults"), GRAPHQL_RESPONSE)
    assert response.status_code == 200
    body = response.json()
    assert set(error_codes(body)) == {"INTERNAL"}
    assert all(len(e["extensions"]["requestId"]) == 32 for e in body["errors"])
    assert response.headers["x-request-id"] == body["errors"][0]["extensions"]["requestId"]
    assert body["data"]["userTest"] is not None


@pytest.mark.parametrize(
    ("content_type", "content"),
    [
        ("application/x-www-form-urlencoded", b"query=%7B__typename%7D"),
        (
            "multipart/form-data; boundary=x",
            b'--x\r\nContent-Disposition: form-data; name="q"\r\n\r\n1\r\n--x--',
        ),
        ("text/plain", b'{"query": "{ __typename }"}'),
    ],
)
async def test_non_json_bodies_are_refused_with_415(
    client: httpx.AsyncClient, content_type: str, content: bytes
) -> None:
    response = await client.post(
        "/graphql", content=content, headers={"Content-Type": content_type}
    )
    assert response.status_code == 415


async def test_get_runs_queries(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/graphql", params={"query": "{ __typename }"}, headers={"Accept": GRAPHQL_RESPONSE}
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_batched_operations_are_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", json=[{"query": "{ __typename }"}, {"query": "{ __typename }"}]
    )
    assert response.status_code == 400

"""JSON POSTs of queries and mutations take ``app.json_post``'s path; everything else is
Strawberry's view. Each request here is sent down both paths of one app (the same database
state, minter and rate limiter) and must answer alike: status, headers and body."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.routing import Route

from app.demo.queries import document
from app.execution import FootageExecutionContext
from app.graphql_view import FootageGraphQL
from app.schema import FootageSchema
from tests.conftest import Backend, ClientFactory, make_settings
from tests.support.graphql import error_codes, same_signing_window

TEST_UUID = "ut_645c4faa-5c2d-49b1-85fa-823ffbbbfa17"
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
# Headers whose values both paths must agree on (the date and request id differ by nature).
COMPARED = ("content-type", "content-length", "www-authenticate", "retry-after", "allow")


def view_of(client: httpx.AsyncClient) -> FootageGraphQL:
    app = client._transport.app  # type: ignore[attr-defined]
    for route in app.routes:
        if isinstance(route, Route) and route.path == "/graphql":
            view = route.app
            assert isinstance(view, FootageGraphQL)
            return view
    raise AssertionError("no /graphql route")


@contextmanager
def strawberry_path(client: httpx.AsyncClient) -> Iterator[None]:
    view = view_of(client)
    kept = view.json_post
    view.json_post = None
    try:
        yield
    finally:
        view.json_post = kept


@contextmanager
def counted_strawberry_operations(client: httpx.AsyncClient) -> Iterator[list[str | None]]:
    """The queries Strawberry's ``Schema.execute`` ran while the block ran."""
    schema = view_of(client).schema
    assert isinstance(schema, FootageSchema)
    ran: list[str | None] = []
    original = schema.execute

    async def execute(query: str | None, *args: Any, **kwargs: Any) -> Any:
        ran.append(query)
        return await original(query, *args, **kwargs)

    schema.execute = execute  # type: ignore[method-assign]
    try:
        yield ran
    finally:
        del schema.execute


def answer(response: httpx.Response) -> tuple[int, dict[str, str], Any]:
    headers = {name: response.headers[name] for name in COMPARED if name in response.headers}
    try:
        body = response.json()
    except ValueError:
        body = response.text
    return response.status_code, headers, body


async def both_paths(
    client: httpx.AsyncClient, *, content: bytes | None = None, **request: Any
) -> tuple[int, dict[str, str], Any]:
    """The answer of the JSON POST path and of Strawberry's, checked equal."""
    if content is not None:
        request["content"] = content
    fast = answer(await client.post("/graphql", **request))
    with strawberry_path(client):
        slow = answer(await client.post("/graphql", **request))
    assert fast == slow
    return fast


REQUESTS: dict[str, dict[str, Any]] = {
    "typename": {"json": {"query": "{ __typename }"}},
    "seed results": {
        "json": {"query": document("GetAllResults"), "variables": {"uuid": TEST_UUID}}
    },
    "seed result": {"json": {"query": document("specificResult")}},
    "operation by name": {
        "json": {
            "query": 'query A { __typename } query B { userTest(uuid: "x") { name } }',
            "operationName": "B",
        }
    },
    "null parameters": {
        "json": {"query": "{ __typename }", "variables": None, "operationName": None}
    },
    "charset": {
        "content": b'{"query": "{ __typename }"}',
        "headers": {"Content-Type": "application/json; charset=utf-8"},
    },
    "upper-case media type": {
        "content": b'{"query": "{ __typename }"}',
        "headers": {"Content-Type": "APPLICATION/JSON"},
    },
    "upper-case media type, syntax error": {
        "content": b'{"query": "{ userTest("}',
        "headers": {"Content-Type": "Application/Json"},
    },
    "two content types": {
        "content": b'{"query": "{ __typename }"}',
        "headers": [("Content-Type", "text/plain"), ("Content-Type", "application/json")],
    },
    "two accepts": {
        "json": {"query": "query Q($uuid: String!) { userTest(uuid: $uuid) { name } }"},
        "headers": [("Accept", GRAPHQL_RESPONSE_JSON), ("Accept", "application/json")],
    },
    "not found": {"json": {"query": '{ userTest(uuid: "ut_missing") { name } }'}},
    "bad argument": {"json": {"query": '{ userTestResult(resultUuid: "x") { name } }'}},
    "wrong variable type": {
        "json": {
            "query": "query Q($uuid: String!) { userTest(uuid: $uuid) { name } }",
            "variables": {"uuid": 5},
        }
    },
    "missing variable": {
        "json": {"query": "query Q($uuid: String!) { userTest(uuid: $uuid) { name } }"}
    },
    "syntax error": {"json": {"query": "{ userTest("}},
    "unknown field": {"json": {"query": "{ nothing }"}},
    "unknown operation": {
        "json": {"query": "query A { __typename } query B { __typename }", "operationName": "C"}
    },
    "two operations, no name": {"json": {"query": "query A { __typename } query B { x }"}},
    "subscription": {"json": {"query": 'subscription { resultChanged(testUuid: "x") { id } }'}},
    "query not a string": {"json": {"query": 5}},
    "no query": {"json": {}},
    "variables not an object": {"json": {"query": "{ __typename }", "variables": [1]}},
    "batch": {"json": [{"query": "{ __typename }"}]},
    "not json": {"content": b"{nope", "headers": {"Content-Type": "application/json"}},
    "form body": {
        "content": b"query=%7B__typename%7D",
        "headers": {"Content-Type": "application/x-www-form-urlencoded"},
    },
    "failed mutation": {
        "json": {
            "query": "mutation M($input: UserTestResultInput!) {"
            " rejectUserTestResult(input: $input) { clientMutationId } }",
            "variables": {"input": {"resultUuid": "ut_response_missing"}},
        }
    },
}


@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE_JSON])
@pytest.mark.parametrize("name", list(REQUESTS))
async def test_json_post_answers_as_strawberrys_view(
    client: httpx.AsyncClient, name: str, accept: str
) -> None:
    same_signing_window(client)
    request = dict(REQUESTS[name])
    headers = request.get("headers", {})
    if isinstance(headers, dict):
        request["headers"] = {"Accept": accept, **headers}
    await both_paths(client, **request)


async def test_json_post_answers_without_a_key_as_strawberrys_view(
    client: httpx.AsyncClient,
) -> None:
    del client.headers["Authorization"]
    status, headers, body = await both_paths(client, json={"query": "{ __typename }"})
    assert status == 401
    assert headers["www-authenticate"] == 'Bearer realm="footage"'
    assert error_codes(body) == ["UNAUTHENTICATED"]
    client.headers["Authorization"] = "Bearer not-a-key"
    status, _, body = await both_paths(client, json={"query": "{ nothing }"})
    assert status == 401  # authentication comes before validation, on both paths


async def test_json_post_answers_over_the_rate_as_strawberrys_view(
    client_factory: ClientFactory, backend: Backend, tmp_path: Path
) -> None:
    settings = make_settings(
        tmp_path,
        backend.settings.database_url,
        FOOTAGE_RATE_LIMIT_PER_MINUTE="1",
        FOOTAGE_RATE_LIMIT_BURST="1",
    )
    async with client_factory(settings=settings) as client:
        first = await client.post("/graphql", json={"query": "{ __typename }"})
        assert first.status_code == 200
        status, headers, body = await both_paths(client, json={"query": "{ __typename }"})
    assert status == 429
    assert headers["retry-after"] == "60"
    assert error_codes(body) == ["RATE_LIMITED"]


async def test_json_posts_skip_strawberrys_execute_and_the_rest_do_not(
    client: httpx.AsyncClient,
) -> None:
    with counted_strawberry_operations(client) as ran:
        response = await client.post("/graphql", json={"query": "{ __typename }"})
        assert response.json() == {"data": {"__typename": "Query"}}
        mutation = 'mutation { createUserTest(input: {name: "A"}) { userTestUuid } }'
        response = await client.post("/graphql", json={"query": mutation})
        assert response.json()["data"]["createUserTest"]["userTestUuid"].startswith("ut_")
        assert ran == []
        await client.get("/graphql", params={"query": "{ __typename }"})
        await client.post("/graphql", json={"query": "{ nothing }"})
        assert ran == ["{ __typename }", "{ nothing }"]


async def test_json_post_masks_a_fault_outside_the_resolvers_as_strawberrys_view(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("secret: postgres://user:password@host")

    monkeypatch.setattr(FootageExecutionContext, "execute_operation", broken)
    status, _, body = await both_paths(
        client, json={"query": "{ __typename }"}, headers={"X-Request-Id": "fault-1"}
    )
    assert status == 200
    assert error_codes(body) == ["INTERNAL"]
    assert body["errors"][0]["extensions"]["requestId"] == "fault-1"
    assert "secret" not in str(body)
    logged = [record for record in caplog.records if "unexpected error" in record.getMessage()]
    assert len(logged) == 2  # once per path


async def test_a_fault_outside_the_resolvers_is_500_under_graphql_response_json(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GraphQL over HTTP: a response without ``data`` answers 4xx or 5xx under
    application/graphql-response+json, as appropriate: the request was sound and the server
    failed it (400 stays for requests that cannot run, tests/test_http_semantics.py)."""

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("a fault of the server's")

    monkeypatch.setattr(FootageExecutionContext, "execute_operation", broken)
    status, _, body = await both_paths(
        client,
        json={"query": "{ __typename }"},
        headers={"Accept": "application/graphql-response+json", "X-Request-Id": "fault-2"},
    )
    assert status == 500
    assert "data" not in body
    assert error_codes(body) == ["INTERNAL"]


def test_a_schema_with_more_than_footages_extensions_gets_no_json_post_path() -> None:
    from strawberry.extensions import SchemaExtension

    from app.json_post import JsonPost, json_post_for
    from app.schema import build_schema

    assert isinstance(json_post_for(build_schema()), JsonPost)
    extended = build_schema()
    extended.extensions = (*extended.extensions, SchemaExtension)
    assert json_post_for(extended) is None
    assert json_post_for(object()) is None

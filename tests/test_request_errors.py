"""Requests refused before anything runs, and inputs that must never reach SQL: each answers as
JSON with a coded error (regressions found by the fuzzing run, kept as plain examples)."""

from __future__ import annotations

import base64

import httpx
import pytest

from tests.support.graphql import error_codes, gql

TEST_UUID = "ut_645c4faa-5c2d-49b1-85fa-823ffbbbfa17"


@pytest.mark.parametrize(
    "body", ["null", "0", '""', "true", "12.5", "[" * 20_000 + "]" * 20_000, '{"query": ']
)
async def test_json_body_that_is_not_a_json_object_is_bad_request(
    client: httpx.AsyncClient, body: str
) -> None:
    response = await client.post(
        "/graphql", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    assert error_codes(response.json()) == ["BAD_REQUEST"]


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"query": 5},
        {"query": "{ __typename }", "variables": "x"},
        {"query": "{ __typename }", "extensions": []},
        {"query": "query A { __typename } query B { __typename }", "operationName": "C"},
    ],
)
async def test_malformed_request_is_coded_json_under_the_requested_media_type(
    client: httpx.AsyncClient, payload: dict[str, object]
) -> None:
    accept = "application/graphql-response+json"
    response = await client.post("/graphql", json=payload, headers={"Accept": accept})
    assert response.status_code == 400
    assert response.headers["content-type"] == accept
    assert error_codes(response.json()) == ["BAD_REQUEST"]


async def test_batched_operations_are_refused_as_json(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json=[{"query": "{ __typename }"}])
    assert response.status_code == 400
    assert error_codes(response.json()) == ["BAD_REQUEST"]


async def test_mutation_over_get_is_405_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", params={"query": "mutation { __typename }"})
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert error_codes(response.json()) == ["METHOD_NOT_ALLOWED"]


async def test_unused_variable_is_a_validation_failure(client: httpx.AsyncClient) -> None:
    body = await gql(client, "query Q($a: Int) { __typename }", expect_errors=True)
    assert error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"]


async def test_variable_of_the_wrong_type_is_bad_user_input(client: httpx.AsyncClient) -> None:
    query = "query Q($uuid: String!) { userTest(uuid: $uuid) { name } }"
    body = await gql(client, query, {"uuid": 5}, expect_errors=True)
    assert error_codes(body) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(
    "query",
    [
        '{ userTest(uuid: "ut_\\u0000") { name } }',
        '{ userTestResult(resultUuid: "ut_response_\\u0000x") { name } }',
        '{ node(id: "NUL_ID") { id } }'.replace(
            "NUL_ID", base64.urlsafe_b64encode(b"UserTest:ut_\x00").decode().rstrip("=")
        ),
    ],
)
async def test_control_characters_in_identifiers_are_bad_user_input(
    client: httpx.AsyncClient, query: str
) -> None:
    body = await gql(client, query, expect_errors=True)
    assert error_codes(body) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(
    "position",
    ["v1:\u0663", "v1:9223372036854775808", "v1:-1", "v1:01", "v1: 1", "v2:1"],
)
async def test_cursor_outside_ascii_digits_and_bigint_is_bad_user_input(
    client: httpx.AsyncClient, position: str
) -> None:
    cursor = base64.urlsafe_b64encode(position.encode()).decode().rstrip("=")
    query = f'{{ userTest(uuid: "{TEST_UUID}") {{ results(after: "{cursor}") {{ totalCount }} }} }}'
    body = await gql(client, query, expect_errors=True)
    assert error_codes(body) == ["BAD_USER_INPUT"]


async def test_largest_bigint_cursor_is_accepted(client: httpx.AsyncClient) -> None:
    cursor = base64.urlsafe_b64encode(b"v1:9223372036854775807").decode().rstrip("=")
    query = (
        f'{{ userTest(uuid: "{TEST_UUID}") {{ results(after: "{cursor}") '
        "{ edges { cursor } } } }"
    )
    body = await gql(client, query)
    assert body["data"]["userTest"]["results"]["edges"] == []


async def test_depth_of_fragment_fan_out_is_measured_once_per_fragment(
    client: httpx.AsyncClient,
) -> None:
    # F0 spreads F1 twice, F1 spreads F2 twice ...: 2**40 paths if every spread were re-walked.
    levels = 40
    fragments = [
        f"fragment F{i} on UserTest {{ name ...F{i + 1} ...F{i + 1} }}" for i in range(levels)
    ]
    fragments.append(f"fragment F{levels} on UserTest {{ uuid }}")
    query = f'{{ userTest(uuid: "{TEST_UUID}") {{ ...F0 }} }} ' + " ".join(fragments)
    body = await gql(client, query)
    assert body["data"]["userTest"]["uuid"] == TEST_UUID

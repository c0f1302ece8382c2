"""Unexpected failures are masked and logged; errors raised on purpose keep message and code."""

from __future__ import annotations

import logging

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.demo.queries import document
from app.store import models
from tests.support.graphql import error_codes, gql


async def test_unexpected_error_is_masked_as_internal_and_logged(
    client: httpx.AsyncClient, connection: AsyncConnection, caplog: pytest.LogCaptureFixture
) -> None:
    # A status this code does not know: the resolver fails in a way nobody planned for.
    await connection.execute(
        update(models.AttachedMedia)
        .where(models.AttachedMedia.type == "WAVEFORM")
        .values(status="SOMETHING_NEW")
    )
    with caplog.at_level(logging.ERROR, logger="footage.errors"):
        body = await gql(client, document("GetAllResults"), expect_errors=True)
    assert set(error_codes(body)) == {"INTERNAL"}
    assert {error["message"] for error in body["errors"]} == {"Internal server error"}
    assert "SOMETHING_NEW" not in str(body)
    assert "Traceback" not in str(body)
    assert any("SOMETHING_NEW" in str(record.exc_info) for record in caplog.records)


async def test_graphql_syntax_and_validation_errors_keep_their_message(
    client: httpx.AsyncClient,
) -> None:
    body = await gql(client, "{ userTest(", expect_errors=True)
    assert "Syntax Error" in body["errors"][0]["message"]
    body = await gql(client, "{ noSuchField }", expect_errors=True)
    assert "noSuchField" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    "query",
    [
        '{ userTest(uuid: "") { name } }',
        '{ userTestResult(resultUuid: "' + "x" * 500 + '") { name } }',
    ],
)
async def test_out_of_bounds_uuid_is_bad_user_input(client: httpx.AsyncClient, query: str) -> None:
    body = await gql(client, query, expect_errors=True)
    assert error_codes(body) == ["BAD_USER_INPUT"]


async def test_unknown_uuid_answers_null_without_error(client: httpx.AsyncClient) -> None:
    body = await gql(client, '{ userTest(uuid: "ut_nope") { name } }')
    assert body == {"data": {"userTest": None}}

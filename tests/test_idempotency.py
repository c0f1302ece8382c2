"""Idempotency keys: a retry replays the first payload without writing, another input with the
same key is refused, keys are per workspace, a failed request does not use its key up, and
concurrent retries converge on one write."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.context import Services
from app.main import create_app
from app.maintenance import maintain_once
from app.store import models
from tests.conftest import FreshDatabase, running
from tests.support.factories import make_workspace
from tests.support.graphql import error_codes, gql
from tests.support.writes import (
    CREATE_RESULT,
    CREATE_TEST,
    FEED,
    REPORT,
    create_test,
    session,
    transition,
)


async def count(connection: AsyncConnection, model: Any) -> int:
    return int((await connection.execute(select(func.count()).select_from(model))).scalar_one())


def result_input(test_uuid: str, key: str, **extra: Any) -> dict[str, Any]:
    return {
        "input": {
            "testUuid": test_uuid,
            "name": "Retried",
            "participant": {"anonymousId": "anon-retry"},
            "idempotencyKey": key,
            **extra,
        }
    }


async def test_same_key_and_input_replays_the_payload_without_a_second_write(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    test_uuid = await create_test(client)
    before = await count(connection, models.UserTestResult)
    first = await gql(client, CREATE_RESULT, result_input(test_uuid, "k-1", clientMutationId="a"))
    again = await gql(client, CREATE_RESULT, result_input(test_uuid, "k-1", clientMutationId="b"))
    one, two = (b["data"]["createUserTestResult"] for b in (first, again))
    assert one["userTestResult"] == two["userTestResult"]
    assert (one["replayed"], two["replayed"]) == (False, True)
    assert (one["clientMutationId"], two["clientMutationId"]) == ("a", "b")
    assert await count(connection, models.UserTestResult) == before + 1
    feed = await gql(client, FEED, {"test": test_uuid})
    assert len(feed["data"]["testResultChanges"]["edges"]) == 1


async def test_same_key_with_another_input_or_mutation_is_refused(
    client: httpx.AsyncClient,
) -> None:
    test_uuid = await create_test(client)
    await gql(client, CREATE_RESULT, result_input(test_uuid, "k-2"))
    other_input = await gql(
        client, CREATE_RESULT, result_input(test_uuid, "k-2", name="Other"), expect_errors=True
    )
    other_mutation = await gql(
        client,
        CREATE_TEST,
        {"input": {"name": "Retried", "idempotencyKey": "k-2"}},
        expect_errors=True,
    )
    for body in (other_input, other_mutation):
        assert error_codes(body) == ["IDEMPOTENCY_KEY_REUSED"]
        assert body["errors"][0]["extensions"]["argument"] == "idempotencyKey"


async def test_keys_are_per_workspace(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    other = await make_workspace(connection, "keyholders")
    mine = await gql(client, CREATE_TEST, {"input": {"name": "Mine", "idempotencyKey": "shared"}})
    theirs = await gql(
        client,
        CREATE_TEST,
        {"input": {"name": "Theirs", "idempotencyKey": "shared"}},
        headers={"Authorization": f"Bearer {other.key}"},
    )
    a, b = (body["data"]["createUserTest"] for body in (mine, theirs))
    assert (a["replayed"], b["replayed"]) == (False, False)
    assert a["userTest"]["uuid"] != b["userTest"]["uuid"]


async def test_a_failed_request_does_not_use_its_key_up(client: httpx.AsyncClient) -> None:
    failed = await gql(client, CREATE_RESULT, result_input("ut_missing", "k-3"), expect_errors=True)
    assert error_codes(failed) == ["NOT_FOUND"]
    test_uuid = await create_test(client)
    worked = await gql(client, CREATE_RESULT, result_input(test_uuid, "k-3"))
    assert worked["data"]["createUserTestResult"]["replayed"] is False


async def test_a_retried_transition_replays_instead_of_being_illegal(
    client: httpx.AsyncClient,
) -> None:
    _test, _result, recording_id = await session(client)
    first = await transition(client, "start", recording_id, idempotencyKey="start-1")
    again = await transition(client, "start", recording_id, idempotencyKey="start-1")
    assert again["data"]["startRecording"]["replayed"] is True
    assert again["data"]["startRecording"]["recording"]["status"] == "RECORDING"
    assert (
        again["data"]["startRecording"]["recording"]["startedAt"]
        == first["data"]["startRecording"]["recording"]["startedAt"]
    )
    without_key = await transition(client, "start", recording_id, expect_errors=True)
    assert error_codes(without_key) == ["BAD_USER_INPUT"]


async def test_a_retried_report_replays_its_applied_flag(client: httpx.AsyncClient) -> None:
    _test, _result, recording_id = await session(client)
    variables = {
        "input": {
            "recordingId": recording_id,
            "language": "en",
            "type": "WAVEFORM",
            "status": "PENDING",
            "idempotencyKey": "report-1",
        }
    }
    await gql(
        client,
        REPORT,
        {"input": {**variables["input"], "status": "FAILED", "idempotencyKey": "r0"}},
    )
    late = await gql(client, REPORT, variables)
    again = await gql(client, REPORT, variables)
    assert late["data"]["reportAttachedMedia"]["applied"] is False
    assert again["data"]["reportAttachedMedia"]["applied"] is False
    assert again["data"]["reportAttachedMedia"]["replayed"] is True


async def test_concurrent_retries_with_one_key_converge_on_one_write(
    fresh_database: FreshDatabase,
) -> None:
    """Eight identical requests with one key at once, each on its own connection: one writes,
    the others wait for it and replay its payload."""
    app = create_app(fresh_database.settings, engine=fresh_database.engine)
    async with running(app) as client:
        client.headers["Authorization"] = f"Bearer {fresh_database.key}"
        test_uuid = await create_test(client)
        bodies = await asyncio.gather(
            *(gql(client, CREATE_RESULT, result_input(test_uuid, "race")) for _ in range(8))
        )
    payloads = [b["data"]["createUserTestResult"] for b in bodies]
    assert len({p["userTestResult"]["responseUUID"] for p in payloads}) == 1
    assert sorted(p["replayed"] for p in payloads) == [False] + [True] * 7
    async with fresh_database.engine.connect() as connection:
        assert await count(connection, models.UserTestResult) == 1
        assert await count(connection, models.ResultChange) == 1
        assert await count(connection, models.IdempotencyKey) == 1


async def test_maintenance_forgets_keys_older_than_their_lifetime(
    fresh_database: FreshDatabase,
) -> None:
    app = create_app(fresh_database.settings, engine=fresh_database.engine)
    async with running(app) as client:
        client.headers["Authorization"] = f"Bearer {fresh_database.key}"
        await gql(client, CREATE_TEST, {"input": {"name": "Kept", "idempotencyKey": "old"}})
        services: Services = app.state.services
        ttl = timedelta(hours=fresh_database.settings.idempotency_key_hours)
        await maintain_once(cleaner=services.storage, begin=services.begin, key_ttl=ttl)
        async with fresh_database.engine.connect() as connection:
            assert await count(connection, models.IdempotencyKey) == 1
        later = datetime.now(UTC) + ttl + timedelta(minutes=1)
        await maintain_once(cleaner=services.storage, begin=services.begin, key_ttl=ttl, now=later)
        async with fresh_database.engine.connect() as connection:
            assert await count(connection, models.IdempotencyKey) == 0
        # Forgotten: the key may now start a new write.
        body = await gql(client, CREATE_TEST, {"input": {"name": "New", "idempotencyKey": "old"}})
        assert body["data"]["createUserTest"]["replayed"] is False

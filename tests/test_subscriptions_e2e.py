"""End to end with committed transactions: a database of its own (migrated and seeded), the app
on its own engine under a real uvicorn, mutations over HTTP and subscriptions over a real
websocket, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.demo.queries import LIVE_NAMES, document
from app.demo.seed import RESULT_UUID, TEST_UUID, seed_demo
from app.main import create_app
from app.settings import Settings
from app.store.engine import make_engine
from app.store.migrate import upgrade
from tests.conftest import Backend, make_settings
from tests.support.fresh_database import postgres_database
from tests.support.graphql_ws import WAIT, GraphQLWS
from tests.support.live_server import serving


@dataclass(frozen=True)
class Fresh:
    engine: AsyncEngine
    settings: Settings
    demo_key: str


@pytest.fixture(scope="module")
async def fresh(
    backend: Backend, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> AsyncIterator[Fresh]:
    var_dir = tmp_path_factory.mktemp(f"fresh-{backend.name}")
    async with AsyncExitStack() as stack:
        if backend.name == "sqlite":
            url = f"sqlite+aiosqlite:///{var_dir / 'footage.db'}"
        else:
            cluster = request.getfixturevalue("postgres_url")
            url = await stack.enter_async_context(postgres_database(cluster))
        settings = make_settings(var_dir, url, FOOTAGE_MAINTENANCE_INTERVAL="0")
        engine = make_engine(url)
        stack.push_async_callback(engine.dispose)
        await upgrade(engine)
        seeded = await seed_demo(
            engine, media_root=settings.media_root, key_file=var_dir / "demo_api_key"
        )
        assert seeded.api_key is not None
        yield Fresh(engine, settings, seeded.api_key)


@pytest.fixture
async def base_url(fresh: Fresh) -> AsyncIterator[str]:
    async with serving(create_app(fresh.settings, engine=fresh.engine)) as url:
        yield url


async def post(base_url: str, key: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base_url, timeout=WAIT) as http:
        response = await http.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {key}"},
        )
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body["errors"]
    return body


WATCH = """
subscription($t: String!) {
  resultChanged(testUuid: $t) { kind cursor resultUuid result { name status } }
}
"""
CREATE = """
mutation($t: String!) {
  createUserTestResult(input: {
    testUuid: $t, name: "Live session", status: IN_PROGRESS, participant: { name: "Ola" }
  }) { userTestResult { responseUUID } }
}
"""
FEED_END = """
query($t: String!) { testResultChangesCount(testUuid: $t) { latestCursor } }
"""


async def test_a_mutation_over_http_reaches_a_websocket_subscriber(
    fresh: Fresh, base_url: str
) -> None:
    async with GraphQLWS.session(base_url, fresh.demo_key) as ws:
        assert await ws.subscribe("1", WATCH, {"t": TEST_UUID}) == []

        created = await post(base_url, fresh.demo_key, CREATE, {"t": TEST_UUID})
        event = (await ws.next_data("1"))["resultChanged"]

    result_uuid = created["data"]["createUserTestResult"]["userTestResult"]["responseUUID"]
    feed = await post(base_url, fresh.demo_key, FEED_END, {"t": TEST_UUID})
    assert event["kind"] == "CREATED"
    assert event["resultUuid"] == result_uuid
    assert event["result"] == {"name": "Live session", "status": "IN_PROGRESS"}
    assert event["cursor"] == feed["data"]["testResultChangesCount"]["latestCursor"]


MEDIA = """
subscription($r: String!) {
  attachedMediaChanged(resultUuid: $r) {
    kind objectType media { language type status url } recording { id }
  }
}
"""
RECORDING = """
query($r: String!) { userTestResult(resultUuid: $r) { recordings { download { id } } } }
"""
REPORT = """
mutation($recording: ID!) {
  reportAttachedMedia(input: {
    recordingId: $recording, language: "fr", type: SUBTITLES, status: SUCCESS,
    storageKey: "demo/subtitles-fr.vtt", mimeType: "text/vtt"
  }) { applied }
}
"""


async def test_a_media_report_reaches_a_subscriber_of_the_result(
    fresh: Fresh, base_url: str
) -> None:
    found = await post(base_url, fresh.demo_key, RECORDING, {"r": RESULT_UUID})
    recording_id = found["data"]["userTestResult"]["recordings"]["download"]["id"]
    async with GraphQLWS.session(base_url, fresh.demo_key) as ws:
        assert await ws.subscribe("m", MEDIA, {"r": RESULT_UUID}) == []

        await post(base_url, fresh.demo_key, REPORT, {"recording": recording_id})
        event = (await ws.next_data("m"))["attachedMediaChanged"]

    assert event["objectType"] == "ATTACHED_MEDIA"
    assert event["kind"] in ("CREATED", "UPDATED")
    assert event["recording"] == {"id": recording_id}
    media = event["media"]
    assert (media["language"], media["type"], media["status"]) == ("fr", "SUBTITLES", "SUCCESS")
    assert media["url"].startswith(fresh.settings.public_url)


async def test_a_media_report_reaches_the_test_subscribers_as_an_update_of_its_result(
    fresh: Fresh, base_url: str
) -> None:
    found = await post(base_url, fresh.demo_key, RECORDING, {"r": RESULT_UUID})
    recording_id = found["data"]["userTestResult"]["recordings"]["download"]["id"]
    async with GraphQLWS.session(base_url, fresh.demo_key) as ws:
        assert await ws.subscribe("1", WATCH, {"t": TEST_UUID}) == []

        report = REPORT.replace('"fr"', '"de"')
        await post(base_url, fresh.demo_key, report, {"recording": recording_id})
        event = (await ws.next_data("1"))["resultChanged"]

    feed = await post(base_url, fresh.demo_key, FEED_END, {"t": TEST_UUID})
    assert event["kind"] == "UPDATED"
    assert event["resultUuid"] == RESULT_UUID
    assert event["cursor"] == feed["data"]["testResultChangesCount"]["latestCursor"]


async def until_no_connection_is_checked_out(engine: AsyncEngine) -> None:
    async with asyncio.timeout(WAIT):
        while engine.pool.checkedout():  # noqa: ASYNC110 - polls the pool, no event to await
            await asyncio.sleep(0.02)


async def test_a_subscription_holds_no_database_connection_between_events(
    fresh: Fresh, base_url: str
) -> None:
    async with GraphQLWS.session(base_url, fresh.demo_key) as ws:
        await ws.subscribe("1", WATCH, {"t": TEST_UUID})
        # Subscribing read the user test; the connection went back before waiting.
        await until_no_connection_is_checked_out(fresh.engine)

        await post(base_url, fresh.demo_key, CREATE, {"t": TEST_UUID})
        assert (await ws.next_data("1"))["resultChanged"]["result"]["name"] == "Live session"
        await until_no_connection_is_checked_out(fresh.engine)
        await ws.sync()

        assert fresh.engine.pool.checkedout() == 0


@pytest.mark.parametrize("name", LIVE_NAMES)
async def test_graphiql_live_tabs_run_against_the_schema(
    fresh: Fresh, base_url: str, name: str
) -> None:
    if name == "watchResults":
        async with GraphQLWS.session(base_url, fresh.demo_key) as ws:
            assert await ws.subscribe("1", document(name)) == []
            await post(base_url, fresh.demo_key, document("addResult"), {})
            event = (await ws.next_data("1"))["resultChanged"]
        assert event["kind"] == "CREATED"
        assert event["result"]["participant"] == {"name": "GraphiQL visitor"}
    else:
        body = await post(base_url, fresh.demo_key, document(name), {})
        assert body["data"]["createUserTestResult"]["userTestResult"]["status"] == "IN_PROGRESS"

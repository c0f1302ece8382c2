"""Media-processing reports: one upsert per item, finalisedAt when a status becomes final, no
going back to PENDING, a status order between final reports, and convergence under
concurrency on both databases."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.main import create_app
from app.store import models
from tests.conftest import Backend, ClientFactory, FreshDatabase, make_settings, running
from tests.support.graphql import error_codes, gql
from tests.support.writes import FEED, report, session

MEDIA = """query($id: ID!) { node(id: $id) { ... on TestSessionRecording {
  attachedMedia { language media { type status statusReason error finalisedAt url } } } } }"""


def payload(body: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = body["data"]["reportAttachedMedia"]
    return result


async def test_first_report_creates_the_item_and_later_ones_update_it(
    client: httpx.AsyncClient,
) -> None:
    test_uuid, _result, recording_id = await session(client)
    created = payload(await report(client, recording_id, status="PENDING"))
    item = created["attachedMedia"]
    assert (item["status"], item["finalisedAt"], created["applied"]) == ("PENDING", None, True)
    assert created["recording"]["id"] == recording_id
    done = payload(
        await report(
            client,
            recording_id,
            status="SUCCESS",
            storageKey="demo/media/subtitles.vtt",
            mimeType="text/vtt",
        )
    )
    assert done["attachedMedia"]["id"] == item["id"]
    assert done["attachedMedia"]["status"] == "SUCCESS"
    assert done["attachedMedia"]["finalisedAt"] is not None
    read = await gql(client, MEDIA, {"id": recording_id})
    [group] = read["data"]["node"]["attachedMedia"]
    assert group["media"][0]["status"] == "SUCCESS"
    assert group["media"][0]["url"].startswith(
        "http://testserver/media/local/demo/media/subtitles.vtt"
    )
    feed = await gql(client, FEED, {"test": test_uuid})
    media_changes = [
        (e["node"]["kind"], e["node"]["objectChange"], e["node"]["objectId"])
        for e in feed["data"]["testResultChanges"]["edges"]
        if e["node"]["objectType"] == "ATTACHED_MEDIA"
    ]
    assert media_changes == [("UPDATED", "CREATED", item["id"]), ("UPDATED", "UPDATED", item["id"])]


async def test_late_pending_never_reopens_a_finished_item(client: httpx.AsyncClient) -> None:
    _test, _result, recording_id = await session(client)
    done = payload(await report(client, recording_id, status="FAILED", error="No speech found"))
    late = payload(await report(client, recording_id, status="PENDING"))
    assert late["applied"] is False
    assert late["attachedMedia"] == done["attachedMedia"]


async def test_repeated_final_report_keeps_its_finalised_at(client: httpx.AsyncClient) -> None:
    _test, _result, recording_id = await session(client)
    first = payload(await report(client, recording_id, status="NOT_REQUIRED"))
    again = payload(await report(client, recording_id, status="NOT_REQUIRED"))
    assert again["applied"] is True
    assert again["attachedMedia"]["finalisedAt"] == first["attachedMedia"]["finalisedAt"]


@pytest.mark.parametrize(
    ("first", "second", "winner"),
    [
        ("FAILED", "SUCCESS", "SUCCESS"),  # a successful retry replaces a failure
        ("SUCCESS", "FAILED", "SUCCESS"),  # a failed re-run never hides a produced file
        ("WARNING", "SUCCESS", "SUCCESS"),
        ("SUCCESS", "WARNING", "SUCCESS"),
        ("NOT_REQUIRED", "FAILED", "FAILED"),
        ("FAILED", "NOT_SUPPORTED", "FAILED"),
        ("PENDING", "NOT_ALLOWED", "NOT_ALLOWED"),
    ],
)
async def test_final_reports_follow_the_status_order_whatever_comes_first(
    client: httpx.AsyncClient, first: str, second: str, winner: str
) -> None:
    _test, _result, recording_id = await session(client)
    keys = {"SUCCESS": "demo/m/a.vtt", "WARNING": "demo/m/b.vtt"}
    for status in (first, second):
        extra = {"storageKey": keys[status]} if status in keys else {}
        last = payload(await report(client, recording_id, status=status, **extra))
    assert last["attachedMedia"]["status"] == winner
    assert last["applied"] is (winner == second)


async def test_produced_statuses_need_a_storage_key(client: httpx.AsyncClient) -> None:
    _test, _result, recording_id = await session(client)
    for status in ("SUCCESS", "WARNING"):
        body = await report(client, recording_id, status=status, expect_errors=True)
        assert error_codes(body) == ["BAD_USER_INPUT"]


async def test_reports_keep_languages_and_types_apart(client: httpx.AsyncClient) -> None:
    _test, _result, recording_id = await session(client)
    await report(client, recording_id, status="PENDING", language="en", type="WAVEFORM")
    await report(client, recording_id, status="PENDING", language="pt-BR", type="WAVEFORM")
    await report(client, recording_id, status="PENDING", language="en", type="SUMMARISATION")
    read = await gql(client, MEDIA, {"id": recording_id})
    groups = {
        g["language"]: [m["type"] for m in g["media"]]
        for g in read["data"]["node"]["attachedMedia"]
    }
    assert groups == {"en": ["WAVEFORM", "SUMMARISATION"], "pt-BR": ["WAVEFORM"]}


async def test_a_replaced_file_is_removed_from_storage(
    backend: Backend, client_factory: ClientFactory, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, backend.settings.database_url)
    old = settings.media_root / "demo/proc/v1/subtitles.vtt"
    old.parent.mkdir(parents=True)
    old.write_text("WEBVTT\n")
    async with client_factory(settings=settings) as client:
        _test, _result, recording_id = await session(client)
        await report(
            client, recording_id, status="SUCCESS", storageKey="demo/proc/v1/subtitles.vtt"
        )
        assert old.exists()
        await report(
            client, recording_id, status="SUCCESS", storageKey="demo/proc/v2/subtitles.vtt"
        )
    assert not old.exists()
    assert not old.parent.exists()  # left empty, so removed


async def test_concurrent_reports_for_one_item_converge(fresh_database: FreshDatabase) -> None:
    """Twelve reports of one item at once, in a shuffled order, each its own committed
    transaction: none fails, one row exists, and it holds the highest-ranked status."""
    app = create_app(fresh_database.settings, engine=fresh_database.engine)
    statuses = ["PENDING"] * 4 + ["FAILED"] * 3 + ["NOT_SUPPORTED"] * 2 + ["SUCCESS"] * 3
    random.Random(5).shuffle(statuses)  # noqa: S311 - a fixed order, not a secret
    async with running(app) as client:
        client.headers["Authorization"] = f"Bearer {fresh_database.key}"
        _test, _result, recording_id = await session(client)

        def extra(status: str) -> dict[str, str]:
            return {"storageKey": "fresh/same/file.vtt"} if status == "SUCCESS" else {}

        bodies = await asyncio.gather(
            *(report(client, recording_id, status=s, **extra(s)) for s in statuses)
        )
        assert all("errors" not in body for body in bodies)
        read = await gql(client, MEDIA, {"id": recording_id})
    [group] = read["data"]["node"]["attachedMedia"]
    [item] = group["media"]
    assert item["status"] == "SUCCESS"
    assert item["finalisedAt"] is not None
    async with fresh_database.engine.connect() as connection:
        assert await media_rows(connection) == 1


async def media_rows(connection: AsyncConnection) -> int:
    count = select(func.count()).select_from(models.AttachedMedia)
    return int((await connection.execute(count)).scalar_one())

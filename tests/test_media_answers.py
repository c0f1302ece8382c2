"""Recordings' attached media answers kept for later requests (app.answers): a page read again
builds no media items, and answers exactly as it did; a change to an item, another signing
window, a key that may not sign, or a ceiling without room makes the request build its own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.demo.seed import TEST_UUID
from resolvers import attached_media, user_test
from tests.conftest import Backend, ClientFactory, make_settings
from tests.support.factories import workspace_key
from tests.support.graphql import error_codes, gql
from tests.support.minting import next_signing_window, signer_down
from tests.support.spies import executed_objects

PAGE = """query($test: String!, $first: Int!) { userTest(uuid: $test) {
  results(first: $first) { edges { node { recordings { download {
    mediaUrl attachedMedia { language media { type status url } }
  } } } } } } }"""


@pytest.fixture(autouse=True)
def no_page_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about the media answers a page is built from: no page is kept whole
    above them (tests/test_page_answers.py)."""
    monkeypatch.setattr(user_test, "page_answer_key", lambda *_: None)


@pytest.fixture
def built_items(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The uuids of the media items built, as they are built."""
    built: list[str] = []
    original: Callable[..., Any] = attached_media.AttachedMedia.from_record.__func__  # type: ignore[attr-defined]

    def spy(cls: Any, record: Any, urls: Any = None) -> Any:
        built.append(record.uuid)
        return original(cls, record, urls)

    monkeypatch.setattr(attached_media.AttachedMedia, "from_record", classmethod(spy))
    return built


@pytest.fixture
def executed_items(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The media items whose fields the executor ran, as it runs them."""
    return executed_objects(monkeypatch, {"AttachedMedia"})


def items(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        item
        for edge in body["data"]["userTest"]["results"]["edges"]
        if edge["node"]["recordings"]["download"] is not None
        for group in edge["node"]["recordings"]["download"]["attachedMedia"]
        for item in group["media"]
    ]


def urls(body: dict[str, Any]) -> list[str | None]:
    return [item["url"] for item in items(body)]


async def test_a_page_read_again_builds_no_media_items_and_answers_the_same(
    client: httpx.AsyncClient,
    built_items: list[str],
    executed_items: list[object],
    one_window: None,
) -> None:
    """The second request hands out what the first built and completed: no media item is
    built, and no item's fields run (app.execution.Kept)."""
    first = await gql(client, PAGE, {"test": TEST_UUID, "first": 10})
    assert built_items
    assert executed_items
    built_items.clear()
    executed_items.clear()
    assert await gql(client, PAGE, {"test": TEST_UUID, "first": 10}) == first
    assert built_items == []
    assert executed_items == []


async def test_a_changed_item_is_answered_at_once(
    client: httpx.AsyncClient, connection: AsyncConnection, built_items: list[str]
) -> None:
    """The answer is keyed by the items themselves: any writer's change makes another key."""
    await gql(client, PAGE, {"test": TEST_UUID, "first": 10})
    await connection.execute(
        text(
            "UPDATE attached_media SET status = 'FAILED' WHERE id = "
            "(SELECT MIN(m.id) FROM attached_media m JOIN recordings r ON r.id = m.recording_id "
            "JOIN user_test_results t ON t.id = r.result_id "
            "JOIN user_tests u ON u.id = t.user_test_id WHERE u.uuid = :test "
            "AND m.status = 'SUCCESS')"
        ),
        {"test": TEST_UUID},
    )
    built_items.clear()
    body = await gql(client, PAGE, {"test": TEST_UUID, "first": 10})
    statuses = [item["status"] for item in items(body)]
    assert "FAILED" in statuses
    assert 0 < len(built_items) < len(statuses)  # the changed recording's items only


async def test_another_signing_window_builds_its_own(
    client: httpx.AsyncClient, built_items: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await gql(client, PAGE, {"test": TEST_UUID, "first": 10})
    next_signing_window(monkeypatch)
    built_items.clear()
    second = await gql(client, PAGE, {"test": TEST_UUID, "first": 10})
    assert built_items
    assert urls(second) != urls(first)  # signed for the next window


async def test_a_key_that_may_not_sign_gets_forbidden_after_another_kept_the_answer(
    client: httpx.AsyncClient, connection: AsyncConnection, backend: Backend
) -> None:
    await gql(client, PAGE, {"test": TEST_UUID, "first": 10})
    reader = await workspace_key(connection, TEST_UUID, "results:read")
    body = await gql(
        client,
        PAGE,
        {"test": TEST_UUID, "first": 10},
        expect_errors=True,
        headers={"Authorization": f"Bearer {reader}"},
    )
    assert set(error_codes(body)) == {"FORBIDDEN"}
    assert set(urls(body)) == {None}


TWO_PAGES = """query($test: String!) { userTest(uuid: $test) {
  a: results(first: 1) { ...a } b: results(first: 1) { ...b } } }
fragment a on UserTestResultConnection { edges { node { recordings { download {
  mediaUrl(expiresIn: 1000) attachedMedia { language media { url(expiresIn: 1000) } }
} } } } }
fragment b on UserTestResultConnection { edges { node { recordings { download {
  mediaUrl(expiresIn: 2000) attachedMedia { language media { url(expiresIn: 2000) } }
} } } } }"""
ONE_PAGE = TWO_PAGES.replace(" b: results(first: 1) { ...b }", "").split("fragment b")[0]


def answered(body: dict[str, Any], alias: str) -> list[str]:
    found = []
    for edge in body["data"]["userTest"][alias]["edges"]:
        download = edge["node"]["recordings"]["download"]
        found += [download["mediaUrl"]] + [
            m["url"] for g in download["attachedMedia"] for m in g["media"]
        ]
    return [url for url in found if url is not None]


async def test_a_kept_answer_counts_its_urls_against_the_ceiling(
    client_factory: ClientFactory, backend: Backend
) -> None:
    """A page of one result fills the ceiling exactly and its answer is kept; asked again beside
    another alias with URLs of its own, one of the two finds no room, whichever comes first."""
    async with client_factory() as client:
        ceiling = len(answered(await gql(client, ONE_PAGE, {"test": TEST_UUID}), "a"))
    settings = make_settings(
        backend.settings.var_dir,
        backend.settings.database_url,
        FOOTAGE_MAX_URLS_PER_REQUEST=str(ceiling),
    )
    async with client_factory(settings=settings) as client:
        kept = await gql(client, ONE_PAGE, {"test": TEST_UUID})
        assert len(answered(kept, "a")) == ceiling
        body = await gql(client, TWO_PAGES, {"test": TEST_UUID}, expect_errors=True)
    assert set(error_codes(body)) == {"URL_LIMIT_EXCEEDED"}
    assert len(answered(body, "a")) + len(answered(body, "b")) == ceiling


async def test_an_answer_with_errors_is_not_kept(
    client: httpx.AsyncClient, built_items: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request whose URLs failed to sign answers SIGNING_FAILED; the next one signs its own."""
    signer_back = signer_down(monkeypatch)
    failed = await gql(client, PAGE, {"test": TEST_UUID, "first": 10}, expect_errors=True)
    assert set(error_codes(failed)) == {"SIGNING_FAILED"}
    signer_back()
    built_items.clear()
    body = await gql(client, PAGE, {"test": TEST_UUID, "first": 10})
    assert built_items
    assert any(urls(body))


async def test_without_a_url_cache_every_request_signs_its_own(
    client_factory: ClientFactory, backend: Backend, built_items: list[str]
) -> None:
    """An answer holds its URLs: with the URL cache off, none is kept."""
    settings = make_settings(
        backend.settings.var_dir, backend.settings.database_url, FOOTAGE_URL_CACHE_SIZE="0"
    )
    async with client_factory(settings=settings) as client:
        await gql(client, PAGE, {"test": TEST_UUID, "first": 10})
        built_items.clear()
        await gql(client, PAGE, {"test": TEST_UUID, "first": 10})
    assert built_items


SELECTED = """query($test: String!, $types: Boolean!, $ids: Boolean!) { userTest(uuid: $test) {
  results(first: 10) { edges { node { recordings { download {
    attachedMedia { language media { url type @include(if: $types) id @include(if: $ids) } }
  } } } } } } }"""


async def test_each_selection_gets_its_own_completed_form(
    client: httpx.AsyncClient, executed_items: list[object], one_window: None
) -> None:
    """One kept answer, asked with other variables (other fields included): each request
    answers its own selection, and each selection is completed once."""
    answers = {}
    for types, ids in [(True, False), (False, True), (True, True), (False, False)]:
        body = await gql(client, SELECTED, {"test": TEST_UUID, "types": types, "ids": ids})
        found = items(body)
        assert found
        assert all(("type" in item) == types and ("id" in item) == ids for item in found)
        answers[types, ids] = body
    executed_items.clear()
    for (types, ids), body in answers.items():
        assert await gql(client, SELECTED, {"test": TEST_UUID, "types": types, "ids": ids}) == body
    assert executed_items == []


SIGNED = """query($test: String!) { userTest(uuid: $test) {
  results(first: 10) { edges { node { recordings { download {
    attachedMedia { language media { type signedUrl { url expiresIn } } }
  } } } } } } }"""


async def test_a_selection_whose_answer_moves_with_the_clock_runs_every_time(
    client: httpx.AsyncClient,
    executed_items: list[object],
    built_items: list[str],
    one_window: None,
) -> None:
    """`signedUrl.expiresIn` counts down: its items are kept (not built again) but their
    fields run for every request."""
    first = await gql(client, SIGNED, {"test": TEST_UUID})
    assert any(item["signedUrl"] for item in items(first))
    executed_items.clear()
    built_items.clear()
    await gql(client, SIGNED, {"test": TEST_UUID})
    assert built_items == []
    assert len(executed_items) == len(items(first))


NO_URLS = PAGE.replace("mediaUrl ", "").replace(" url }", " }")


@pytest.mark.parametrize("url_cache", ["0", "1000"])
async def test_a_page_without_urls_is_kept_with_or_without_a_url_cache(
    client_factory: ClientFactory,
    backend: Backend,
    connection: AsyncConnection,
    built_items: list[str],
    executed_items: list[object],
    url_cache: str,
) -> None:
    """Its answers hold no URL: kept whatever the URL cache, and a change is answered at once."""
    assert "url" not in NO_URLS.lower()
    settings = make_settings(
        backend.settings.var_dir, backend.settings.database_url, FOOTAGE_URL_CACHE_SIZE=url_cache
    )
    async with client_factory(settings=settings) as client:
        first = await gql(client, NO_URLS, {"test": TEST_UUID, "first": 10})
        failed = [item["status"] for item in items(first)].count("FAILED")
        built_items.clear()
        executed_items.clear()
        assert await gql(client, NO_URLS, {"test": TEST_UUID, "first": 10}) == first
        assert built_items == []
        assert executed_items == []
        await connection.execute(
            text(
                "UPDATE attached_media SET status = 'FAILED' WHERE id = "
                "(SELECT MIN(m.id) FROM attached_media m JOIN recordings r "
                "ON r.id = m.recording_id JOIN user_test_results t ON t.id = r.result_id "
                "JOIN user_tests u ON u.id = t.user_test_id WHERE u.uuid = :test "
                "AND m.status = 'SUCCESS')"
            ),
            {"test": TEST_UUID},
        )
        changed = await gql(client, NO_URLS, {"test": TEST_UUID, "first": 10})
    assert [item["status"] for item in items(changed)].count("FAILED") == failed + 1
    assert 0 < len(built_items) < len(items(changed))

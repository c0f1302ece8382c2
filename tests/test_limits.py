"""Every documented limit answers with its own code; nothing reaches the resolvers past one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from app.demo.queries import document
from app.demo.seed import RESULT_UUID, TEST_UUID
from app.limits import RateLimiter
from resolvers import user_test
from tests.conftest import Backend, ClientFactory, make_settings
from tests.support.graphql import error_codes, gql


@pytest.fixture
def limited(client_factory: ClientFactory, backend: Backend, tmp_path: Path) -> Any:
    """A client over an app whose settings override the given FOOTAGE_* values."""

    def make(**environ: str) -> Any:
        url = backend.settings.database_url
        settings = make_settings(tmp_path, url, **{f"FOOTAGE_{k}": v for k, v in environ.items()})
        return client_factory(settings=settings)

    return make


async def test_seed_queries_fit_within_the_default_limits(client: httpx.AsyncClient) -> None:
    for name in ("specificResult", "listResults", "GetAllResults"):
        await gql(client, document(name))


async def test_too_deep_query_is_refused_with_query_too_deep(limited: Any) -> None:
    async with limited(MAX_DEPTH="8") as client:
        body = await gql(client, document("GetAllResults"), expect_errors=True)
    assert error_codes(body) == ["QUERY_TOO_DEEP"]
    assert "data" not in body


async def test_depth_follows_fragments(limited: Any) -> None:
    async with limited(MAX_DEPTH="6") as client:
        body = await gql(client, document("listResults"), expect_errors=True)
    assert error_codes(body) == ["QUERY_TOO_DEEP"]


async def test_introspection_depth_is_not_counted(limited: Any) -> None:
    query = "{ __schema { types { fields { type { ofType { ofType { ofType { name } } } } } } } }"
    async with limited(MAX_DEPTH="3") as client:
        await gql(client, query)


async def test_too_many_aliases_is_refused(limited: Any) -> None:
    fields = " ".join(f"a{i}: __typename" for i in range(6))
    async with limited(MAX_ALIASES="5") as client:
        body = await gql(client, "{ " + fields + " }", expect_errors=True)
        assert error_codes(body) == ["TOO_MANY_ALIASES"]
        await gql(client, "{ " + " ".join(f"a{i}: __typename" for i in range(5)) + " }")


async def test_too_many_tokens_is_refused(limited: Any) -> None:
    async with limited(MAX_TOKENS="100") as client:
        body = await gql(client, "{ " + "__typename " * 200 + "}", expect_errors=True)
    assert error_codes(body) == ["TOO_MANY_TOKENS"]


async def test_body_over_the_limit_is_413(limited: Any) -> None:
    async with limited(MAX_BODY_BYTES="2000") as client:
        response = await client.post(
            "/graphql", json={"query": "{ __typename }", "pad": "x" * 3000}
        )
        assert response.status_code == 413
        assert error_codes(response.json()) == ["BODY_TOO_LARGE"]

        async def chunks() -> AsyncIterator[bytes]:
            # No Content-Length: the limit is found while reading.
            yield b'{"query": "{ __typename }", "pad": "'
            for _ in range(5):
                yield b"x" * 1000
            yield b'"}'

        streamed = await client.post(
            "/graphql", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert streamed.status_code == 413


async def test_url_ceiling_nulls_urls_past_it_and_keeps_the_rest(limited: Any) -> None:
    async with limited(MAX_URLS_PER_REQUEST="5") as client:
        body = await gql(client, document("GetAllResults"), expect_errors=True)
    assert set(error_codes(body)) == {"URL_LIMIT_EXCEEDED"}
    edges = body["data"]["userTest"]["results"]["edges"]
    urls = [
        m["url"]
        for e in edges
        for g in e["node"]["recordings"]["download"]["attachedMedia"]
        for m in g["media"]
    ]
    assert sum(url is not None for url in urls) == 5
    assert len(edges) == 10


TWO_PAGES = """query($test: String!) { userTest(uuid: $test) {
  a: results(first: 3) { ...a } b: results(first: 3) { ...b } } }
fragment a on UserTestResultConnection { edges { node { recordings { download {
  mediaUrl(expiresIn: 1000) attachedMedia { media { url(expiresIn: 1000) } }
} } } } }
fragment b on UserTestResultConnection { edges { node { recordings { download {
  mediaUrl(expiresIn: 2000) attachedMedia { media { url(expiresIn: 2000) } }
} } } } }"""


def _urls(connection: dict[str, Any]) -> list[str | None]:
    return [
        url
        for edge in connection["edges"]
        for download in [edge["node"]["recordings"]["download"]]
        for url in [
            download["mediaUrl"],
            *(m["url"] for g in download["attachedMedia"] for m in g["media"]),
        ]
    ]


async def test_a_page_with_room_for_its_urls_counts_them_all_at_once(limited: Any) -> None:
    """A page whose URLs all fit under the ceiling counts them in one step (signed_url.prefetch);
    they count all the same: the same page asked again under another alias, with different
    URLs of its own, finds no room left."""
    async with limited() as client:
        body = await gql(client, TWO_PAGES, {"test": TEST_UUID})
    page = [url for url in _urls(body["data"]["userTest"]["a"]) if url is not None]
    assert len(set(page)) == len(page) > 3
    async with limited(MAX_URLS_PER_REQUEST=str(len(page))) as client:
        body = await gql(client, TWO_PAGES, {"test": TEST_UUID}, expect_errors=True)
    assert set(error_codes(body)) == {"URL_LIMIT_EXCEEDED"}
    answered = [
        url for alias in "ab" for url in _urls(body["data"]["userTest"][alias]) if url is not None
    ]
    assert len(answered) == len(page)  # one alias's URLs: the other's found the ceiling reached


ALIASED_URLS = """query($test: String!, $result: String!) {
  userTest(uuid: $test) { results(first: 3) { edges { node { recordings {
    a: download { mediaUrl } b: download { mediaUrl ...again }
  } } } } }
  userTestResult(resultUuid: $result) { recordings {
    a: download { mediaUrl } b: download { mediaUrl ...again }
  } }
}
fragment again on TestSessionRecording { again: mediaUrl }"""


@pytest.mark.parametrize("lazily", [False, True])
async def test_url_ceiling_counts_each_url_once_however_often_it_is_asked(
    limited: Any, monkeypatch: pytest.MonkeyPatch, lazily: bool
) -> None:
    """Three recordings' URLs, each asked five times (aliases, a fragment, a page and a single
    result): three URLs, within a ceiling of three, whether the page built its recordings
    ahead or each field built its own."""
    if lazily:
        monkeypatch.setattr(user_test, "page_recordings_selection", lambda info: {})
    variables = {"test": TEST_UUID, "result": RESULT_UUID}
    async with limited(MAX_URLS_PER_REQUEST="3") as client:
        body = await gql(client, ALIASED_URLS, variables)
        edges = body["data"]["userTest"]["results"]["edges"]
        assert all(e["node"]["recordings"]["b"]["again"] for e in edges)
        # The single result is one of the page's three: its URL is one of theirs.
        page_urls = {e["node"]["recordings"]["a"]["mediaUrl"] for e in edges}
        assert body["data"]["userTestResult"]["recordings"]["b"]["mediaUrl"] in page_urls
        assert len(page_urls) == 3
    async with limited(MAX_URLS_PER_REQUEST="2") as client:
        body = await gql(client, ALIASED_URLS, variables, expect_errors=True)
        assert set(error_codes(body)) == {"URL_LIMIT_EXCEEDED"}


async def test_a_page_and_its_results_asked_alone_count_each_url_once(limited: Any) -> None:
    """A page prefetches its recordings' URLs (all but the first of a key counted inline, not
    by _sign_request) and each result asked on its own counts its URL again by _sign_request:
    the same URL either way, so three recordings make three URLs."""
    page = """query($test: String!) { userTest(uuid: $test) { results(first: 3) {
      edges { node { responseUUID recordings { download { mediaUrl } } } } } } }"""
    async with limited(MAX_URLS_PER_REQUEST="3") as client:
        body = await gql(client, page, {"test": TEST_UUID})
        edges = body["data"]["userTest"]["results"]["edges"]
        uuids = [e["node"]["responseUUID"] for e in edges]
        selection = "{ recordings { download { mediaUrl } } }"
        alone = " ".join(
            f'r{i}: userTestResult(resultUuid: "{uuid}") {selection}'
            for i, uuid in enumerate(uuids)
        )
        query = page[:-1] + alone + " }"  # the single results beside the page
        both = await gql(client, query, {"test": TEST_UUID})
    urls = {e["node"]["recordings"]["download"]["mediaUrl"] for e in edges}
    assert len(urls) == 3
    again = {both["data"][f"r{i}"]["recordings"]["download"]["mediaUrl"] for i in range(3)}
    assert again == urls


async def test_default_url_ceiling_admits_a_full_page_with_every_url(
    client: httpx.AsyncClient,
) -> None:
    query = (
        document("GetAllResults")
        .replace("first: 10", "first: 100")
        .replace("download {", "download { mediaUrl transcript subtitles waveform")
    )
    await gql(client, query)


async def test_slow_query_times_out_with_timeout(
    limited: Any, connection: AsyncConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.store.facade import Store

    original = Store.fetch_user_tests_by_uuids

    async def slow(self: Store, **kwargs: Any) -> Any:
        await asyncio.sleep(5)
        return await original(self, **kwargs)

    monkeypatch.setattr(Store, "fetch_user_tests_by_uuids", slow)
    async with limited(QUERY_TIMEOUT="1") as client:
        body = await gql(client, document("GetAllResults"), expect_errors=True, status=504)
    assert error_codes(body) == ["TIMEOUT"]


async def test_rate_limit_answers_429_with_a_retry_hint(limited: Any) -> None:
    async with limited(RATE_LIMIT_PER_MINUTE="60", RATE_LIMIT_BURST="3") as client:
        for _ in range(3):
            await gql(client, "{ __typename }")
        response = await client.post("/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 429
    body = response.json()
    assert error_codes(body) == ["RATE_LIMITED"]
    assert body["errors"][0]["extensions"]["retryAfter"] == int(response.headers["retry-after"])
    assert 1 <= int(response.headers["retry-after"]) <= 2


def test_rate_limiter_refills_at_its_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=60, burst=2, clock=lambda: now[0])
    assert [limiter.retry_after(1) for _ in range(2)] == [0.0, 0.0]
    assert limiter.retry_after(1) == pytest.approx(1.0)
    assert limiter.retry_after(2) == 0.0  # keys have their own buckets
    now[0] += 1.0
    assert limiter.retry_after(1) == 0.0


async def test_production_turns_off_introspection_graphiql_and_suggestions(limited: Any) -> None:
    async with limited(ENV="production") as client:
        body = await gql(client, "{ __schema { queryType { name } } }", expect_errors=True)
        assert set(error_codes(body)) == {"GRAPHQL_VALIDATION_FAILED"}
        assert "introspection" in body["errors"][0]["message"].lower()
        typo = await gql(client, '{ userTst(uuid: "x") { name } }', expect_errors=True)
        assert "Did you mean" not in typo["errors"][0]["message"]
        page = await client.get("/graphql", headers={"Accept": "text/html"})
        assert "graphiql" not in page.text.lower()
    async with limited() as client:
        typo = await gql(client, '{ userTst(uuid: "x") { name } }', expect_errors=True)
        assert "Did you mean" in typo["errors"][0]["message"]


async def test_cors_allows_only_listed_origins(limited: Any) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    async with limited(CORS_ORIGINS="https://app.example.com") as client:
        allowed = await client.options(
            "/graphql", headers={"Origin": "https://app.example.com", **preflight}
        )
        denied = await client.options(
            "/graphql", headers={"Origin": "https://evil.example", **preflight}
        )
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "access-control-allow-origin" not in denied.headers


async def test_every_response_carries_a_request_id(client: httpx.AsyncClient) -> None:
    mine = await client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"X-Request-Id": "abc-123"}
    )
    assert mine.headers["x-request-id"] == "abc-123"
    hostile = await client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"X-Request-Id": "a b;<script>"}
    )
    assert hostile.headers["x-request-id"] != "a b;<script>"
    assert len(hostile.headers["x-request-id"]) == 32


def test_url_ceiling_counts_downloads_named_after_different_owners_apart(tmp_path: Path) -> None:
    """One stored object shared by two recordings: as a download without a filename it is
    named after each one's test and participant, so two URLs are signed and both count."""
    from types import SimpleNamespace

    from app.context import Context
    from app.errors import LimitExceeded
    from resolvers.signed_url import MediaDisposition, _sign_request

    settings = make_settings(tmp_path, "sqlite+aiosqlite://", FOOTAGE_MAX_URLS_PER_REQUEST="2")
    context: Any = SimpleNamespace(settings=settings, _urls=set(), require=lambda scope: None)
    context.count_url = Context.count_url.__get__(context)
    key = ("mediaUrl", None, MediaDisposition.ATTACHMENT, None)
    plain = ("mediaUrl", None, None, None)
    first = _sign_request(context, "ws/shared.mp4", key, ("Test A", "alice", "recording"))
    assert first is not None
    # Served as stored, it is one URL whoever asks: counted once.
    _sign_request(context, "ws/shared.mp4", plain, ("Test A", "alice", "recording"))
    _sign_request(context, "ws/shared.mp4", plain, ("Test B", "bob", "recording"))
    assert len(context._urls) == 2
    with pytest.raises(LimitExceeded):
        _sign_request(context, "ws/shared.mp4", key, ("Test B", "bob", "recording"))


async def test_closed_context_keeps_no_urls(tmp_path: Path) -> None:
    """graphql-core's executor keeps the context until a garbage collection: once closed, the
    context holds nothing of the page (its URL keys were the largest part)."""
    from types import SimpleNamespace

    from app.context import Context

    async def close() -> None:
        pass

    settings = make_settings(tmp_path, "sqlite+aiosqlite://")
    context = Context(
        request=None,  # type: ignore[arg-type]
        settings=settings,
        store=SimpleNamespace(close=close),  # type: ignore[arg-type]
        minter=None,  # type: ignore[arg-type]
        broker=None,  # type: ignore[arg-type]
        storage=None,  # type: ignore[arg-type]
        viewer_or_none=None,
        request_id="r",
    )
    context.count_url(("ws/a.mp4", 300, None, None))
    context.plans[("node",)] = object()
    await context.close()
    assert not context._urls
    assert not context.plans

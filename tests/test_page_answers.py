"""Results pages kept whole between requests (resolvers.page_answers): a page asked again is
handed out as its completed form, nothing under it built or executed, and answers exactly as
it did; any change to what it is made of (a result, its participant, a recording or media item,
the rows around the page, the signing window) makes the request build its own, and a kept page
still passes the scope and URL-ceiling checks a built one makes."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.answers import AnswerCache
from app.demo.seed import TEST_UUID
from app.media.signer import UrlMinter
from resolvers import recording, user_test
from resolvers.user_test_result import UserTestResult
from tests.conftest import Backend, ClientFactory, make_settings
from tests.support.factories import workspace_key
from tests.support.graphql import error_codes, gql
from tests.support.minting import next_signing_window, signer_down
from tests.support.spies import executed_objects
from tests.support.writes import CREATE_RESULT, DELETE_RESULT, REJECT_RESULT

PAGE = """query($test: String!, $first: Int!) { userTest(uuid: $test) {
  results(first: $first) {
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id pk responseUUID name status participant { anonymousId name }
      recordings { download { id duration status mediaUrl
        attachedMedia { language media { id type status url } } } } } } } } }"""

PAGED = PAGE.replace("$first: Int!)", "$first: Int!, $after: String)").replace(
    "results(first: $first)", "results(first: $first, after: $after)"
)

BELOW_THE_PAGE = {"UserTestResultEdge", "UserTestResult", "TestSessionRecording"}


@pytest.fixture
def built_results(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pks of the results built, as they are built."""
    built: list[int] = []
    original: Callable[..., Any] = UserTestResult.from_record.__func__  # type: ignore[attr-defined]

    def spy(cls: Any, record: Any, recordings: Any = None) -> Any:
        built.append(record.id)
        return original(cls, record, recordings)

    monkeypatch.setattr(UserTestResult, "from_record", classmethod(spy))
    return built


@pytest.fixture
def executed(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The objects below a page whose fields the executor ran."""
    return executed_objects(monkeypatch, BELOW_THE_PAGE)


def pages_of(client: httpx.AsyncClient) -> AnswerCache:
    pages: AnswerCache = client._transport.app.state.services.pages  # type: ignore[attr-defined]
    return pages


def nodes(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [edge["node"] for edge in body["data"]["userTest"]["results"]["edges"]]


def page_urls(body: dict[str, Any]) -> list[str]:
    found: list[str | None] = []
    for node in nodes(body):
        download = node["recordings"]["download"]
        if download is not None:
            found.append(download["mediaUrl"])
            found += [m["url"] for g in download["attachedMedia"] for m in g["media"]]
    return [url for url in found if url is not None]


async def test_a_page_asked_again_is_handed_out_whole(
    client: httpx.AsyncClient, built_results: list[int], executed: list[object], one_window: None
) -> None:
    first = await gql(client, PAGE, {"test": TEST_UUID, "first": 10})
    assert len(nodes(first)) == 10
    assert built_results
    assert executed
    assert len(pages_of(client)) == 1
    built_results.clear()
    executed.clear()
    for _ in range(2):
        assert await gql(client, PAGE, {"test": TEST_UUID, "first": 10}) == first
    assert built_results == []
    assert executed == []


async def test_each_page_and_each_spelling_is_kept_apart(
    client: httpx.AsyncClient, built_results: list[int], one_window: None
) -> None:
    """Another page size, another page (its cursor), the same selection spelt otherwise: each
    is its own page, and answers its own rows."""
    ten = await gql(client, PAGE, {"test": TEST_UUID, "first": 10})
    five = await gql(client, PAGE, {"test": TEST_UUID, "first": 5})
    assert nodes(five) == nodes(ten)[:5]
    after = ten["data"]["userTest"]["results"]["pageInfo"]["endCursor"]
    paged = PAGED
    variables = {"test": TEST_UUID, "first": 5, "after": after}
    next_page = await gql(client, paged, variables)
    assert {n["pk"] for n in nodes(next_page)}.isdisjoint({n["pk"] for n in nodes(ten)})
    respelt = await gql(client, "  " + PAGE, {"test": TEST_UUID, "first": 10})
    assert respelt == ten
    assert len(pages_of(client)) == 4
    built_results.clear()
    assert await gql(client, paged, variables) == next_page
    assert await gql(client, "  " + PAGE, {"test": TEST_UUID, "first": 10}) == ten
    assert built_results == []


async def test_a_result_changed_by_a_mutation_is_answered_at_once(
    client: httpx.AsyncClient, one_window: None
) -> None:
    first = await gql(client, PAGE, {"test": TEST_UUID, "first": 10})
    target = nodes(first)[3]
    assert target["status"] != "REJECTED"
    await gql(client, REJECT_RESULT, {"input": {"resultUuid": target["responseUUID"]}})
    after = await gql(client, PAGE, {"test": TEST_UUID, "first": 10})
    assert nodes(after)[3]["status"] == "REJECTED"
    assert [n for i, n in enumerate(nodes(after)) if i != 3] == [
        n for i, n in enumerate(nodes(first)) if i != 3
    ]


async def test_a_participant_recording_or_item_changed_by_any_writer_is_answered_at_once(
    client: httpx.AsyncClient, connection: AsyncConnection, one_window: None
) -> None:
    """Writers other than this process (SQL here): the rows and revisions read name the page."""
    first = await gql(client, PAGE, {"test": TEST_UUID, "first": 10})
    pk = nodes(first)[2]["pk"]
    await connection.execute(
        text(
            "UPDATE participants SET name = 'Renamed' WHERE id = "
            "(SELECT participant_id FROM user_test_results WHERE id = :pk)"
        ),
        {"pk": pk},
    )
    renamed = await gql(client, PAGE, {"test": TEST_UUID, "first": 10})
    assert nodes(renamed)[2]["participant"]["name"] == "Renamed"
    await connection.execute(
        text("UPDATE recordings SET duration = 4321.5 WHERE result_id = :pk AND kind = 'download'"),
        {"pk": pk},
    )
    longer = await gql(client, PAGE, {"test": TEST_UUID, "first": 10})
    assert nodes(longer)[2]["recordings"]["download"]["duration"] == 4321.5
    await connection.execute(
        text(
            "UPDATE attached_media SET status = 'FAILED' WHERE recording_id IN "
            "(SELECT id FROM recordings WHERE result_id = :pk)"
        ),
        {"pk": pk},
    )
    failed = await gql(client, PAGE, {"test": TEST_UUID, "first": 10})
    groups = nodes(failed)[2]["recordings"]["download"]["attachedMedia"]
    assert groups
    assert {m["status"] for g in groups for m in g["media"]} == {"FAILED"}
    assert {m["url"] for g in groups for m in g["media"]} == {None}


async def test_the_rows_around_a_page_name_it_too(client: httpx.AsyncClient) -> None:
    """The last page turns its next page on when a result is added after it, and a deleted
    result leaves the page at once."""
    tail = await gql(
        client,
        "query($test: String!) { userTest(uuid: $test) { results(last: 4) { edges { cursor } } } }",
        {"test": TEST_UUID},
    )
    variables = {
        "test": TEST_UUID,
        "first": 3,
        "after": tail["data"]["userTest"]["results"]["edges"][0]["cursor"],
    }
    last = await gql(client, PAGED, variables)
    assert len(nodes(last)) == 3
    assert last["data"]["userTest"]["results"]["pageInfo"]["hasNextPage"] is False
    await gql(
        client, CREATE_RESULT, {"input": {"testUuid": TEST_UUID, "name": "New", "participant": {}}}
    )
    grown = await gql(client, PAGED, variables)
    assert grown["data"]["userTest"]["results"]["pageInfo"]["hasNextPage"] is True
    gone = nodes(grown)[1]["responseUUID"]
    await gql(client, DELETE_RESULT, {"input": {"resultUuid": gone}})
    shrunk = await gql(client, PAGED, variables)
    assert gone not in [n["responseUUID"] for n in nodes(shrunk)]
    assert nodes(shrunk)[-1]["name"] == "New"  # moved up into the page
    assert shrunk["data"]["userTest"]["results"]["pageInfo"]["hasNextPage"] is False


def signed(client: httpx.AsyncClient) -> int:
    count: int = client._transport.app.state.services.minter.signed  # type: ignore[attr-defined]
    return count


def without_urls(body: dict[str, Any]) -> str:
    text = json.dumps(body)
    for url in page_urls(body):
        text = text.replace(url, "URL")
    return text


async def test_another_signing_window_signs_the_page_again_and_builds_nothing(
    client: httpx.AsyncClient, built_results: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kept page's form is completed again with the new window's URLs (its template): the
    same answer with new URLs, each distinct URL signed once, and then handed out as it is."""
    first = await gql(client, PAGE, {"test": TEST_UUID, "first": 10})
    next_signing_window(monkeypatch)
    built_results.clear()
    before = signed(client)
    second = await gql(client, PAGE, {"test": TEST_UUID, "first": 10})
    assert built_results == []
    assert signed(client) - before == len(set(page_urls(second))) > 0
    assert set(page_urls(second)).isdisjoint(page_urls(first))
    assert without_urls(second) == without_urls(first)
    before = signed(client)
    assert await gql(client, PAGE, {"test": TEST_UUID, "first": 10}) == second
    assert signed(client) == before
    assert built_results == []


async def test_a_page_whose_files_are_not_stored_has_no_url_to_sign_again(
    client: httpx.AsyncClient,
    connection: AsyncConnection,
    built_results: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = await gql(client, PAGE, {"test": TEST_UUID, "first": 3})
    pks = [n["pk"] for n in nodes(first)]
    for statement in (
        "UPDATE attached_media SET storage_key = NULL WHERE recording_id IN "
        "(SELECT id FROM recordings WHERE result_id IN (:a, :b, :c))",
        "UPDATE recordings SET storage_key = NULL WHERE result_id IN (:a, :b, :c)",
    ):
        await connection.execute(text(statement), dict(zip("abc", pks, strict=True)))
    unstored = await gql(client, PAGE, {"test": TEST_UUID, "first": 3})
    assert page_urls(unstored) == []
    next_signing_window(monkeypatch)
    built_results.clear()
    before = signed(client)
    assert await gql(client, PAGE, {"test": TEST_UUID, "first": 3}) == unstored
    assert (built_results, signed(client)) == ([], before)


async def test_a_page_whose_window_turned_while_it_was_built_is_not_handed_out_in_the_new_one(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its URLs were minted in the former window: in the new one the next request signs them
    again (its template), rather than being handed URLs a window older than its own."""
    now = UrlMinter.window_start
    turned = False

    def clock(minter: UrlMinter) -> int:
        return now(minter) + (minter.window if turned else 0)

    build: Callable[..., Any] = recording.TestSessionRecording.build_page.__func__  # type: ignore[attr-defined]

    async def build_then_turn(cls: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal turned
        built = await build(cls, *args, **kwargs)
        turned = True  # every URL of the page is minted: the window turns now
        return built

    monkeypatch.setattr(UrlMinter, "window_start", clock)
    monkeypatch.setattr(recording.TestSessionRecording, "build_page", classmethod(build_then_turn))
    first = await gql(client, PAGE, {"test": TEST_UUID, "first": 10})
    before = signed(client)
    second = await gql(client, PAGE, {"test": TEST_UUID, "first": 10})
    assert signed(client) - before == len(set(page_urls(second))) > 0
    assert set(page_urls(second)).isdisjoint(page_urls(first))
    assert without_urls(second) == without_urls(first)


async def test_without_a_url_cache_every_request_signs_its_page_and_builds_none(
    client_factory: ClientFactory, backend: Backend, built_results: list[int]
) -> None:
    """FOOTAGE_URL_CACHE_SIZE=0: every request signs every URL it answers; a kept page is
    completed with them from its template."""
    settings = make_settings(
        backend.settings.var_dir, backend.settings.database_url, FOOTAGE_URL_CACHE_SIZE="0"
    )
    async with client_factory(settings=settings) as client:
        first = await gql(client, PAGE, {"test": TEST_UUID, "first": 10})
        distinct = len(set(page_urls(first)))
        for _ in range(2):
            built_results.clear()
            before = signed(client)
            again = await gql(client, PAGE, {"test": TEST_UUID, "first": 10})
            assert signed(client) - before == distinct
            assert built_results == []
            assert without_urls(again) == without_urls(first)


async def test_a_page_with_urls_made_by_a_former_request_keeps_no_template(
    client: httpx.AsyncClient, built_results: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page whose media answers a former request built (another page of the same results)
    did not sign those URLs itself: kept for its window only, built again in the next one."""
    await gql(client, PAGE, {"test": TEST_UUID, "first": 10})
    await gql(client, PAGE, {"test": TEST_UUID, "first": 5})  # its media answers: kept ones
    next_signing_window(monkeypatch)
    built_results.clear()
    await gql(client, PAGE, {"test": TEST_UUID, "first": 10})
    assert built_results == []  # its template
    await gql(client, PAGE, {"test": TEST_UUID, "first": 5})
    assert len(built_results) == 5


async def test_a_page_whose_recordings_were_built_field_by_field_is_not_kept(
    client: httpx.AsyncClient, built_results: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """URLs minted apart from the page's batch (here: every recording built by its own field,
    as when the page could not see its selection) are not the page's to know: it is not kept,
    and in the next window it is built again, never handed out with the former URLs."""
    monkeypatch.setattr(user_test, "page_recordings_selection", lambda _info: {})
    first = await gql(client, PAGE, {"test": TEST_UUID, "first": 10})
    assert page_urls(first)
    assert len(pages_of(client)) == 0
    next_signing_window(monkeypatch)
    built_results.clear()
    second = await gql(client, PAGE, {"test": TEST_UUID, "first": 10})
    assert len(built_results) == 10
    assert set(page_urls(second)).isdisjoint(page_urls(first))


async def test_a_page_whose_new_urls_fail_to_sign_is_built_and_says_so(
    client: httpx.AsyncClient, built_results: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    await gql(client, PAGE, {"test": TEST_UUID, "first": 10})
    next_signing_window(monkeypatch)
    signer_back = signer_down(monkeypatch)
    built_results.clear()
    failed = await gql(client, PAGE, {"test": TEST_UUID, "first": 10}, expect_errors=True)
    assert set(error_codes(failed)) == {"SIGNING_FAILED"}
    assert len(built_results) == 10
    signer_back()
    body = await gql(client, PAGE, {"test": TEST_UUID, "first": 10})
    assert page_urls(body)


async def test_a_key_that_may_not_sign_gets_forbidden_after_another_kept_the_page(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    first = await gql(client, PAGE, {"test": TEST_UUID, "first": 10})
    assert len(pages_of(client)) == 1
    reader = await workspace_key(connection, TEST_UUID, "results:read")
    body = await gql(
        client,
        PAGE,
        {"test": TEST_UUID, "first": 10},
        expect_errors=True,
        headers={"Authorization": f"Bearer {reader}"},
    )
    assert set(error_codes(body)) == {"FORBIDDEN"}
    assert page_urls(body) == []
    assert [n["pk"] for n in nodes(body)] == [n["pk"] for n in nodes(first)]


async def test_a_kept_page_counts_its_urls_against_the_ceiling(
    client: httpx.AsyncClient, built_results: list[int], one_window: None
) -> None:
    """Handed out, a page's URLs count as if its request had minted them: a request whose
    ceiling has no room for them builds its own page, and answers URL_LIMIT_EXCEEDED."""
    first = await gql(client, PAGE, {"test": TEST_UUID, "first": 10})
    count = len(set(page_urls(first)))
    state = client._transport.app.state  # type: ignore[attr-defined]
    services = state.services
    lower = dataclasses.replace(services.settings, max_urls_per_request=count - 1)
    state.services = dataclasses.replace(services, settings=lower)
    try:
        built_results.clear()
        body = await gql(client, PAGE, {"test": TEST_UUID, "first": 10}, expect_errors=True)
    finally:
        state.services = services
    assert built_results
    assert set(error_codes(body)) == {"URL_LIMIT_EXCEEDED"}
    assert len(page_urls(body)) == count - 1
    built_results.clear()
    assert await gql(client, PAGE, {"test": TEST_UUID, "first": 10}) == first
    assert built_results == []


async def test_a_page_with_an_error_is_not_kept(
    client: httpx.AsyncClient, built_results: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    signer_back = signer_down(monkeypatch)
    failed = await gql(client, PAGE, {"test": TEST_UUID, "first": 10}, expect_errors=True)
    assert set(error_codes(failed)) == {"SIGNING_FAILED"}
    assert len(pages_of(client)) == 0
    signer_back()
    built_results.clear()
    body = await gql(client, PAGE, {"test": TEST_UUID, "first": 10})
    assert built_results
    assert page_urls(body)


@pytest.mark.parametrize(
    "selection",
    [
        "totalCount edges { node { pk } }",
        "edges { node { pk userTest { name } } }",
        "edges { node { recordings { download { signedMediaUrl { url expiresIn } } } } }",
        "edges { node { recordings { download { transcription } } } }",
        "edges { node { recordings { download { transcript subtitles } } } }",
    ],
)
async def test_a_selection_that_moves_apart_from_its_results_keeps_nothing(
    client: httpx.AsyncClient, built_results: list[int], selection: str
) -> None:
    """A field whose answer moves with something a page's key does not name (the user test,
    the clock, a transcript or item read apart) is executed for every request."""
    query = f"""query($test: String!) {{ userTest(uuid: $test) {{
      results(first: 5) {{ {selection} }} }} }}"""
    for _ in range(2):
        built_results.clear()
        await gql(client, query, {"test": TEST_UUID})
        assert len(built_results) == 5
    assert len(pages_of(client)) == 0


async def test_a_renamed_user_test_is_answered_at_once_below_its_results(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    query = """query($test: String!) { userTest(uuid: $test) {
      results(first: 3) { edges { node { pk userTest { name } recordings { download {
        mediaUrl(filename: "x.mp4") } } } } } } }"""
    await gql(client, query, {"test": TEST_UUID})
    await connection.execute(
        text("UPDATE user_tests SET name = 'Renamed test' WHERE uuid = :test"), {"test": TEST_UUID}
    )
    body = await gql(client, query, {"test": TEST_UUID})
    assert {n["userTest"]["name"] for n in nodes(body)} == {"Renamed test"}


@pytest.mark.parametrize("setting", ["FOOTAGE_READ_CACHE_SIZE", "FOOTAGE_PAGE_CACHE_SIZE"])
async def test_with_the_read_or_page_cache_off_no_page_is_kept(
    client_factory: ClientFactory, backend: Backend, built_results: list[int], setting: str
) -> None:
    settings = make_settings(
        backend.settings.var_dir, backend.settings.database_url, **{setting: "0"}
    )
    async with client_factory(settings=settings) as client:
        first = await gql(client, PAGE, {"test": TEST_UUID, "first": 10})
        built_results.clear()
        assert nodes(await gql(client, PAGE, {"test": TEST_UUID, "first": 10})) == nodes(first)
        assert len(built_results) == 10
        assert len(pages_of(client)) == 0


def test_answers_are_bounded_by_their_weight() -> None:
    """A page weighs its results; the least recently used go first; one heavier than the
    whole cache is not kept."""
    cache = AnswerCache(10)
    cache.put("a", "A", 4)
    cache.put("b", "B", 4)
    assert cache.get("a") == "A"  # now the most recently used
    cache.put("c", "C", 4)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == ("A", None, "C")
    cache.put("a", "A2", 6)  # replaced: its old weight is given back
    assert (len(cache), cache.get("a"), cache.get("c")) == (2, "A2", "C")
    cache.put("huge", "H", 11)
    assert cache.get("huge") is None
    assert len(cache) == 2
    off = AnswerCache(0)
    off.put("a", "A")
    assert off.get("a") is None

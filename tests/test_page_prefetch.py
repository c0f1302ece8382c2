"""A results connection builds its items' recordings ahead (one batch each of recordings, media,
transcripts and URLs), so graphql-core completes the page without a coroutine per result. The
answers are the ones each recording field gives when it builds its recording itself, for every
alias, fragment, directive and argument; and the page still completes when the pacer spreads
its edges over many loop iterations."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.demo.seed import TEST_UUID
from app.store.facade import Store
from resolvers import user_test
from tests.conftest import ClientFactory
from tests.support.graphql import gql, same_signing_window
from tests.support.recording_signer import RecordingSigner

PAGE = """
query Page($test: String!, $first: Int!, $withMedia: Boolean!, $skipScreen: Boolean!) {
  userTest(uuid: $test) {
    results(first: $first) {
      edges {
        cursor
        node {
          ...ResultBits
          recordings {
            plain: download { isAudio mimeType }
            download {
              mediaUrl
              short: mediaUrl(expiresIn: 120, disposition: ATTACHMENT)
              transcription
              subtitles
              attachedMedia(types: [SUBTITLES, TRANSCRIPTION]) @include(if: $withMedia) {
                language
                media { type status url signedUrl(expiresIn: 600) { url expiresAt } }
              }
              spanish: attachedMedia(languages: ["es"]) { media { type url(filename: "x.vtt") } }
            }
            screen @skip(if: $skipScreen) { mediaUrl }
          }
        }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
}
fragment ResultBits on Node {
  id
  ... on UserTestResult { pk recordings { again: download { mediaUrl kind status } } }
}
"""
VARIABLES = {"test": TEST_UUID, "first": 30, "withMedia": True, "skipScreen": False}


def _built_lazily(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each recording field builds its own recording, as before the page built them."""
    monkeypatch.setattr(user_test, "page_recordings_selection", lambda info: {})


async def test_page_answers_as_recordings_built_one_by_one(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    same_signing_window(client)
    ahead = await gql(client, PAGE, VARIABLES)
    edges = ahead["data"]["userTest"]["results"]["edges"]
    assert len(edges) == 30
    download = edges[0]["node"]["recordings"]["download"]
    assert download["mediaUrl"]
    assert download["short"] != download["mediaUrl"]
    assert edges[0]["node"]["recordings"]["again"]["mediaUrl"] == download["mediaUrl"]
    assert any(e["node"]["recordings"]["download"]["spanish"] for e in edges)
    assert all(e["node"]["recordings"]["screen"] is None for e in edges)
    _built_lazily(monkeypatch)
    assert await gql(client, PAGE, VARIABLES) == ahead
    # With a directive turning parts of the selection off, too.
    fewer = {**VARIABLES, "withMedia": False, "skipScreen": True}
    monkeypatch.undo()
    ahead = await gql(client, PAGE, fewer)
    assert (
        "attachedMedia"
        not in ahead["data"]["userTest"]["results"]["edges"][0]["node"]["recordings"]["download"]
    )
    _built_lazily(monkeypatch)
    assert await gql(client, PAGE, fewer) == ahead


async def test_page_completes_when_the_pacer_defers_every_edge(
    client_factory: ClientFactory, signer: RecordingSigner
) -> None:
    async with client_factory(signer=signer) as client:
        same_signing_window(client)
        expected = await gql(client, PAGE, VARIABLES)
        pacer = client._transport.app.state.services.pacer  # type: ignore[attr-defined]
        pacer.budget = 0.0  # every edge after the first waits for its turn
        assert await gql(client, PAGE, VARIABLES) == expected
        assert pacer.released > 0


async def test_a_failing_recording_field_still_fails_alone(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A recording the page built ahead answers errors from its own fields at their own
    paths, as one built by its field does."""
    from resolvers import recording

    def broken(self: Any, context: Any, key: Any) -> Any:
        raise ValueError("boom")

    async def nothing_prefetched(*_: Any, **__: Any) -> None:
        return None  # a prefetched URL would answer without ``minted``

    monkeypatch.setattr(recording, "prefetch", nothing_prefetched)
    monkeypatch.setattr(recording.TestSessionRecording, "minted", broken)
    query = """query($test: String!) { userTest(uuid: $test) { results(first: 3) {
      edges { node { pk recordings { download { isAudio mediaUrl } } } } } } }"""
    body = await gql(client, query, {"test": TEST_UUID}, expect_errors=True)
    edges = body["data"]["userTest"]["results"]["edges"]
    assert [e["node"]["recordings"]["download"]["mediaUrl"] for e in edges] == [None] * 3
    assert all(isinstance(e["node"]["recordings"]["download"]["isAudio"], bool) for e in edges)
    paths = [error["path"] for error in body["errors"]]
    assert paths == [
        ["userTest", "results", "edges", i, "node", "recordings", "download", "mediaUrl"]
        for i in range(3)
    ]
    assert {error["extensions"]["code"] for error in body["errors"]} == {"INTERNAL"}


FAILING = """query($test: String!) { userTest(uuid: $test) { name results(first: 3) {
  edges { node { pk recordings { download { isAudio attachedMedia { language } } } } } } } }"""


@pytest.mark.parametrize(
    "broken", ["fetch_recordings_by_result_ids", "fetch_attached_media_by_recording_ids"]
)
async def test_a_failed_load_fails_each_recording_field_not_the_page(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, broken: str
) -> None:
    """As when each field built its recording: the fields the load was for answer null with
    the (masked) error at their own paths, and the rest of the page stands."""

    async def fail(*_: Any, **__: Any) -> Any:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(Store, broken, fail)
    answers = []
    for lazily in (False, True):
        if lazily:
            _built_lazily(monkeypatch)
        body = await gql(client, FAILING, {"test": TEST_UUID}, expect_errors=True)
        answers.append((body["data"], sorted(tuple(e["path"]) for e in body["errors"])))
        assert {e["extensions"]["code"] for e in body["errors"]} == {"INTERNAL"}
    assert answers[0] == answers[1]
    data, paths = answers[0]
    assert data["userTest"]["name"]
    edges = data["userTest"]["results"]["edges"]
    assert [e["node"]["recordings"]["download"] for e in edges] == [None] * 3
    assert paths == [
        ("userTest", "results", "edges", i, "node", "recordings", "download") for i in range(3)
    ]

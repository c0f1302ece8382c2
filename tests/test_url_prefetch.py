"""URL fields are minted by the recording's resolver, ahead of graphql-core, for every alias,
fragment and argument; anything it does not foresee is minted lazily, with the same answer."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from app.demo.seed import RESULT_UUID, TEST_UUID
from tests.conftest import ClientFactory
from tests.support.graphql import gql
from tests.support.recording_signer import RecordingSigner

PAGE = """query($test: String!, $first: Int!) { userTest(uuid: $test) { results(first: $first) {
  edges { node { recordings { download {
    mediaUrl
    attachedMedia { language media { type status url } }
  } } } }
} } }"""


def expires(url: str) -> int:
    return int(parse_qs(urlsplit(url).query)["expires"][0])


def page_urls(body: dict[str, Any]) -> list[str]:
    urls = []
    for edge in body["data"]["userTest"]["results"]["edges"]:
        download = edge["node"]["recordings"]["download"]
        if download is None:
            continue
        urls.append(download["mediaUrl"])
        urls += [m["url"] for g in download["attachedMedia"] for m in g["media"]]
    return [url for url in urls if url is not None]


async def download_of(
    client: httpx.AsyncClient,
    selection: str,
    variables: dict[str, Any] | None = None,
    *,
    declarations: str = "",
    fragments: str = "",
) -> dict[str, Any]:
    query = (
        f"query($result: String!{declarations}) {{"
        " userTestResult(resultUuid: $result) { recordings { download { "
        + selection
        + " } } } }"
        + fragments
    )
    body = await gql(client, query, {"result": RESULT_UUID, **(variables or {})})
    found: dict[str, Any] = body["data"]["userTestResult"]["recordings"]["download"]
    return found


FRAGMENTS = """
fragment recordingUrls on TestSessionRecording { fragmentUrl: mediaUrl(expiresIn: 120) }
fragment mediaUrls on AttachedMedia { fragmentUrl: url(expiresIn: 120) }
"""


async def test_page_of_100_results_mints_every_url_in_one_batch(
    client: httpx.AsyncClient, signer: RecordingSigner
) -> None:
    body = await gql(client, PAGE, {"test": TEST_UUID, "first": 100})
    urls = page_urls(body)
    assert len(body["data"]["userTest"]["results"]["edges"]) == 100
    assert len(urls) > 300
    assert signer.batches == 1
    assert len(signer.signed) == len(set(urls))


async def test_aliases_with_different_arguments_get_their_own_urls(
    client: httpx.AsyncClient, signer: RecordingSigner
) -> None:
    download = await download_of(
        client,
        """short: mediaUrl(expiresIn: 60) long: mediaUrl(expiresIn: 7200)
        again: mediaUrl(expiresIn: 60) signed: signedMediaUrl(expiresIn: 7200) { url expiresIn }
        attachedMedia(types: [SUBTITLES]) { media {
          inline: url download: url(disposition: ATTACHMENT) named: url(filename: "a.vtt")
          signedUrl(expiresIn: 3600) { url expiresIn }
        } }""",
    )
    assert download["short"] == download["again"] != download["long"]
    assert expires(download["long"]) - expires(download["short"]) == 7200 - 60
    assert download["signed"]["url"] == download["long"]
    assert download["signed"]["expiresIn"] >= 7200 - 1
    [group] = download["attachedMedia"]
    [media] = group["media"]
    assert len({media["inline"], media["download"], media["named"]}) == 3
    assert "attachment" in media["download"]
    assert "a.vtt" in media["named"]
    assert media["signedUrl"]["expiresIn"] >= 3600 - 1
    assert signer.batches == 1
    # short/again share one URL; long and the signed one share another: 2 + 4 for the media.
    assert len(signer.signed) == 6


async def test_url_fields_in_fragments_and_through_variables_are_prefetched(
    client: httpx.AsyncClient, signer: RecordingSigner
) -> None:
    download = await download_of(
        client,
        """...recordingUrls
        ... on Node { ... on TestSessionRecording { viaNode: mediaUrl(expiresIn: $e) } }
        literal: mediaUrl(expiresIn: 120, disposition: ATTACHMENT)
        variable: mediaUrl(expiresIn: $e, disposition: $d)
        attachedMedia(types: [SUBTITLES]) { ... on AttachedMediaLanguage {
          media { ...mediaUrls ... on AttachedMedia { plain: url(expiresIn: $e) } }
        } }""",
        {"e": 120, "d": "ATTACHMENT"},
        declarations=", $e: Int, $d: MediaDisposition",
        fragments=FRAGMENTS,
    )
    assert download["fragmentUrl"] == download["viaNode"]
    assert download["literal"] == download["variable"]
    [media] = download["attachedMedia"][0]["media"]
    assert media["fragmentUrl"] == media["plain"]
    assert signer.batches == 1
    assert len(signer.signed) == 3


async def test_skipped_url_fields_are_not_signed(
    client: httpx.AsyncClient, signer: RecordingSigner
) -> None:
    download = await download_of(
        client,
        """mediaUrl @skip(if: $skip) isAudio
        attachedMedia @include(if: false) { media { url } }""",
        {"skip": True},
        declarations=", $skip: Boolean!",
    )
    assert download == {"isAudio": False}
    assert signer.signed == []


@pytest.mark.parametrize(
    "selection",
    [
        'mediaUrl a: mediaUrl(expiresIn: 60, filename: "x.mp4") '
        "signedMediaUrl(disposition: INLINE) { url } subtitles transcript waveform transcription "
        'attachedMedia(languages: ["en"]) { media { url b: url(expiresIn: 90) '
        "signedUrl(disposition: ATTACHMENT) { url } } }",
    ],
)
async def test_declared_resolvers_answer_like_the_direct_ones(
    client_factory: ClientFactory,
    signer: RecordingSigner,
    monkeypatch: pytest.MonkeyPatch,
    selection: str,
) -> None:
    async with client_factory(signer=signer) as client:
        direct = await download_of(client, selection)
    monkeypatch.setattr("app.schema.install_direct_resolvers", lambda _schema: None)
    async with client_factory(signer=signer) as client:
        declared = await download_of(client, selection)
    assert declared == direct
    assert direct["mediaUrl"] is not None
    assert direct["subtitles"] is not None
    assert direct["transcription"] is not None


async def test_node_refetch_mints_what_the_page_minted(
    client: httpx.AsyncClient, signer: RecordingSigner
) -> None:
    download = await download_of(
        client, "id mediaUrl subtitles attachedMedia { media { id type url } }"
    )
    media = download["attachedMedia"][0]["media"][0]
    body = await gql(
        client,
        """query($r: ID!, $m: ID!) {
          r: node(id: $r) { ... on TestSessionRecording {
            mediaUrl subtitles attachedMedia { media { url } } } }
          m: node(id: $m) { ... on AttachedMedia { url } }
        }""",
        {"r": download["id"], "m": media["id"]},
    )
    assert body["data"]["m"]["url"] == media["url"]
    assert body["data"]["r"]["mediaUrl"] == download["mediaUrl"]
    assert body["data"]["r"]["subtitles"] == download["subtitles"]
    assert body["data"]["r"]["attachedMedia"][0]["media"][0]["url"] == media["url"]
    # The refetch signs nothing new inside the signing window.
    assert len(signer.signed) == len(set(signer.signed))


def test_only_a_success_item_answers_from_prefetched_urls() -> None:
    """A media item's URL fields answer from its prefetched entries as they are, so only a
    SUCCESS item keeps any: another item's url is null whatever it was given."""
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from app.media.signer import SignedUrl
    from app.store.records import AttachedMediaRecord
    from resolvers.attached_media import DIRECT_RESOLVERS, AttachedMedia

    def record(status: str) -> AttachedMediaRecord:
        return AttachedMediaRecord(
            id=1, uuid="m", recording_id=1, language="en", type="SUBTITLES", status=status,
            status_reason=None, storage_key="k/subtitles.vtt", mime_type="text/vtt",
            error=None, finalised_at=None, user_test_name="t", participant_label="p",
        )  # fmt: skip

    minted = SignedUrl("https://storage.test/k/subtitles.vtt?sig", datetime(2026, 1, 1, tzinfo=UTC))
    entries: Any = {("url", None, None, None): minted}
    info = SimpleNamespace(context=None)  # neither answer needs the context
    resolve = DIRECT_RESOLVERS["url"]
    assert resolve(AttachedMedia.from_record(record("SUCCESS"), entries), info) == minted.url
    for status in ("FAILED", "WARNING", "PENDING"):
        assert resolve(AttachedMedia.from_record(record(status), entries), info) is None

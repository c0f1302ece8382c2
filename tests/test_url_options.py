"""URL fields take a lifetime, a disposition and a filename; stable links redirect to them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from app.demo.seed import RESULT_UUID
from app.ids import to_global_id
from app.media.disposition import content_disposition
from tests.support.factories import make_workspace
from tests.support.graphql import error_codes, gql

RECORDING = """query($result: String!, $expiresIn: Int, $disposition: MediaDisposition,
                    $filename: String) {
  userTestResult(resultUuid: $result) { recordings { download {
    id
    mediaUrl(expiresIn: $expiresIn, disposition: $disposition, filename: $filename)
    signedMediaUrl(expiresIn: $expiresIn, disposition: $disposition, filename: $filename) {
      url expiresAt expiresIn
    }
    attachedMedia(types: [SUBTITLES]) { media { id type url(disposition: ATTACHMENT)
      signedUrl { url expiresAt expiresIn } } }
  } } }
}"""


async def recording(client: httpx.AsyncClient, **variables: Any) -> dict[str, Any]:
    body = await gql(client, RECORDING, {"result": RESULT_UUID, **variables})
    result: dict[str, Any] = body["data"]["userTestResult"]["recordings"]["download"]
    return result


async def test_expires_in_is_honoured_and_reported(client: httpx.AsyncClient) -> None:
    asked = 3_600
    before = datetime.now(UTC)
    data = await recording(client, expiresIn=asked)
    signed = data["signedMediaUrl"]
    assert signed["url"] == data["mediaUrl"]
    expires_at = datetime.fromisoformat(signed["expiresAt"])
    assert expires_at >= before + timedelta(seconds=asked)
    assert signed["expiresIn"] >= asked - 1
    assert f"expires={int(expires_at.timestamp())}" in signed["url"]


async def test_default_lifetime_is_the_configured_ttl(client: httpx.AsyncClient) -> None:
    data = await recording(client)
    assert data["signedMediaUrl"]["expiresIn"] >= 900 - 1


@pytest.mark.parametrize("expires_in", [0, -5, 604_800, 10**9])
async def test_expires_in_out_of_bounds_is_bad_user_input(
    client: httpx.AsyncClient, expires_in: int
) -> None:
    body = await gql(
        client, RECORDING, {"result": RESULT_UUID, "expiresIn": expires_in}, expect_errors=True
    )
    assert set(error_codes(body)) == {"BAD_USER_INPUT"}


async def test_attachment_uses_the_default_filename_when_served(
    client: httpx.AsyncClient,
) -> None:
    data = await recording(client, disposition="ATTACHMENT")
    response = await client.get(data["mediaUrl"])
    assert response.status_code == 200
    assert response.headers["content-disposition"] == (
        'attachment; filename="checkout-flow-usability-study-ava-okafor-recording.mp4"'
    )
    [group] = data["attachedMedia"]
    subtitles = await client.get(group["media"][0]["url"])
    assert subtitles.headers["content-disposition"] == (
        'attachment; filename="checkout-flow-usability-study-ava-okafor-subtitles-en.vtt"'
    )


async def test_unicode_filename_gets_an_ascii_fallback_and_rfc_8187_name(
    client: httpx.AsyncClient,
) -> None:
    data = await recording(client, filename="Séance d'essai \u2013 Zoë.mp4")
    response = await client.get(data["mediaUrl"])
    assert response.headers["content-disposition"] == (
        'attachment; filename="Seance d_essai _ Zoe.mp4"; '
        "filename*=UTF-8''S%C3%A9ance%20d%27essai%20%E2%80%93%20Zo%C3%AB.mp4"
    )


async def test_inline_with_filename_plays_in_the_page(client: httpx.AsyncClient) -> None:
    data = await recording(client, disposition="INLINE", filename="clip.mp4")
    response = await client.get(data["mediaUrl"])
    assert response.headers["content-disposition"] == 'inline; filename="clip.mp4"'


@pytest.mark.parametrize(
    "filename",
    [
        'evil"\r\nSet-Cookie: session=1; x=".mp4',
        "../../etc/passwd",
        "a\x00b\nc.mp4",
    ],
)
async def test_hostile_filenames_cannot_inject_headers_or_paths(
    client: httpx.AsyncClient, filename: str
) -> None:
    data = await recording(client, filename=filename)
    response = await client.get(data["mediaUrl"])
    assert response.status_code == 200
    header = response.headers["content-disposition"]
    assert "\r" not in header
    assert "\n" not in header
    assert "set-cookie" not in {name.lower() for name in response.headers}
    assert "/" not in header.split("filename=")[1].split(";")[0]


@pytest.mark.parametrize("filename", ["", "///", "x" * 181])
async def test_unusable_filename_is_bad_user_input(
    client: httpx.AsyncClient, filename: str
) -> None:
    body = await gql(
        client, RECORDING, {"result": RESULT_UUID, "filename": filename}, expect_errors=True
    )
    assert set(error_codes(body)) == {"BAD_USER_INPUT"}


async def test_tampered_disposition_is_forbidden(client: httpx.AsyncClient) -> None:
    url = (await recording(client, disposition="ATTACHMENT"))["mediaUrl"]
    forged = url.replace("attachment", "inline")
    assert forged != url
    assert (await client.get(forged)).status_code == 403


def test_content_disposition_is_plain_for_ascii_names() -> None:
    assert content_disposition("inline", "a b.vtt") == 'inline; filename="a b.vtt"'
    assert content_disposition("attachment", None) == "attachment"


FILTERED = """query($languages: [String!], $types: [MediaType!], $statuses: [MediaStatus!]) {
  userTest(uuid: "ut_645c4faa-5c2d-49b1-85fa-823ffbbbfa17") { results(first: 4) { edges { node {
    pk recordings { download {
      attachedMedia(languages: $languages, types: $types, statuses: $statuses) {
        language media { type status }
      }
    } } } } } }
}"""


async def filtered(client: httpx.AsyncClient, **variables: Any) -> dict[int, Any]:
    body = await gql(client, FILTERED, variables)
    return {
        edge["node"]["pk"]: edge["node"]["recordings"]["download"]["attachedMedia"]
        for edge in body["data"]["userTest"]["results"]["edges"]
    }


async def test_attached_media_filters_by_language_type_and_status(
    client: httpx.AsyncClient,
) -> None:
    spanish = await filtered(client, languages=["es"])
    assert spanish[12345] == []
    assert [g["language"] for g in spanish[12348]] == ["es"]

    failed_subtitles = await filtered(client, types=["SUBTITLES"], statuses=["FAILED"])
    assert failed_subtitles[12347] == [
        {"language": "en", "media": [{"type": "SUBTITLES", "status": "FAILED"}]}
    ]
    assert failed_subtitles[12345] == []

    pending = await filtered(client, statuses=["PENDING"])
    assert [m["type"] for m in pending[12346][0]["media"]] == ["WAVEFORM", "SUMMARISATION"]


async def test_filter_with_an_unknown_enum_value_is_a_validation_error(
    client: httpx.AsyncClient,
) -> None:
    body = await gql(client, FILTERED, {"types": ["VIDEO"]}, expect_errors=True)
    assert body["errors"]
    assert "data" not in body or body["data"] is None


# -- stable links ----------------------------------------------------------------------------


async def ids(client: httpx.AsyncClient) -> tuple[str, str]:
    data = await recording(client)
    return data["id"], data["attachedMedia"][0]["media"][0]["id"]


async def test_stable_link_redirects_to_a_fresh_signed_url(client: httpx.AsyncClient) -> None:
    recording_id, media_id = await ids(client)
    for global_id, content_type in ((recording_id, "video/mp4"), (media_id, "text/vtt")):
        response = await client.get(f"/media/{global_id}")
        assert response.status_code == 302
        assert response.headers["cache-control"] == "no-store"
        target = await client.get(response.headers["location"])
        assert target.status_code == 200
        assert target.headers["content-type"].startswith(content_type)


async def test_stable_link_takes_the_url_options(client: httpx.AsyncClient) -> None:
    recording_id, _ = await ids(client)
    response = await client.get(
        f"/media/{recording_id}", params={"disposition": "attachment", "expiresIn": "7200"}
    )
    location = response.headers["location"]
    expires = int(parse_qs(urlsplit(location).query)["expires"][0])
    assert expires >= datetime.now(UTC).timestamp() + 7200
    target = await client.get(location)
    assert target.headers["content-disposition"].startswith("attachment; filename=")


async def test_stable_link_without_a_key_is_401(client: httpx.AsyncClient) -> None:
    recording_id, _ = await ids(client)
    response = await client.get(f"/media/{recording_id}", headers={"Authorization": ""})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHENTICATED"


async def test_stable_link_of_another_workspace_is_404_like_unknown(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    recording_id, media_id = await ids(client)
    other = await make_workspace(connection, "initech")
    as_other = {"Authorization": f"Bearer {other.key}"}
    unknown = to_global_id("TestSessionRecording", "no-such-recording")
    answers = [
        (await client.get(f"/media/{global_id}", headers=as_other)).json()
        for global_id in (recording_id, media_id, unknown)
    ]
    assert answers[0] == answers[1] == answers[2]
    assert answers[0]["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("not-an-id", {}),
        (to_global_id("UserTest", "ut_x"), {}),
        (None, {"expiresIn": "soon"}),
        (None, {"expiresIn": "99999999999"}),
        (None, {"disposition": "sideways"}),
    ],
)
async def test_stable_link_bad_input_is_a_coded_client_error(
    client: httpx.AsyncClient, path: str | None, params: dict[str, str]
) -> None:
    recording_id, _ = await ids(client)
    response = await client.get(f"/media/{path or recording_id}", params=params)
    assert response.status_code in (400, 404)
    assert response.json()["error"]["code"] in ("BAD_USER_INPUT", "NOT_FOUND")

"""The local storage backend: the URLs GraphQL hands out are served by the app itself, byte for
byte, with Range support, and only while their HMAC signature and expiry hold.

The conftest ``client`` wraps the signer in a ``RecordingSigner``, and the lifespan only enables
the media route for a bare ``LocalSigner`` (``app/main.py``), so these tests let the app build its
own signer, as production does. Unexpected exceptions propagate out of the ASGI transport, so any
500 fails a test outright rather than hiding behind an error page.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest

from app.demo.queries import document
from app.media.local import ROUTE_PREFIX, LocalSigner
from app.media.signer import SignRequest
from tests.conftest import Backend, ClientFactory
from tests.support.graphql import gql

FIRST_PAGE_RECORDINGS = """
query FirstPageRecordings {
  userTest(uuid: "ut_645c4faa-5c2d-49b1-85fa-823ffbbbfa17") {
    results(first: 10) {
      edges { node { pk recordings { download { mediaUrl mimeType } } } }
    }
  }
}
"""
ATTACHED_TYPES = {
    "SUBTITLES": "text/vtt",
    "TRANSCRIPTION": "application/json",
    "AUDIO_EXTRACTION": "audio/mpeg",
    "WAVEFORM": "application/json",
    "SUMMARISATION": "application/json",
}
# Long ago: 2001-09-09. Any URL signed then expired decades ago.
LONG_AGO = 1_000_000_000


@pytest.fixture
async def media_client(client_factory: ClientFactory) -> AsyncIterator[httpx.AsyncClient]:
    """The app with the local signer it builds itself, as in production."""
    async with client_factory() as http:
        yield http


@pytest.fixture
def local_signer(backend: Backend) -> LocalSigner:
    """A signer holding the app's secret, to mint URLs the app never handed out."""
    settings = backend.settings
    return LocalSigner(
        secret=settings.signing_key, public_url=settings.public_url, root=settings.media_root
    )


async def recording_url(client: httpx.AsyncClient) -> str:
    body = await gql(client, document("specificResult"))
    url: str = body["data"]["userTestResult"]["recordings"]["download"]["mediaUrl"]
    return url


async def attached_urls(client: httpx.AsyncClient) -> dict[str, str]:
    """Seed 000's first result (pk 12345, every type SUCCESS): type -> signed URL."""
    body = await gql(client, document("GetAllResults"))
    first = body["data"]["userTest"]["results"]["edges"][0]["node"]
    assert first["pk"] == 12345
    [group] = first["recordings"]["download"]["attachedMedia"]
    return {media["type"]: media["url"] for media in group["media"]}


def storage_key(url: str) -> str:
    path = urlsplit(url).path
    assert path.startswith(ROUTE_PREFIX), url
    return unquote(path.removeprefix(ROUTE_PREFIX))


def file_behind(url: str, backend: Backend) -> bytes:
    return (backend.settings.media_root / storage_key(url)).read_bytes()


def query_of(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def media_type(response: httpx.Response) -> str:
    return response.headers["content-type"].split(";")[0].strip()


def signed_path(signer: LocalSigner, key: str, *, signed_at: int) -> str:
    """A URL for ``key`` signed with the app's secret, as a path the client sends verbatim.

    Dots are percent-encoded so that no client normalises ``..`` away before the app sees it.
    """
    [signed] = signer.sign([SignRequest(key, 900)], signed_at=signed_at, window=300)
    parts = urlsplit(signed.url)
    return parts.path.replace(".", "%2E") + "?" + parts.query


def assert_refused(response: httpx.Response, *statuses: int) -> None:
    assert response.status_code in statuses, (response.status_code, response.text)
    assert "Traceback" not in response.text
    assert 'File "' not in response.text


async def test_recording_url_serves_the_file_as_video_mp4(
    media_client: httpx.AsyncClient, backend: Backend
) -> None:
    url = await recording_url(media_client)
    expires = int(query_of(url)["expires"])
    now = int(time.time())

    response = await media_client.get(url)

    assert response.status_code == 200
    assert media_type(response) == "video/mp4"
    assert response.content == file_behind(url, backend)
    assert response.headers["content-length"] == str(len(response.content))
    assert response.headers["accept-ranges"] == "bytes"
    cache_control = response.headers["cache-control"]
    assert cache_control.startswith("private, max-age=")
    # Nobody may cache the bytes beyond the URL's own expiry.
    assert 0 < int(cache_control.rpartition("=")[2]) <= expires - now


@pytest.mark.parametrize("kind", ["SUBTITLES", "TRANSCRIPTION", "AUDIO_EXTRACTION"])
async def test_attached_media_url_serves_the_file_with_its_content_type(
    media_client: httpx.AsyncClient, backend: Backend, kind: str
) -> None:
    url = (await attached_urls(media_client))[kind]

    response = await media_client.get(url)

    assert response.status_code == 200
    assert media_type(response) == ATTACHED_TYPES[kind]
    assert response.content == file_behind(url, backend)


async def test_every_recording_url_serves_the_mime_type_graphql_reports(
    media_client: httpx.AsyncClient, backend: Backend
) -> None:
    body = await gql(media_client, FIRST_PAGE_RECORDINGS)
    recordings = [
        edge["node"]["recordings"]["download"]
        for edge in body["data"]["userTest"]["results"]["edges"]
    ]
    served = [r for r in recordings if r["mediaUrl"] is not None]
    # The first page holds video recordings, one audio-only (ogg) and one failed upload.
    assert {r["mimeType"] for r in served} == {"video/mp4", "audio/ogg"}
    assert len(served) == len(recordings) - 1
    for recording in served:
        response = await media_client.get(recording["mediaUrl"])
        assert response.status_code == 200
        assert media_type(response) == recording["mimeType"]
        assert response.content == file_behind(recording["mediaUrl"], backend)


async def test_media_range_answers_206_with_the_first_hundred_bytes(
    media_client: httpx.AsyncClient, backend: Backend
) -> None:
    url = await recording_url(media_client)
    data = file_behind(url, backend)

    response = await media_client.get(url, headers={"Range": "bytes=0-99"})

    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes 0-99/{len(data)}"
    assert response.headers["content-length"] == "100"
    assert response.content == data[:100]
    assert media_type(response) == "video/mp4"


async def test_media_suffix_range_answers_the_last_bytes(
    media_client: httpx.AsyncClient, backend: Backend
) -> None:
    url = await recording_url(media_client)
    data = file_behind(url, backend)
    size = len(data)

    response = await media_client.get(url, headers={"Range": "bytes=-100"})

    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes {size - 100}-{size - 1}/{size}"
    assert response.content == data[-100:]


async def test_media_several_ranges_answer_multipart_byteranges(
    media_client: httpx.AsyncClient, backend: Backend
) -> None:
    url = await recording_url(media_client)
    data = file_behind(url, backend)

    response = await media_client.get(url, headers={"Range": "bytes=0-9,200-209"})

    assert response.status_code == 206
    assert response.headers["content-type"].startswith("multipart/byteranges; boundary=")
    assert f"Content-Range: bytes 0-9/{len(data)}".encode() in response.content
    assert data[0:10] in response.content
    assert data[200:210] in response.content


async def test_media_unsatisfiable_range_answers_416(
    media_client: httpx.AsyncClient, backend: Backend
) -> None:
    url = await recording_url(media_client)
    size = len(file_behind(url, backend))

    response = await media_client.get(url, headers={"Range": f"bytes={size}-{size + 99}"})

    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{size}"
    assert_refused(response, 416)


async def test_media_head_answers_length_without_body(
    media_client: httpx.AsyncClient, backend: Backend
) -> None:
    url = await recording_url(media_client)
    data = file_behind(url, backend)

    response = await media_client.head(url)

    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(data))
    assert media_type(response) == "video/mp4"
    assert response.content == b""


async def test_media_if_range_with_current_etag_answers_the_range(
    media_client: httpx.AsyncClient, backend: Backend
) -> None:
    url = await recording_url(media_client)
    data = file_behind(url, backend)
    etag = (await media_client.head(url)).headers["etag"]

    response = await media_client.get(url, headers={"Range": "bytes=0-99", "If-Range": etag})

    assert response.status_code == 206
    assert response.headers["etag"] == etag
    assert response.content == data[:100]


async def test_media_if_range_with_stale_etag_answers_the_whole_file(
    media_client: httpx.AsyncClient, backend: Backend
) -> None:
    url = await recording_url(media_client)
    data = file_behind(url, backend)

    response = await media_client.get(
        url, headers={"Range": "bytes=0-99", "If-Range": '"not-the-current-etag"'}
    )

    assert response.status_code == 200
    assert response.content == data


async def test_media_if_none_match_with_current_etag_answers_304(
    media_client: httpx.AsyncClient,
) -> None:
    url = await recording_url(media_client)
    etag = (await media_client.head(url)).headers["etag"]

    response = await media_client.get(url, headers={"If-None-Match": f'"other", W/{etag}'})

    assert response.status_code == 304
    assert response.headers["etag"] == etag
    assert response.content == b""
    stale = await media_client.get(url, headers={"If-None-Match": '"other"'})
    assert stale.status_code == 200


async def test_media_served_from_urls_a_wrapped_signer_minted(
    client: httpx.AsyncClient, backend: Backend
) -> None:
    url = await recording_url(client)
    response = await client.get(url)
    assert response.status_code == 200
    assert response.content == file_behind(url, backend)


async def test_media_tampered_signature_is_forbidden(media_client: httpx.AsyncClient) -> None:
    url = await recording_url(media_client)
    signature = query_of(url)["signature"]
    forged = signature[:-1] + ("A" if signature[-1] != "A" else "B")

    response = await media_client.get(url.replace(signature, forged))

    assert_refused(response, 403)


async def test_media_other_key_with_the_same_signature_is_forbidden(
    media_client: httpx.AsyncClient,
) -> None:
    urls = await attached_urls(media_client)
    signed_for_subtitles = urlsplit(urls["SUBTITLES"])
    other_path = urlsplit(urls["SUMMARISATION"]).path

    response = await media_client.get(f"{other_path}?{signed_for_subtitles.query}")

    assert_refused(response, 403)


async def test_media_extended_expiry_with_the_same_signature_is_forbidden(
    media_client: httpx.AsyncClient,
) -> None:
    url = await recording_url(media_client)
    expires = query_of(url)["expires"]

    response = await media_client.get(url.replace(expires, str(int(expires) + 3600)))

    assert_refused(response, 403)


@pytest.mark.parametrize("drop", ["expires", "signature"])
async def test_media_url_without_its_signature_parameters_is_forbidden(
    media_client: httpx.AsyncClient, drop: str
) -> None:
    url = await recording_url(media_client)
    kept = {name: value for name, value in query_of(url).items() if name != drop}
    path = urlsplit(url).path

    response = await media_client.get(path, params=kept)

    assert_refused(response, 403)


async def test_media_url_signed_now_by_the_app_secret_is_served(
    media_client: httpx.AsyncClient, local_signer: LocalSigner
) -> None:
    """The control for the expired case below: same signer, only the time differs."""
    url = await recording_url(media_client)

    response = await media_client.get(
        signed_path(local_signer, storage_key(url), signed_at=int(time.time()))
    )

    assert response.status_code == 200


async def test_media_expired_url_is_forbidden(
    media_client: httpx.AsyncClient, local_signer: LocalSigner
) -> None:
    url = await recording_url(media_client)

    response = await media_client.get(
        signed_path(local_signer, storage_key(url), signed_at=LONG_AGO)
    )

    assert_refused(response, 403)


@pytest.mark.parametrize(
    "key",
    [
        "../demo_api_key",
        "demo/../../demo_api_key",
        "demo/recordings/../../../demo_api_key",
        "/etc/passwd",
        "..",
    ],
)
async def test_media_signed_key_leaving_the_media_root_is_not_served(
    media_client: httpx.AsyncClient, local_signer: LocalSigner, backend: Backend, key: str
) -> None:
    # The demo key file sits next to the media root: exactly what a traversal would be after.
    secret_file = backend.settings.var_dir / "demo_api_key"
    assert secret_file.is_file()
    assert not secret_file.resolve().is_relative_to(backend.settings.media_root)

    response = await media_client.get(signed_path(local_signer, key, signed_at=int(time.time())))

    assert_refused(response, 403, 404)
    assert backend.demo_key not in response.text


@pytest.mark.parametrize("key", ["demo/recordings/missing.mp4", "demo", "demo/recordings"])
async def test_media_signed_key_without_a_file_is_not_found(
    media_client: httpx.AsyncClient, local_signer: LocalSigner, key: str
) -> None:
    response = await media_client.get(signed_path(local_signer, key, signed_at=int(time.time())))

    assert_refused(response, 404)


# Hostile (expires, signature) pairs; None keeps the URL's own value. verify() must refuse them,
# never choke on them: "\u00b2" passes str.isdigit() but not int(), 5000 digits exceed int()'s
# limit, and hmac.compare_digest rejects non-ASCII str.
HOSTILE = {
    "non-ascii signature": (None, "\u00e9"),
    "superscript expiry": ("\u00b2", None),
    "oversized expiry": ("9" * 5000, None),
    "negative expiry": ("-5", None),
    "float expiry": ("1e12", None),
    "empty signature": (None, ""),
}


@pytest.mark.parametrize("case", HOSTILE)
async def test_media_malformed_signature_parameters_are_forbidden(
    media_client: httpx.AsyncClient, case: str
) -> None:
    url = await recording_url(media_client)
    expires, signature = HOSTILE[case]
    query = query_of(url)
    params = {
        "expires": query["expires"] if expires is None else expires,
        "signature": query["signature"] if signature is None else signature,
    }

    response = await media_client.get(urlsplit(url).path, params=params)

    assert_refused(response, 403)

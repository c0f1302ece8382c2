"""The app on the gcs backend: every URL it hands out verifies, stays stable in a window, and
carries the options it was asked for."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any

import pytest

from app.demo.queries import document
from app.media import gcs_v4
from app.media.backends import build_signer
from tests.conftest import Backend, ClientFactory, make_settings
from tests.support.graphql import gql, same_signing_window
from tests.support.recording_signer import RecordingSigner
from tests.test_gcs_signing import (
    ACCESS_ID,
    BUCKET,
    HMAC_KEYED,
    HMAC_SECRET,
    KEYED,
    query_of,
    verifies,
)

PAGE = (
    document("GetAllResults")
    .replace("first: 10", "first: 100")
    .replace("download {", "download {\n mediaUrl\n a: mediaUrl(disposition: ATTACHMENT)")
)


def urls_of(body: dict[str, Any]) -> list[str]:
    urls = []
    for edge in body["data"]["userTest"]["results"]["edges"]:
        download = edge["node"]["recordings"]["download"]
        if download is None:
            continue
        urls += [u for u in (download["mediaUrl"], download["a"]) if u]
        urls += [
            media["url"]
            for group in download["attachedMedia"]
            for media in group["media"]
            if media["url"]
        ]
    return urls


async def run_page(
    client_factory: ClientFactory, backend: Backend, tmp_path: Path, environ: dict[str, str]
) -> tuple[list[str], list[str], RecordingSigner]:
    settings = make_settings(tmp_path, backend.settings.database_url, **environ)
    signer = RecordingSigner(build_signer(settings))
    async with client_factory(settings=settings, signer=signer) as client:
        same_signing_window(client)  # a window ending between the two would sign all again
        first = urls_of(await gql(client, PAGE))
        signed = len(signer.signed)
        second = urls_of(await gql(client, PAGE))
        assert len(signer.signed) == signed  # the repeat signed nothing
    return first, second, signer


async def test_gcs_rsa_urls_verify_against_the_key_and_repeat_identically(
    client_factory: ClientFactory, backend: Backend, tmp_path: Path
) -> None:
    first, second, signer = await run_page(client_factory, backend, tmp_path, KEYED)
    assert first == second
    assert len(first) > 500
    assert len(signer.signed) == len(set(first))  # one signature per distinct URL
    for url in first:
        assert url.startswith(f"https://storage.googleapis.com/{BUCKET}/")
        assert query_of(url)["X-Goog-Algorithm"] == "GOOG4-RSA-SHA256"
        assert verifies(url), url
    attachments = [u for u in first if "response-content-disposition" in u]
    assert attachments
    assert all(
        query_of(u)["response-content-disposition"].startswith("attachment; filename=")
        for u in attachments
    )


async def test_gcs_hmac_urls_verify_with_the_secret(
    client_factory: ClientFactory, backend: Backend, tmp_path: Path
) -> None:
    first, second, _ = await run_page(client_factory, backend, tmp_path, HMAC_KEYED)
    assert first == second
    for url in first[:50]:
        query = query_of(url)
        assert query["X-Goog-Algorithm"] == "GOOG4-HMAC-SHA256"
        assert query["X-Goog-Credential"].startswith(f"{ACCESS_ID}/")
        rebuilt = gcs_v4.rebuild(url)
        date = query["X-Goog-Date"][:8]
        key = f"GOOG4{HMAC_SECRET}".encode()
        for part in (date, "auto", "storage", "goog4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        expected = hmac.new(key, rebuilt.string_to_sign, hashlib.sha256).digest()
        assert hmac.compare_digest(expected, rebuilt.signature)


async def test_gcs_app_serves_no_local_files(
    client_factory: ClientFactory, backend: Backend, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, backend.settings.database_url, **KEYED)
    async with client_factory(settings=settings) as client:
        local = await client.get("/media/local/demo/anything.mp4?expires=1&signature=x")
    assert local.status_code == 404


@pytest.mark.parametrize("missing", ["FOOTAGE_GCS_BUCKET"])
async def test_gcs_misconfiguration_stops_startup_with_one_line(
    client_factory: ClientFactory, backend: Backend, tmp_path: Path, missing: str
) -> None:
    environ = {k: v for k, v in KEYED.items() if k != missing}
    settings = make_settings(tmp_path, backend.settings.database_url, **environ)
    with pytest.raises(Exception, match=missing) as raised:
        async with client_factory(settings=settings):
            pass
    assert "\n" not in str(raised.value)


async def test_gcs_stable_link_redirects_to_storage(
    client_factory: ClientFactory, backend: Backend, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, backend.settings.database_url, **KEYED)
    async with client_factory(settings=settings) as client:
        body = await gql(
            client,
            '{ userTestResult(resultUuid: "ut_response_9568e478-f8fe-450d-81e6-741a279c6b5b")'
            " { recordings { download { id } } } }",
        )
        recording_id = body["data"]["userTestResult"]["recordings"]["download"]["id"]
        response = await client.get(f"/media/{recording_id}")
    assert response.status_code == 302
    assert verifies(response.headers["location"])


async def test_gcs_key_file_signs_in_worker_processes_the_same_urls(
    client_factory: ClientFactory, backend: Backend, tmp_path: Path
) -> None:
    """Without a signer passed in, the app builds its own; an RSA key file signs in processes
    (app.media.sign_pool), split across them, and the URLs are those a thread would make."""
    settings = make_settings(tmp_path, backend.settings.database_url, **KEYED)
    async with client_factory(settings=settings) as client:
        in_processes = urls_of(await gql(client, PAGE))
    threaded = RecordingSigner(build_signer(settings))
    async with client_factory(settings=settings, signer=threaded) as client:
        in_threads = urls_of(await gql(client, PAGE))
    assert in_processes == in_threads
    assert len(in_processes) > 500
    assert all(verifies(url) for url in in_processes[:20])

"""Seed 000's three queries, sent verbatim, answer in the documented shapes."""

from __future__ import annotations

import httpx

from app.demo.queries import document
from tests.support.graphql import gql

RESULT_FIELDS = {"name", "responseUUID", "status", "recordings", "participant"}
RECORDING_FIELDS = {
    "isAudio",
    "mediaUrl",
    "filesize",
    "duration",
    "failedStatus",
    "failedType",
    "mimeType",
    "missingDataWarning",
    "usertestName",
    "startTime",
    "createdAt",
    "transcription",
}
# Seed 000's example response for the first three results of GetAllResults.
SEED_EXAMPLE = {
    12345: ["SUCCESS", "SUCCESS", "SUCCESS", "SUCCESS", "SUCCESS"],
    12346: ["SUCCESS", "SUCCESS", "SUCCESS", "PENDING", "PENDING"],
    12347: ["FAILED", "FAILED", "SUCCESS", "SUCCESS", "NOT_REQUIRED"],
}
TYPES = ["SUBTITLES", "TRANSCRIPTION", "AUDIO_EXTRACTION", "WAVEFORM", "SUMMARISATION"]


def assert_result_shape(result: dict[str, object]) -> None:
    assert set(result) == RESULT_FIELDS
    recording = result["recordings"]["download"]  # type: ignore[index]
    assert set(recording) == RECORDING_FIELDS
    assert set(result["participant"]) == {"anonymousId", "email", "name"}  # type: ignore[arg-type]


async def test_specific_result_answers_with_recording_and_transcription(
    client: httpx.AsyncClient,
) -> None:
    body = await gql(client, document("specificResult"))
    result = body["data"]["userTestResult"]
    assert_result_shape(result)
    assert result["responseUUID"] == "ut_response_9568e478-f8fe-450d-81e6-741a279c6b5b"
    assert result["status"] == "COMPLETED"
    recording = result["recordings"]["download"]
    assert recording["isAudio"] is False
    assert recording["mimeType"] == "video/mp4"
    assert recording["mediaUrl"].startswith("http://testserver/media/local/")
    assert recording["filesize"] > 0
    assert recording["usertestName"] == "Checkout flow usability study"
    words = recording["transcription"]["segments"][0]["words"]
    assert {"text", "start", "end", "confidence"} <= set(words[0])


async def test_list_results_answers_first_four_with_fragments(client: httpx.AsyncClient) -> None:
    body = await gql(client, document("listResults"))
    user_test = body["data"]["userTest"]
    assert isinstance(user_test["id"], str)
    edges = user_test["results"]["edges"]
    assert len(edges) == 4
    for edge in edges:
        assert_result_shape(edge["node"])


async def test_get_all_results_matches_the_seed_example_response(
    client: httpx.AsyncClient,
) -> None:
    body = await gql(client, document("GetAllResults"))
    edges = body["data"]["userTest"]["results"]["edges"]
    assert len(edges) == 10
    assert [edge["node"]["pk"] for edge in edges[:3]] == [12345, 12346, 12347]
    for edge in edges[:3]:
        node = edge["node"]
        [group] = node["recordings"]["download"]["attachedMedia"]
        assert group["language"] == "en"
        assert [m["type"] for m in group["media"]] == TYPES
        assert [m["status"] for m in group["media"]] == SEED_EXAMPLE[node["pk"]]
        for media in group["media"]:
            assert (media["url"] is not None) == (media["status"] == "SUCCESS")
    bilingual = edges[3]["node"]["recordings"]["download"]["attachedMedia"]
    assert [group["language"] for group in bilingual] == ["en", "es"]

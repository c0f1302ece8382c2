"""Property-based fuzzing of the mutations, on SQLite and PostgreSQL: generated mutation
documents, and hostile variables in real mutations aimed at real rows. Whatever arrives, the
answer is coded (BAD_USER_INPUT, NOT_FOUND, ...), never INTERNAL or a 500.

Each example runs in a savepoint that is rolled back (``send``); the app's media root is an
empty temporary directory, so a storage deletion an example triggers removes nothing real.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis_graphql import mutations
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.demo.seed import RESULT_UUID, TEST_UUID
from app.ids import to_global_id
from app.store import models
from tests.conftest import Backend, ClientFactory
from tests.test_fuzz import FUZZ, SCHEMA_SDL, answered_as_designed, send


@pytest.fixture
async def mutation_client(
    client_factory: ClientFactory, backend: Backend, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    settings = dataclasses.replace(
        backend.settings, rate_limit_per_minute=0, media_root=tmp_path / "media"
    )
    async with client_factory(settings=settings) as http:
        yield http


@pytest.fixture
async def demo_recording_id(connection: AsyncConnection) -> str:
    recording = models.Recording
    result = models.UserTestResult
    uuid = (
        await connection.execute(
            select(recording.uuid)
            .join(result, result.id == recording.result_id)
            .where(result.uuid == RESULT_UUID)
        )
    ).scalar_one()
    return to_global_id("TestSessionRecording", uuid)


@FUZZ
@given(document=mutations(SCHEMA_SDL))
async def test_fuzz_generated_mutations_are_answered_without_internal_errors(
    mutation_client: httpx.AsyncClient, connection: AsyncConnection, document: str
) -> None:
    answered_as_designed(await send(mutation_client, connection, {"query": document}))


TEXT = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=0, max_size=5),
    st.sampled_from(["", " ", "\x00", "a\x00b", "../../etc/passwd", "/abs", "a//b", "é" * 600]),
    st.text(min_size=1000, max_size=1100),
    # Lone surrogates: JSON can spell them ("\ud800"), no database can store them.
    st.text(
        alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, categories=["Cs"]),
        min_size=1,
        max_size=2,
    ),
)
NUMBERS = st.one_of(st.integers(-(2**60), 2**60), st.floats(allow_nan=False, allow_infinity=False))
ANY = st.one_of(st.none(), st.booleans(), TEXT, NUMBERS)


def sometimes(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(valid, valid, ANY)


def caller() -> st.SearchStrategy[Any]:
    return sometimes(
        st.fixed_dictionaries(
            {}, optional={"type": st.sampled_from(["USER", "ORGANIZATION"]), "userId": TEXT}
        )
    )


OPERATIONS: dict[str, tuple[str, str]] = {
    "createUserTestResult": ("CreateUserTestResultInput", "userTestResult { pk }"),
    "registerRecording": ("RegisterRecordingInput", "recording { status }"),
    "reportAttachedMedia": ("ReportAttachedMediaInput", "applied"),
    "startRecording": ("StartRecordingInput", "recording { status }"),
    "stopRecording": ("StopRecordingInput", "recording { status }"),
    "completeRecordingUpload": ("CompleteRecordingUploadInput", "recording { status }"),
    "failRecording": ("FailRecordingInput", "recording { status }"),
    "rejectUserTestResult": ("UserTestResultInput", "applied"),
}


def inputs(name: str, recording_id: str) -> st.SearchStrategy[dict[str, Any]]:
    common = {"idempotencyKey": sometimes(TEXT), "clientMutationId": sometimes(TEXT)}
    by_name: dict[str, dict[str, st.SearchStrategy[Any]]] = {
        "createUserTestResult": {
            "testUuid": sometimes(st.just(TEST_UUID)),
            "name": TEXT,
            "participant": sometimes(
                st.fixed_dictionaries({}, optional={"anonymousId": TEXT, "email": TEXT})
            ),
            "status": sometimes(st.sampled_from(["IN_PROGRESS", "REJECTED"])),
        },
        "registerRecording": {
            "resultUuid": sometimes(st.just(RESULT_UUID)),
            "kind": sometimes(st.sampled_from(["DOWNLOAD", "SCREEN", "CAMERA", "AUDIO"])),
            "mimeType": sometimes(st.sampled_from(["video/mp4", "audio/ogg", "x/y"])),
            "storageKey": sometimes(TEXT),
            "filesize": NUMBERS,
            "duration": NUMBERS,
            "language": sometimes(st.sampled_from(["en", "pt-BR"])),
            "uploaded": st.booleans(),
            "caller": caller(),
        },
        "reportAttachedMedia": {
            "recordingId": sometimes(st.just(recording_id)),
            "language": sometimes(st.sampled_from(["en", "es", "zz-ZZZZZZZZZ"])),
            "type": sometimes(st.sampled_from(["SUBTITLES", "WAVEFORM"])),
            "status": sometimes(st.sampled_from(["PENDING", "SUCCESS", "FAILED"])),
            "storageKey": sometimes(TEXT),
            "mimeType": sometimes(TEXT),
            "error": sometimes(TEXT),
        },
        "startRecording": {"recordingId": sometimes(st.just(recording_id)), "caller": caller()},
        "stopRecording": {"recordingId": sometimes(st.just(recording_id)), "note": TEXT},
        "completeRecordingUpload": {
            "recordingId": sometimes(st.just(recording_id)),
            "storageKey": sometimes(TEXT),
            "filesize": NUMBERS,
        },
        "failRecording": {
            "recordingId": sometimes(st.just(recording_id)),
            "failureType": sometimes(st.sampled_from(["NO_MEDIA"])),
            "error": TEXT,
        },
        "rejectUserTestResult": {"resultUuid": sometimes(st.just(RESULT_UUID))},
    }
    fields = by_name[name]
    return st.fixed_dictionaries({}, optional={**fields, **common})


@FUZZ
@given(name=st.sampled_from(sorted(OPERATIONS)), data=st.data())
async def test_fuzz_hostile_inputs_to_real_rows_are_answered_without_internal_errors(
    mutation_client: httpx.AsyncClient,
    connection: AsyncConnection,
    demo_recording_id: str,
    name: str,
    data: st.DataObject,
) -> None:
    input_type, selection = OPERATIONS[name]
    document = f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ {selection} }} }}"
    values = data.draw(inputs(name, demo_recording_id))
    answered_as_designed(
        await send(mutation_client, connection, {"query": document, "variables": {"input": values}})
    )

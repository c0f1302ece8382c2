"""The recording lifecycle (seed 004) as an enforced state machine: every legal transition
works and records who and why, every illegal one is BAD_USER_INPUT naming the current status,
and concurrent transitions from one state let exactly one through."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from app.main import create_app
from tests.conftest import FreshDatabase, running
from tests.support.graphql import error_codes, gql
from tests.support.writes import (
    DELETE_RECORDING,
    FEED,
    create_result,
    create_test,
    register,
    session,
    transition,
)

# The legal moves: (transition, from) -> to.
LEGAL = {
    ("start", "INVOKED"): "RECORDING",
    ("pause", "RECORDING"): "PAUSED",
    ("resume", "PAUSED"): "RECORDING",
    ("stop", "RECORDING"): "UPLOADING",
    ("stop", "PAUSED"): "UPLOADING",
    ("complete", "UPLOADING"): "UPLOADED",
    **{
        ("fail", status): "ERRORED"
        for status in ("INVOKED", "RECORDING", "PAUSED", "UPLOADING", "UPLOADED")
    },
}
STATUSES = ("INVOKED", "RECORDING", "PAUSED", "UPLOADING", "UPLOADED", "ERRORED")
# How to reach each status from INVOKED.
PATHS = {
    "INVOKED": [],
    "RECORDING": ["start"],
    "PAUSED": ["start", "pause"],
    "UPLOADING": ["start", "stop"],
    "UPLOADED": ["start", "stop", "complete"],
    "ERRORED": ["fail"],
}


def recording_of(body: dict[str, Any]) -> dict[str, Any]:
    payload = next(iter(body["data"].values()))
    recording: dict[str, Any] = payload["recording"]
    return recording


async def recording_in(client: httpx.AsyncClient, result_uuid: str, status: str, kind: str) -> str:
    recording = await register(client, result_uuid, kind=kind, storageKey=f"demo/k/{kind}.bin")
    for step in PATHS[status]:
        await transition(client, step, recording["id"])
    return str(recording["id"])


async def test_full_lifecycle_records_timestamps_reasons_and_callers(
    client: httpx.AsyncClient,
) -> None:
    _test, _result, recording_id = await session(client, storageKey="demo/rec/full.mp4")
    ada = {"type": "USER", "userId": "u-1", "name": "Ada"}
    started = recording_of(
        await transition(client, "start", recording_id, reason="RECORD_ON_START", caller=ada)
    )
    assert started["status"] == "RECORDING"
    assert started["startReason"] == {"reason": "RECORD_ON_START", "caller": ada}
    assert started["startedAt"] is not None
    assert started["startTime"] == started["startedAt"]  # seed 000's field, kept in step
    paused = recording_of(
        await transition(client, "pause", recording_id, note="participant asked for a break")
    )
    assert (paused["status"], paused["statusNote"]) == ("PAUSED", "participant asked for a break")
    assert paused["statusChangedBy"] == {"type": "ORGANIZATION", "userId": None, "name": None}
    resumed = recording_of(await transition(client, "resume", recording_id, caller=ada))
    assert resumed["status"] == "RECORDING"
    assert resumed["resumedAt"] >= resumed["pausedAt"]
    assert resumed["statusChangedBy"] == ada
    stopped = recording_of(await transition(client, "stop", recording_id, reason="ALL_PEERS_LEFT"))
    assert stopped["status"] == "UPLOADING"
    assert stopped["stopReason"] == {
        "reason": "ALL_PEERS_LEFT",
        "caller": {"type": "ORGANIZATION", "userId": None, "name": None},
    }
    uploaded = recording_of(
        await transition(client, "complete", recording_id, filesize=2048, duration=61.5)
    )
    assert (uploaded["status"], uploaded["filesize"], uploaded["duration"]) == (
        "UPLOADED",
        2048,
        61.5,
    )
    assert uploaded["startReason"]["reason"] == "RECORD_ON_START"  # kept
    stamps = [uploaded[k] for k in ("startedAt", "stoppedAt", "uploadedAt")]
    assert stamps == sorted(stamps)


async def test_every_illegal_transition_is_bad_user_input_naming_the_current_status(
    client: httpx.AsyncClient,
) -> None:
    test_uuid = await create_test(client)
    checked = 0
    for status in STATUSES:
        # One result per status, one recording per kind is enough for the six transitions.
        result = await create_result(client, test_uuid, f"In {status}")
        for name in ("start", "pause", "resume", "stop", "complete", "fail"):
            if (name, status) in LEGAL:
                continue
            kind = "CAMERA"
            recording_id = await recording_in(client, result["responseUUID"], status, kind)
            body = await transition(client, name, recording_id, expect_errors=True)
            assert error_codes(body) == ["BAD_USER_INPUT"], (name, status, body)
            error = body["errors"][0]
            assert error["extensions"]["currentStatus"] == status
            assert status in error["message"]
            # Nothing moved.
            again = await transition(client, name, recording_id, expect_errors=True)
            assert again["errors"][0]["extensions"]["currentStatus"] == status
            await delete_recording(client, recording_id)
            checked += 1
    assert checked == len(STATUSES) * 6 - len(LEGAL)


async def delete_recording(client: httpx.AsyncClient, recording_id: str) -> None:
    await gql(client, DELETE_RECORDING, {"input": {"recordingId": recording_id}})


@pytest.mark.parametrize(("name", "status"), sorted(LEGAL))
async def test_every_legal_transition_moves_to_its_status(
    client: httpx.AsyncClient, name: str, status: str
) -> None:
    test_uuid = await create_test(client)
    result = await create_result(client, test_uuid)
    recording_id = await recording_in(client, result["responseUUID"], status, "DOWNLOAD")
    moved = recording_of(await transition(client, name, recording_id))
    assert moved["status"] == LEGAL[(name, status)]
    assert moved["statusChangedAt"] is not None


async def test_complete_upload_needs_a_storage_object(client: httpx.AsyncClient) -> None:
    _test, _result, recording_id = await session(client)
    await transition(client, "start", recording_id)
    await transition(client, "stop", recording_id)
    body = await transition(client, "complete", recording_id, expect_errors=True)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["argument"] == "storageKey"
    done = recording_of(
        await transition(client, "complete", recording_id, storageKey="demo/late/key.mp4")
    )
    assert done["status"] == "UPLOADED"


async def test_fail_records_type_and_error_and_is_final(client: httpx.AsyncClient) -> None:
    _test, _result, recording_id = await session(client)
    failed = recording_of(
        await transition(
            client,
            "fail",
            recording_id,
            failureType="PERMISSION_DENIED",
            error="Screen sharing was refused.",
            caller={"type": "USER", "userId": "u-9"},
        )
    )
    assert failed["status"] == "ERRORED"
    assert (failed["failedStatus"], failed["failedType"], failed["error"]) == (
        True,
        "PERMISSION_DENIED",
        "Screen sharing was refused.",
    )
    assert failed["erroredAt"] is not None
    assert failed["statusChangedBy"] == {"type": "USER", "userId": "u-9", "name": None}
    again = await transition(client, "fail", recording_id, expect_errors=True)
    assert again["errors"][0]["extensions"]["currentStatus"] == "ERRORED"


async def test_concurrent_transitions_from_one_state_let_exactly_one_through(
    fresh_database: FreshDatabase,
) -> None:
    """Eight pauses of one RECORDING recording at once, each its own request and committed
    transaction: one wins, seven are told it is PAUSED now, and the feed has one entry."""
    app = create_app(fresh_database.settings, engine=fresh_database.engine)
    async with running(app) as client:
        client.headers["Authorization"] = f"Bearer {fresh_database.key}"
        test_uuid, _result, recording_id = await session(client)
        await transition(client, "start", recording_id)
        bodies = await asyncio.gather(
            *(transition(client, "pause", recording_id, expect_errors=True) for _ in range(8))
        )
        winners = [b for b in bodies if "errors" not in b]
        losers = [b for b in bodies if "errors" in b]
        assert len(winners) == 1
        assert recording_of(winners[0])["status"] == "PAUSED"
        assert {error_codes(b)[0] for b in losers} == {"BAD_USER_INPUT"}
        assert {b["errors"][0]["extensions"]["currentStatus"] for b in losers} == {"PAUSED"}
        feed = await gql(client, FEED, {"test": test_uuid, "first": 100})
        kinds = [
            (e["node"]["objectType"], e["node"]["objectChange"])
            for e in feed["data"]["testResultChanges"]["edges"]
        ]
        # created result, registered recording, started, paused once
        assert kinds == [
            ("USER_TEST_RESULT", "CREATED"),
            ("TEST_SESSION_RECORDING", "CREATED"),
            ("TEST_SESSION_RECORDING", "UPDATED"),
            ("TEST_SESSION_RECORDING", "UPDATED"),
        ]

"""What every mutation shares: the `write` scope, input checks, idempotency keys, the
after-commit effects (publishing the changes, removing storage objects of deleted rows), and
the objects its payload shows, which are reads: they need `results:read`."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
import strawberry

from app.auth import RESULTS_READ, WRITE
from app.context import Context
from app.errors import BadUserInput
from app.events import TOPIC_RESULT, TOPIC_TEST, Change
from app.ids import from_global_id, to_global_id
from app.store.idempotency import IdempotencyRequest
from app.store.records import WriteOutcome, WrittenChange
from app.store.writes import Work
from resolvers.attached_media import AttachedMedia
from resolvers.recording import TestSessionRecording
from resolvers.user_test import UserTest
from resolvers.user_test_result import UserTestResult

log = logging.getLogger("footage.mutations")

MAX_KEY = 200
# C0 and C1 controls and DEL; tab and newlines are allowed only where text is free-form.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LINE_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")

IDEMPOTENCY_KEY_DESCRIPTION = (
    "Makes retries safe: a repeat with the same key and input answers with the first request's "
    "payload (`replayed: true`) and writes nothing; the same key with another input is an "
    "IDEMPOTENCY_KEY_REUSED error. Keys are per workspace, 1 to 200 characters, kept at least "
    "`FOOTAGE_IDEMPOTENCY_KEY_HOURS` (24) hours. A request that failed did not use its key up."
)
CLIENT_MUTATION_ID_DESCRIPTION = "Echoed in the payload as sent (Relay)."
REPLAYED_DESCRIPTION = (
    "True when this answer replays an earlier request with the same idempotency key: nothing "
    "was written this time, and the objects are shown as they are now."
)
# Appended to the description of every payload field that returns an object.
SHOWN_DESCRIPTION = " Scope `results:read` (without it: null, with FORBIDDEN)."


def write_context(info: strawberry.Info[Context, None]) -> Context:
    """The request's context, once the key is known to hold the `write` scope."""
    info.context.require(WRITE)
    return info.context


def read_context(info: strawberry.Info[Context, None]) -> Context:
    """The request's context, once the key is known to hold `results:read`. What a payload
    shows beyond its own ids and flags is read like the root fields read it: `write` alone
    must not read a workspace's results through the objects a mutation returns."""
    info.context.require(RESULTS_READ)
    return info.context


# Payloads keep the uuids of the objects they show; an object is read (and the scope checked)
# only when its field is selected.
class ShowsUserTest(Protocol):
    @property
    def user_test_uuid(self) -> str | None: ...


class ShowsResult(Protocol):
    @property
    def result_uuid(self) -> str | None: ...


class ShowsRecording(Protocol):
    @property
    def recording_uuid(self) -> str | None: ...


class ShowsAttachedMedia(Protocol):
    @property
    def attached_media_uuid(self) -> str | None: ...


async def shown_user_test(
    root: ShowsUserTest, info: strawberry.Info[Context, None]
) -> UserTest | None:
    context, uuid = read_context(info), root.user_test_uuid
    record = None if uuid is None else await context.loaders.user_test_by_uuid.load(uuid)
    return None if record is None else UserTest.from_record(record)


async def shown_result(
    root: ShowsResult, info: strawberry.Info[Context, None]
) -> UserTestResult | None:
    context, uuid = read_context(info), root.result_uuid
    record = None if uuid is None else await context.loaders.result_by_uuid.load(uuid)
    return None if record is None else UserTestResult.from_record(record)


async def shown_recording(
    root: ShowsRecording, info: strawberry.Info[Context, None]
) -> TestSessionRecording | None:
    context, uuid = read_context(info), root.recording_uuid
    record = None if uuid is None else await context.loaders.recording_by_uuid.load(uuid)
    return None if record is None else TestSessionRecording.from_record(record)


async def shown_attached_media(
    root: ShowsAttachedMedia, info: strawberry.Info[Context, None]
) -> AttachedMedia | None:
    context, uuid = read_context(info), root.attached_media_uuid
    record = None if uuid is None else await context.loaders.attached_media_by_uuid.load(uuid)
    return None if record is None else AttachedMedia.from_record(record)


def text(
    value: str, argument: str, *, max_length: int, multiline: bool = False, min_length: int = 1
) -> str:
    """``value`` when it is ``min_length`` to ``max_length`` characters without control
    characters (NUL included; tabs and newlines too unless ``multiline``)."""
    if not min_length <= len(value) <= max_length:
        raise BadUserInput(
            f"`{argument}` must be {min_length} to {max_length} characters.", argument=argument
        )
    if (_CONTROL if multiline else _LINE_CONTROL).search(value):
        raise BadUserInput(f"`{argument}` must not contain control characters.", argument=argument)
    if _SURROGATE.search(value):  # JSON lets "\ud800" through; no database stores it
        raise BadUserInput(f"`{argument}` is not valid Unicode.", argument=argument)
    if not multiline and value.strip() != value:
        raise BadUserInput(
            f"`{argument}` must not start or end with whitespace.", argument=argument
        )
    return value


def optional_text(
    value: str | None, argument: str, *, max_length: int, multiline: bool = False
) -> str | None:
    return (
        None if value is None else text(value, argument, max_length=max_length, multiline=multiline)
    )


def global_id(value: strawberry.ID, argument: str, *, type_name: str) -> str:
    """The uuid inside a global id of ``type_name``; BAD_USER_INPUT for a malformed id or one
    of another type."""
    if len(value) > 400:
        raise BadUserInput(f"`{argument}` is not an id.", argument=argument)
    try:
        found, key = from_global_id(str(value))
    except BadUserInput:
        raise BadUserInput(f"`{argument}` is not an id.", argument=argument) from None
    if found != type_name:
        raise BadUserInput(f"`{argument}` must be a {type_name} id.", argument=argument)
    return text(key, argument, max_length=80)


def global_id_of(type_name: str, uuid: str | None) -> strawberry.ID | None:
    """The global id of a payload's object, for keys without a read scope (ids only)."""
    return None if uuid is None else strawberry.ID(to_global_id(type_name, uuid))


def idempotency(
    key: str | None, mutation: str, values: Mapping[str, Any]
) -> IdempotencyRequest | None:
    """The claim for ``key``, fingerprinting ``values`` (the checked input, without the key
    and clientMutationId) with the mutation's name."""
    if key is None:
        return None
    checked = text(key, "idempotencyKey", max_length=MAX_KEY)
    canonical = orjson.dumps(dict(values), option=orjson.OPT_SORT_KEYS)
    return IdempotencyRequest(
        key=checked, mutation=mutation, fingerprint=hashlib.sha256(canonical).hexdigest()
    )


def caller_json(context: Context, caller: Mapping[str, Any] | None) -> dict[str, Any]:
    """Who made a change, as recorded: the caller the client declared, and the API key."""
    declared = dict(caller or {"type": "ORGANIZATION", "userId": None, "name": None})
    return {**declared, "apiKeyId": context.viewer.api_key_id}


async def perform(
    context: Context,
    *,
    mutation: str,
    key: str | None,
    values: Mapping[str, Any],
    work: Work,
) -> WriteOutcome:
    """One mutation: its transaction (or the replay of an earlier one), then, after the commit,
    its changes published and its storage deletions attempted. Neither can fail the mutation."""
    outcome = await context.store.write(
        workspace_id=context.viewer.workspace_id,
        now=datetime.now(UTC),
        storage=context.storage.backend,
        idempotency=idempotency(key, mutation, values),
        work=work,
    )
    # What the loaders read before the write may be stale now (another mutation of the same
    # document); the payload reads afresh.
    context.forget_loaded()
    if outcome.replayed:
        return outcome
    if outcome.changes:
        changes = [
            change
            for written in outcome.changes
            for change in events(context.viewer.workspace_id, written)
        ]
        try:
            await context.broker.publish(changes)
        except Exception:
            log.exception("publishing %d changes failed (the change feed has them)", len(changes))
    await context.storage.delete_now(outcome.deletions)
    return outcome


def events(workspace_id: int, written: WrittenChange) -> list[Change]:
    """A result's own changes go to its test's subscribers and its own. A recording's or media
    item's go to the result's subscribers as they are, and to the test's as an UPDATED of the
    result, which is how the change feed counts them too."""
    entry = written.change

    def on(topic: str, key: str) -> Change:
        return Change(
            workspace_id=workspace_id,
            topic=topic,
            key=key,
            kind=entry.kind,
            object_type=entry.object_type,
            object_uuid=entry.object_uuid,
            feed_id=entry.id,
        )

    result_topic = on(TOPIC_RESULT, entry.result_uuid)
    if entry.object_type == "UserTestResult":
        return [on(TOPIC_TEST, written.user_test_uuid), result_topic]
    result_updated = Change(
        workspace_id=workspace_id,
        topic=TOPIC_TEST,
        key=written.user_test_uuid,
        kind="UPDATED",
        object_type="UserTestResult",
        object_uuid=entry.result_uuid,
        feed_id=entry.id,
    )
    return [result_updated, result_topic]


@strawberry.input(description="What every mutation input carries.")
class MutationInput:
    idempotency_key: str | None = strawberry.field(
        default=None, description=IDEMPOTENCY_KEY_DESCRIPTION
    )
    client_mutation_id: str | None = strawberry.field(
        default=None, description=CLIENT_MUTATION_ID_DESCRIPTION
    )

    def client_id(self) -> str | None:
        return optional_text(self.client_mutation_id, "clientMutationId", max_length=MAX_KEY)

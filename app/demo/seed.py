"""Deterministic demo data: seed 000's user test with 120 results, real media files behind them.

The first page (pk 12345, 12346, 12347) carries exactly the media statuses of seed 000's example
response; pk 12348 has media in English and Spanish; every seventh result is audio-only (ogg);
pk 12350 is a failed upload (its recording ERRORED, the others UPLOADED); the last three
sessions are still in progress. The change feed holds each result's CREATED entry, as if the API
had made them. Loading is idempotent: the rows are written once, the files (re)written whenever
missing.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from app.auth import SCOPES, hash_api_key, new_api_key, scope_string
from app.settings import write_private_once
from app.store.facade import Admin, Engine, admin_transaction

ASSETS = Path(__file__).with_name("assets")
TEST_UUID = "ut_645c4faa-5c2d-49b1-85fa-823ffbbbfa17"
RESULT_UUID = "ut_response_9568e478-f8fe-450d-81e6-741a279c6b5b"
FIRST_PK = 12345
RESULT_COUNT = 120
WORKSPACE_SLUG = "demo"
EPOCH = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

TYPES = ("SUBTITLES", "TRANSCRIPTION", "AUDIO_EXTRACTION", "WAVEFORM", "SUMMARISATION")
ALL_SUCCESS = dict.fromkeys(TYPES, "SUCCESS")
# Seed 000's example response, verbatim, for the first three results.
SEED_STATUSES = [
    ALL_SUCCESS,
    {**ALL_SUCCESS, "WAVEFORM": "PENDING", "SUMMARISATION": "PENDING"},
    {
        **ALL_SUCCESS,
        "SUBTITLES": "FAILED",
        "TRANSCRIPTION": "FAILED",
        "SUMMARISATION": "NOT_REQUIRED",
    },
]
_EXTENSIONS = {
    "SUBTITLES": ("vtt", "text/vtt"),
    "TRANSCRIPTION": ("json", "application/json"),
    "AUDIO_EXTRACTION": ("mp3", "audio/mpeg"),
    "WAVEFORM": ("json", "application/json"),
    "SUMMARISATION": ("json", "application/json"),
}
_FIRST = ["Ava", "Ben", "Chloé", "Dev", "Elif", "Femi", "Greta", "Hiro", "Iris", "Jonas", "Kiri"]
_LAST = ["Okafor", "Lindqvist", "Moreau", "Patel", "Yılmaz", "Adeyemi", "Novak", "Sato", "Byrne"]
_LINES = {
    "en": [
        "I'm looking for the checkout button",
        "Okay the delivery options are clear",
        "I wasn't sure the discount code applied",
        "Paying with a card was quick",
    ],
    "es": [
        "Estoy buscando el botón de pago",
        "Las opciones de entrega son claras",
        "No sabía si el código de descuento se aplicó",
        "Pagar con tarjeta fue rápido",
    ],
}


@dataclass
class DemoRows:
    participants: list[dict[str, Any]] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    # Recordings and their media, tied to results by list position until ids exist.
    recordings: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    media: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    transcriptions: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    files: dict[str, bytes | Path] = field(default_factory=dict)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def transcript(language: str, duration: float, seed: int) -> dict[str, Any]:
    """A word-level transcript: segments of words with start/end seconds and confidence."""
    lines = _LINES[language]
    segments = []
    span = duration / 2
    for index in range(2):
        text = lines[(seed + index) % len(lines)]
        words = text.split()
        start = index * span
        step = span / len(words)
        segments.append(
            {
                "id": index,
                "speaker": "participant",
                "start": round(start, 3),
                "end": round(start + span, 3),
                "text": text,
                "words": [
                    {
                        "text": word,
                        "start": round(start + i * step, 3),
                        "end": round(start + (i + 1) * step, 3),
                        "confidence": round(0.86 + ((seed + i) % 13) / 100, 2),
                    }
                    for i, word in enumerate(words)
                ],
            }
        )
    return {"version": 1, "language": language, "duration": duration, "segments": segments}


def vtt(document: dict[str, Any]) -> bytes:
    def stamp(seconds: float) -> str:
        whole = int(seconds)
        millis = round((seconds - whole) * 1000)
        return f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}.{millis:03d}"

    cues = [
        f"{s['id'] + 1}\n{stamp(s['start'])} --> {stamp(s['end'])}\n{s['text']}\n"
        for s in document["segments"]
    ]
    return ("WEBVTT\n\n" + "\n".join(cues)).encode()


def waveform(seed: int, points: int = 120) -> dict[str, Any]:
    rng = random.Random(seed)
    peaks: list[int] = []
    for _ in range(points):
        high = rng.randint(20, 120)
        peaks.extend((-high, high))
    return {
        "version": 2,
        "channels": 1,
        "sample_rate": 44100,
        "samples_per_pixel": 1102,
        "bits": 8,
        "length": points,
        "data": peaks,
    }


def summary(language: str, name: str) -> dict[str, Any]:
    return {
        "version": 1,
        "language": language,
        "summary": f"{name} completed the checkout task, hesitating over the discount code.",
        "highlights": [
            {"start": 0.4, "end": 1.3, "text": "Searched for the checkout button."},
            {"start": 1.6, "end": 2.6, "text": "Unsure whether the discount applied."},
        ],
        "sentiment": "mostly positive",
    }


def build_rows(now: datetime) -> DemoRows:
    rng = random.Random(645)
    rows = DemoRows()
    for index in range(RESULT_COUNT):
        pk = FIRST_PK + index
        created = EPOCH + timedelta(minutes=37 * index)
        first, last = _FIRST[index % len(_FIRST)], _LAST[index % len(_LAST)]
        participant_name = f"{first} {last}"
        email_name = first.lower().replace("é", "e")
        rows.participants.append(
            {
                "anonymous_id": f"anon-{_uuid(rng)[:13]}",
                "email": None if index % 5 == 4 else f"{email_name}.{index}@example.com",
                "name": None if index % 5 == 4 else participant_name,
                "created_at": created,
            }
        )
        in_progress = index >= RESULT_COUNT - 3
        rows.results.append(
            {
                "id": pk,
                "uuid": RESULT_UUID if index == 0 else f"ut_response_{_uuid(rng)}",
                "name": f"Session {index + 1}: {participant_name}",
                "status": "IN_PROGRESS"
                if in_progress
                else "ABANDONED"
                if index % 11 == 10
                else "COMPLETED",
                "created_at": created,
            }
        )
        if in_progress:
            continue
        audio_only = index % 7 == 6
        failed = pk == 12350
        no_audio = index % 13 == 12 and not audio_only
        rec_uuid = _uuid(rng)
        base = f"demo/recordings/{rec_uuid}"
        asset = "recording.ogg" if audio_only else "recording.mp4"
        duration = 3.0
        rows.recordings.append(
            (
                index,
                {
                    "uuid": rec_uuid,
                    "kind": "download",
                    "storage_key": None if failed else f"{base}/{asset}",
                    "mime_type": "audio/ogg" if audio_only else "video/mp4",
                    "is_audio": audio_only,
                    "filesize": None if failed else (ASSETS / asset).stat().st_size,
                    "duration": None if failed else duration,
                    "language": "en",
                    "failed": failed,
                    "failed_type": "UPLOAD_FAILED" if failed else None,
                    "missing_data_warning": failed or index % 17 == 16,
                    "start_time": created + timedelta(seconds=12),
                    "created_at": created + timedelta(seconds=10),
                    # The lifecycle's end: stored, or failed for good.
                    "status": "ERRORED" if failed else "UPLOADED",
                    "started_at": created + timedelta(seconds=12),
                    "errored_at": created + timedelta(minutes=1) if failed else None,
                    "uploaded_at": None if failed else created + timedelta(minutes=1),
                },
            )
        )
        if not failed:
            rows.files[f"{base}/{asset}"] = ASSETS / asset
        recording_index = len(rows.recordings) - 1
        languages = ["en", "es"] if pk == 12348 else ["en"]
        for language in languages:
            statuses = SEED_STATUSES[index] if index < len(SEED_STATUSES) else dict(ALL_SUCCESS)
            if index >= len(SEED_STATUSES) and index % 9 == 8:
                statuses["SUMMARISATION"] = "PENDING"
            if audio_only:
                statuses["AUDIO_EXTRACTION"] = "NOT_REQUIRED"
            for media_type in TYPES:
                status, reason, error = statuses[media_type], None, None
                if failed:
                    status, reason = "FAILED", "RECORDING_FAILED_UPLOAD"
                    error = "The recording never finished uploading."
                elif no_audio and media_type in ("SUBTITLES", "TRANSCRIPTION", "AUDIO_EXTRACTION"):
                    status, reason = "NOT_SUPPORTED", "NO_AUDIO"
                elif status == "FAILED":
                    reason, error = "PROCESSING_ERROR", "Speech recognition timed out."
                extension, mime = _EXTENSIONS[media_type]
                key = f"{base}/{media_type.lower()}.{language}.{extension}"
                final = status not in ("PENDING",)
                rows.media.append(
                    (
                        recording_index,
                        {
                            "uuid": _uuid(rng),
                            "language": language,
                            "type": media_type,
                            "status": status,
                            "status_reason": reason,
                            "storage_key": key if status == "SUCCESS" else None,
                            "mime_type": mime if status == "SUCCESS" else None,
                            "error": error,
                            "finalised_at": created + timedelta(minutes=4) if final else None,
                            "created_at": created + timedelta(minutes=1),
                        },
                    )
                )
                if status == "SUCCESS":
                    rows.files[key] = _media_file(
                        media_type, language, duration, index, participant_name
                    )
            if not failed and not no_audio and language == "en":
                rows.transcriptions.append(
                    (
                        recording_index,
                        {
                            "language": language,
                            "document": transcript(language, duration, index),
                            "created_at": created + timedelta(minutes=3),
                        },
                    )
                )
    return rows


def _media_file(
    media_type: str, language: str, duration: float, seed: int, name: str
) -> bytes | Path:
    if media_type == "AUDIO_EXTRACTION":
        return ASSETS / "audio.mp3"
    if media_type == "SUBTITLES":
        return vtt(transcript(language, duration, seed))
    if media_type == "TRANSCRIPTION":
        document = transcript(language, duration, seed)
    elif media_type == "WAVEFORM":
        document = waveform(seed)
    else:
        document = summary(language, name)
    return json.dumps(document, ensure_ascii=False, indent=1).encode()


def write_files(files: dict[str, bytes | Path], media_root: Path) -> int:
    """Write what is missing; binaries are hard-linked from the package when possible."""
    written = 0
    for key, content in files.items():
        target = media_root / key
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            try:
                os.link(content, target)
            except OSError:
                shutil.copyfile(content, target)
        else:
            target.write_bytes(content)
        written += 1
    return written


@dataclass(frozen=True)
class SeedOutcome:
    created: bool
    files_written: int
    api_key: str | None


async def seed_demo(engine: Engine, *, media_root: Path, key_file: Path) -> SeedOutcome:
    """Load the demo once; return the demo API key (reused from ``key_file`` when present)."""
    now = datetime.now(UTC)
    rows = build_rows(now)
    created = False
    kept = key_file.read_text().strip() if key_file.exists() else None
    api_key = kept or new_api_key()
    async with admin_transaction(engine) as admin:
        workspace_id = await admin.ensure_workspace(slug=WORKSPACE_SLUG, name="Demo", now=now)
        if not await admin.user_test_exists(uuid=TEST_UUID):
            await _insert(admin, rows, workspace_id)
            created = True
        # A kept key is registered again when this database has not seen it (a fresh database,
        # or FOOTAGE_DATABASE_URL pointing elsewhere), so the printed key always works.
        if not await admin.api_key_exists(key_hash=hash_api_key(api_key)):
            await admin.create_api_key(
                workspace_id=workspace_id,
                key_hash=hash_api_key(api_key),
                prefix=api_key[:8],
                label="demo",
                now=now,
                scopes=scope_string(SCOPES),
            )
    if kept is None:
        key_file.parent.mkdir(parents=True, exist_ok=True)
        write_private_once(key_file, api_key)
    return SeedOutcome(created, write_files(rows.files, media_root), api_key)


async def _insert(admin: Admin, rows: DemoRows, workspace_id: int) -> None:
    scoped = {"workspace_id": workspace_id}
    [test_id] = await admin.insert_rows(
        table="user_tests",
        rows=[
            {
                **scoped,
                "uuid": TEST_UUID,
                "name": "Checkout flow usability study",
                "created_at": EPOCH,
            }
        ],
        returning_ids=True,
    )
    participant_ids = await admin.insert_rows(
        table="participants", rows=[{**scoped, **p} for p in rows.participants], returning_ids=True
    )
    await admin.insert_rows(
        table="user_test_results",
        rows=[
            {**scoped, **r, "user_test_id": test_id, "participant_id": participant_ids[i]}
            for i, r in enumerate(rows.results)
        ],
    )
    # The change feed starts with each result's creation, as it would had the API made them.
    await admin.insert_rows(
        table="result_changes",
        rows=[
            {
                **scoped,
                "user_test_id": test_id,
                "result_uuid": r["uuid"],
                "object_type": "UserTestResult",
                "object_uuid": r["uuid"],
                "kind": "CREATED",
                "created_at": r["created_at"],
            }
            for r in rows.results
        ],
    )
    recording_ids = await admin.insert_rows(
        table="recordings",
        rows=[{**scoped, **r, "result_id": rows.results[i]["id"]} for i, r in rows.recordings],
        returning_ids=True,
    )
    await admin.insert_rows(
        table="attached_media",
        rows=[{**scoped, **m, "recording_id": recording_ids[i]} for i, m in rows.media],
    )
    await admin.insert_rows(
        table="transcriptions",
        rows=[{**scoped, **t, "recording_id": recording_ids[i]} for i, t in rows.transcriptions],
    )
    await admin.sync_id_sequences()

"""The benchmark dataset: one workspace, its API key and a user test with N results, loaded next
to seed 000's demo data (``specificResult`` asks for the demo's uuids).

Every result has a participant, one combined ("download") recording and five attached media in
one language (two languages for every 10th result), nearly all SUCCESS with storage keys. The
files themselves are never written: URLs are signed, not fetched. Rows go in by chunks of
``CHUNK`` results through ``executemany``, so 10,000 results load in seconds and 1,000,000 (on
PostgreSQL) load in bounded memory.

    python -m bench.dataset [--results N] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from app.auth import DEFAULT_SCOPES, hash_api_key, new_api_key, scope_string
from app.demo.seed import seed_demo
from app.store.engine import make_engine
from app.store.facade import Admin, admin_transaction
from app.store.migrate import upgrade

VAR_ROOT = Path("var/bench")
BASE_ID = 100_000_000  # bench rows' ids start here, far above the demo's own
CHUNK = 5_000
FORMAT = 3  # bump when the generated data changes, so cached datasets are rebuilt
EPOCH = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)
TYPES = ("SUBTITLES", "TRANSCRIPTION", "AUDIO_EXTRACTION", "WAVEFORM", "SUMMARISATION")
FILES = {
    "SUBTITLES": ("vtt", "text/vtt"),
    "TRANSCRIPTION": ("json", "application/json"),
    "AUDIO_EXTRACTION": ("mp3", "audio/mpeg"),
    "WAVEFORM": ("json", "application/json"),
    "SUMMARISATION": ("json", "application/json"),
}


@dataclass(frozen=True)
class Dataset:
    """What the harness needs to know about a loaded dataset (kept as ``dataset.json``)."""

    format: int
    database_url: str
    var_dir: str
    results: int
    user_test_uuid: str
    first_result_id: int
    api_key: str
    demo_api_key: str

    def result_id(self, position: int) -> int:
        """The id of the result at ``position`` (0-based) in the connection's order."""
        return self.first_result_id + position


def dataset_dir(results: int, database_url: str | None) -> Path:
    """Cached datasets are keyed by size (and, on PostgreSQL, by database)."""
    if database_url is None:
        return (VAR_ROOT / f"sqlite-{results}").resolve()
    digest = hashlib.sha256(database_url.encode()).hexdigest()[:10]
    return (VAR_ROOT / f"pg-{digest}-{results}").resolve()


def async_url(database_url: str) -> str:
    """libpq spellings (``postgresql://``) get the async driver, as the server's settings do."""
    scheme, _, rest = database_url.partition("://")
    return f"postgresql+asyncpg://{rest}" if scheme in ("postgres", "postgresql") else database_url


async def ensure_dataset(results: int, database_url: str | None) -> Dataset:
    """The cached dataset when it is still in its database, else a freshly generated one."""
    var_dir = dataset_dir(results, database_url)
    meta = var_dir / "dataset.json"
    url = async_url(database_url) if database_url else f"sqlite+aiosqlite:///{var_dir}/footage.db"
    if meta.exists():
        cached = Dataset(**json.loads(meta.read_text()))
        if cached.format == FORMAT and await _still_there(cached):
            return cached
    if database_url is None:
        for suffix in ("", "-wal", "-shm"):
            (var_dir / f"footage.db{suffix}").unlink(missing_ok=True)
    var_dir.mkdir(parents=True, exist_ok=True)
    dataset = await generate(url, var_dir, results)
    meta.write_text(json.dumps(asdict(dataset), indent=1) + "\n")
    return dataset


async def _still_there(dataset: Dataset) -> bool:
    """Whether the cached rows are still in the database (brought to the code's schema)."""
    engine = make_engine(dataset.database_url)
    try:
        await upgrade(engine)
        async with admin_transaction(engine) as admin:
            return await admin.user_test_exists(
                uuid=dataset.user_test_uuid
            ) and await admin.api_key_exists(key_hash=hash_api_key(dataset.api_key))
    except Exception:  # a missing file or database: rebuild it
        return False
    finally:
        await engine.dispose()


async def generate(database_url: str, var_dir: Path, results: int) -> Dataset:
    """Migrate, seed the demo, then load the bench rows in one transaction."""
    engine = make_engine(database_url)
    try:
        await upgrade(engine)
        demo = await seed_demo(
            engine, media_root=var_dir / "media", key_file=var_dir / "demo_api_key"
        )
        assert demo.api_key is not None
        api_key = new_api_key()
        test_uuid = f"ut_{uuid.UUID(int=results, version=4)}"
        async with admin_transaction(engine) as admin:
            now = datetime.now(UTC)
            workspace = await admin.ensure_workspace(slug="bench", name="Benchmark", now=now)
            await admin.create_api_key(
                workspace_id=workspace,
                key_hash=hash_api_key(api_key),
                prefix=api_key[:8],
                label="bench",
                now=now,
                scopes=scope_string(DEFAULT_SCOPES),  # read and sign, as a frontend's key
            )
            if await admin.user_test_exists(uuid=test_uuid):
                raise SystemExit("bench: this database already holds bench data; use a fresh one")
            [test_id] = await admin.insert_rows(
                table="user_tests",
                rows=[
                    {
                        "workspace_id": workspace,
                        "uuid": test_uuid,
                        "name": "Benchmark study",
                        "created_at": EPOCH,
                    }
                ],
                returning_ids=True,
            )
            async with admin.loading_new_results():
                await _load(admin, workspace, test_id, results)
            await admin.sync_id_sequences()
        # Planner statistics, as a live database has them: right after a bulk load PostgreSQL
        # has none and plans 1,000,000 results with sequential scans (seconds per query).
        async with engine.begin() as connection:
            await connection.execute(text("ANALYZE"))
    finally:
        await engine.dispose()
    return Dataset(
        format=FORMAT,
        database_url=database_url,
        var_dir=str(var_dir),
        results=results,
        user_test_uuid=test_uuid,
        first_result_id=BASE_ID,
        api_key=api_key,
        demo_api_key=demo.api_key,
    )


async def _load(admin: Admin, workspace: int, test_id: int, results: int) -> None:
    media_id = BASE_ID
    for start in range(0, results, CHUNK):
        tables: dict[str, list[dict[str, Any]]] = {
            "participants": [],
            "user_test_results": [],
            "recordings": [],
            "attached_media": [],
        }
        for index in range(start, min(start + CHUNK, results)):
            for table, row in _rows(index, workspace, test_id):
                if table == "attached_media":
                    row["id"] = media_id
                    media_id += 1
                tables[table].append(row)
        for table, rows in tables.items():  # parents first: the dict keeps insertion order
            await admin.insert_rows(table=table, rows=rows)


def _uuid(kind: int, index: int) -> str:
    return str(uuid.UUID(int=(kind << 64) | index, version=4))


def _rows(index: int, workspace: int, test_id: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """One result's rows; deterministic, so every run measures the same data."""
    row_id = BASE_ID + index
    created = EPOCH + timedelta(seconds=30 * index)
    scoped = {"workspace_id": workspace, "created_at": created}
    yield (
        "participants",
        {
            **scoped,
            "id": row_id,
            "anonymous_id": f"anon-{index:09d}",
            "email": None if index % 5 == 4 else f"participant{index}@example.com",
            "name": None if index % 5 == 4 else f"Participant {index}",
        },
    )
    result_uuid = f"ut_response_{_uuid(1, index)}"
    yield (
        "user_test_results",
        {
            **scoped,
            "id": row_id,
            "uuid": result_uuid,
            "user_test_id": test_id,
            "participant_id": row_id,
            "name": f"Session {index + 1}",
            "status": "ABANDONED" if index % 23 == 22 else "COMPLETED",
        },
    )
    failed = index % 500 == 499
    audio = index % 7 == 6
    base = f"bench/{result_uuid}"
    yield (
        "recordings",
        {
            **scoped,
            "id": row_id,
            "uuid": _uuid(2, index),
            "result_id": row_id,
            "kind": "download",
            "storage_key": None if failed else f"{base}/recording.{'ogg' if audio else 'mp4'}",
            "mime_type": "audio/ogg" if audio else "video/mp4",
            "is_audio": audio,
            "filesize": None if failed else 4_000_000 + index % 1_000,
            "duration": None if failed else 180.0 + index % 60,
            "language": "en",
            "failed": failed,
            "failed_type": "UPLOAD_FAILED" if failed else None,
            "missing_data_warning": failed,
            "start_time": created + timedelta(seconds=2),
        },
    )
    for lang_index, language in enumerate(("en", "es") if index % 10 == 9 else ("en",)):
        for type_index, media_type in enumerate(TYPES):
            status, reason = "SUCCESS", None
            if failed:
                status, reason = "FAILED", "RECORDING_FAILED_UPLOAD"
            elif audio and media_type == "AUDIO_EXTRACTION":
                status = "NOT_REQUIRED"
            elif media_type == "WAVEFORM" and index % 20 == 19:
                status = "PENDING"
            elif media_type == "SUBTITLES" and index % 50 == 49:
                status, reason = "FAILED", "PROCESSING_ERROR"
            extension, mime = FILES[media_type]
            success = status == "SUCCESS"
            yield (
                "attached_media",
                {
                    **scoped,
                    "uuid": _uuid(10 + 5 * lang_index + type_index, index),
                    "recording_id": row_id,
                    "language": language,
                    "type": media_type,
                    "status": status,
                    "status_reason": reason,
                    "storage_key": f"{base}/{media_type.lower()}.{language}.{extension}"
                    if success
                    else None,
                    "mime_type": mime if success else None,
                    "error": "Processing failed." if status == "FAILED" else None,
                    "finalised_at": None if status == "PENDING" else created + timedelta(hours=1),
                },
            )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.dataset", description=__doc__)
    parser.add_argument("--results", type=int, default=10_000)
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default: SQLite)")
    args = parser.parse_args()
    dataset = asyncio.run(ensure_dataset(args.results, args.database_url))
    print(f"bench: {dataset.results} results in {dataset.var_dir}")


if __name__ == "__main__":
    main()

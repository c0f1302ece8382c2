"""schema.graphql is the checked-in contract: it must be what the code builds."""

from __future__ import annotations

from pathlib import Path

from graphql import build_schema

from app.schema import schema

SCHEMA_FILE = Path(__file__).parents[1] / "schema.graphql"


def test_schema_graphql_matches_the_code() -> None:
    assert SCHEMA_FILE.read_text() == schema.as_str() + "\n", (
        "schema.graphql drifted from the code: run `make schema` and commit the result"
    )


def test_schema_describes_every_type_and_field() -> None:
    built = build_schema(SCHEMA_FILE.read_text())
    missing = []
    for name, graphql_type in built.type_map.items():
        if name.startswith("__") or name in {"String", "Boolean", "Int", "Float", "ID"}:
            continue
        if not graphql_type.description:
            missing.append(name)
        for field_name, field in getattr(graphql_type, "fields", {}).items():
            if not field.description:
                missing.append(f"{name}.{field_name}")
    assert missing == []


def test_schema_deprecates_legacy_url_fields_toward_attached_media() -> None:
    recording = build_schema(SCHEMA_FILE.read_text()).type_map["TestSessionRecording"]
    for field_name in ("transcript", "subtitles", "waveform"):
        reason = recording.fields[field_name].deprecation_reason  # type: ignore[attr-defined]
        assert reason is not None
        assert "attachedMedia" in reason

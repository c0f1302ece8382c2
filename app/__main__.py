"""Command line: ``python -m app {serve,migrate,seed-demo,create-api-key,revoke-api-key,
export-schema}``. Every command reads the same ``FOOTAGE_*`` settings as the server."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.auth import DEFAULT_SCOPES, SCOPES, hash_api_key, new_api_key, scope_string
from app.settings import Settings, SettingsError
from app.store.engine import make_engine
from app.store.facade import admin_transaction
from app.store.migrate import pending_revision, upgrade


def _settings() -> Settings:
    try:
        return Settings.from_env(os.environ)
    except SettingsError as error:
        sys.exit(f"footage: {error}")


async def _migrate(settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    print(f"footage: database at the latest revision ({_redacted(settings.database_url)})")


async def _seed_demo(settings: Settings) -> None:
    from app.demo.seed import TEST_UUID, seed_demo

    engine = make_engine(settings.database_url)
    try:
        outcome = await seed_demo(
            engine, media_root=settings.media_root, key_file=settings.var_dir / "demo_api_key"
        )
    finally:
        await engine.dispose()
    state = "loaded" if outcome.created else "already loaded"
    print(
        f"footage: demo data {state} (user test {TEST_UUID}); {outcome.files_written} files written"
    )
    print(f"footage: demo API key: {outcome.api_key}")
    print(f"footage: GraphiQL: {settings.public_url}/graphql")


async def _create_api_key(
    settings: Settings, workspace: str, label: str, days: int | None, scopes: list[str] | None
) -> None:
    try:
        chosen = scope_string(scopes or DEFAULT_SCOPES)
    except ValueError as error:
        sys.exit(f"footage: {error}")
    if days is not None and days < 1:
        sys.exit("footage: --expires-in-days must be at least 1")
    key = new_api_key()
    now = datetime.now(UTC)
    engine = make_engine(settings.database_url)
    try:
        async with admin_transaction(engine) as admin:
            workspace_id = await admin.ensure_workspace(slug=workspace, name=workspace, now=now)
            await admin.create_api_key(
                workspace_id=workspace_id,
                key_hash=hash_api_key(key),
                prefix=key[:8],
                label=label,
                now=now,
                scopes=chosen,
                expires_at=now + timedelta(days=days) if days else None,
            )
    finally:
        await engine.dispose()
    print(key)  # only the key on stdout, so scripts can capture it


async def _revoke_api_key(settings: Settings, key: str) -> None:
    engine = make_engine(settings.database_url)
    try:
        async with admin_transaction(engine) as admin:
            count = await admin.revoke_api_keys(key_hash=hash_api_key(key), now=datetime.now(UTC))
    finally:
        await engine.dispose()
    if not count:
        sys.exit("footage: no such active key")
    print("footage: key revoked", file=sys.stderr)


async def _check_ready(settings: Settings) -> None:
    """Fail before uvicorn starts, with one line, on anything the server could not serve with."""
    from app.media.backends import build_signer

    try:
        build_signer(settings)
    except SettingsError as error:
        sys.exit(f"footage: cannot serve: {error}")
    engine = make_engine(settings.database_url)
    try:
        problem = await pending_revision(engine)
    finally:
        await engine.dispose()
    if problem:
        sys.exit(f"footage: cannot serve: {problem}")


def _serve(settings: Settings, workers: int) -> None:
    import uvicorn

    asyncio.run(_check_ready(settings))
    uvicorn.run(
        "app.main:app_from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_level="info",
        access_log=settings.access_log,
        proxy_headers=True,
        # A websocket frame (a subscribe message) is bounded like an HTTP request body.
        ws_max_size=settings.max_body_bytes,
    )


def _export_schema(output: Path | None) -> None:
    from app.schema import schema

    text = schema.as_str() + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text)


_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


def _slug(value: str) -> str:
    """A workspace slug: it prefixes the workspace's storage keys (`<slug>/...`), so no two
    may nest (no `/`), and it stays one path segment."""
    if not _SLUG.fullmatch(value):
        raise argparse.ArgumentTypeError(
            "a slug is 1 to 64 lower-case letters, digits and hyphens, starting with a letter "
            "or digit"
        )
    return value


def _redacted(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.split("@", 1)[1]
    return scheme + sep + rest


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m app", description="Footage GraphQL API")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the API (refuses an unmigrated database)")
    serve.add_argument("--workers", type=int, default=int(os.environ.get("FOOTAGE_WORKERS", "1")))
    commands.add_parser("migrate", help="bring the database to the latest schema")
    commands.add_parser("seed-demo", help="load the demo data (idempotent) and print its key")
    create = commands.add_parser("create-api-key", help="print a new key for a workspace")
    create.add_argument(
        "--workspace", required=True, type=_slug, help="workspace slug (created if needed)"
    )
    create.add_argument("--label", default="", help="what the key is for")
    create.add_argument("--expires-in-days", type=int, default=None)
    create.add_argument(
        "--scope",
        action="append",
        choices=SCOPES,
        help=f"repeat for each; default: {' '.join(DEFAULT_SCOPES)}",
    )
    revoke = commands.add_parser("revoke-api-key", help="revoke a key")
    revoke.add_argument("key")
    export = commands.add_parser("export-schema", help="print the GraphQL schema (SDL)")
    export.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)

    if args.command == "export-schema":
        _export_schema(args.output)
        return
    settings = _settings()
    if args.command == "serve":
        _serve(settings, args.workers)
    elif args.command == "migrate":
        asyncio.run(_migrate(settings))
    elif args.command == "seed-demo":
        asyncio.run(_seed_demo(settings))
    elif args.command == "create-api-key":
        asyncio.run(
            _create_api_key(settings, args.workspace, args.label, args.expires_in_days, args.scope)
        )
    elif args.command == "revoke-api-key":
        asyncio.run(_revoke_api_key(settings, args.key))


if __name__ == "__main__":
    main()

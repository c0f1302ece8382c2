"""Process settings, read once by the app factory from the environment (or a dict in tests).

Every variable carries the ``FOOTAGE_`` prefix (``HOST`` and ``PORT`` too, for the server) and is
listed in the README; the one exception is Google's own ``GOOGLE_APPLICATION_CREDENTIALS``.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "FOOTAGE_"
STORAGES = ("local", "gcs")
GCS_ENDPOINT = "https://storage.googleapis.com"
_ORIGIN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#\s@]+")


class SettingsError(ValueError):
    """A setting is missing or malformed; the message is one line fit for a terminal."""


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = field(repr=False)
    var_dir: Path
    media_root: Path
    signing_key: bytes = field(repr=False)
    public_url: str
    host: str
    port: int
    url_ttl: int
    url_max_ttl: int
    signing_window: int
    url_cache_size: int
    api_key_cache_seconds: float
    default_page_size: int
    max_page_size: int
    env: str
    # Limits: each violation has its own error code (README, "Limits").
    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 5_000
    max_body_bytes: int = 100_000
    max_urls_per_request: int = 1_000
    query_timeout: float = 10.0
    rate_limit_per_minute: int = 1_200
    rate_limit_burst: int = 200
    cors_origins: tuple[str, ...] = ()
    # uvicorn's access log (one line per request): off by default in production, where it costs
    # a seventh of a cheap request's time and a proxy in front usually logs requests already.
    access_log: bool = True
    # GraphQL HTTP requests worked on at once per process (app.limits.OperationGate); 0: all.
    # From the environment: 1 on SQLite, 2 on PostgreSQL (``operations_at_once``).
    concurrent_operations: int = 2
    # How long a request may wait for its turn, and how many may wait, before 503 OVERLOADED.
    operation_queue_wait: float = 10.0
    operation_queue_limit: int = 1_000
    # Results whose recordings and media the process keeps between requests (the read cache,
    # app.store.tree_cache), and recordings' built attachedMedia answers (app.answers); 0: off.
    read_cache_size: int = 5_000
    # Results pages kept whole, with their completed forms (resolvers.page_answers), up to this
    # many results in all; 0: off. Nothing is kept with the read cache off.
    page_cache_size: int = 5_000
    # Websockets (app.graphql_ws): subscriptions one connection may hold at once.
    max_subscriptions_per_connection: int = 20
    # Storage backend. The GCS fields are only read when storage == "gcs"; app.media.gcs checks
    # that they make a usable signer when the app starts. Defaults keep direct construction
    # working for code that predates them.
    storage: str = "local"
    gcs_bucket: str | None = None
    gcs_endpoint: str = GCS_ENDPOINT
    gcs_credentials_file: Path | None = None
    gcs_hmac_access_id: str | None = None
    gcs_hmac_secret: str | None = field(default=None, repr=False)
    # Background maintenance (app.maintenance): storage-deletion retries and idempotency keys.
    maintenance_interval: int = 60
    idempotency_key_hours: int = 24

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Build settings from ``environ``; relative paths are taken from the working directory."""

        def get(name: str, default: str) -> str:
            return environ.get(PREFIX + name, default)

        def get_int(name: str, default: int, *, low: int, high: int) -> int:
            raw = get(name, str(default))
            try:
                value = int(raw)
            except ValueError:
                raise SettingsError(f"{PREFIX}{name} must be an integer, got {raw!r}") from None
            if not low <= value <= high:
                raise SettingsError(f"{PREFIX}{name} must be between {low} and {high}, got {value}")
            return value

        var_dir = Path(get("VAR_DIR", "var")).resolve()
        host = environ.get("HOST", "127.0.0.1")
        port = get_int("PORT", int(environ.get("PORT", "8000")), low=1, high=65535)
        database_url = get("DATABASE_URL", "") or f"sqlite+aiosqlite:///{var_dir / 'footage.db'}"
        if database_url.startswith(("postgres://", "postgresql://")):
            # Accept the libpq spelling users already have; the async engine needs asyncpg.
            database_url = "postgresql+asyncpg://" + database_url.split("://", 1)[1]
        url_ttl = get_int("URL_TTL", 900, low=1, high=604_800)
        settings = cls(
            database_url=database_url,
            var_dir=var_dir,
            media_root=Path(get("MEDIA_ROOT", str(var_dir / "media"))).resolve(),
            signing_key=_signing_key(get("SIGNING_KEY", ""), var_dir),
            public_url=(get("PUBLIC_URL", "") or f"http://{host}:{port}").rstrip("/"),
            host=host,
            port=port,
            url_ttl=url_ttl,
            url_max_ttl=get_int("URL_MAX_TTL", 604_800, low=1, high=604_800),
            signing_window=get_int("SIGNING_WINDOW", 300, low=1, high=3_600),
            url_cache_size=get_int("URL_CACHE_SIZE", 100_000, low=0, high=10_000_000),
            api_key_cache_seconds=get_int("API_KEY_CACHE_SECONDS", 10, low=0, high=3_600),
            default_page_size=get_int("DEFAULT_PAGE_SIZE", 20, low=1, high=100),
            max_page_size=get_int("MAX_PAGE_SIZE", 100, low=1, high=100),
            env=_env(get("ENV", "development")),
            access_log=_flag(
                "ACCESS_LOG", get("ACCESS_LOG", ""), default=get("ENV", "") != "production"
            ),
            concurrent_operations=get_int(
                "CONCURRENT_OPERATIONS", operations_at_once(database_url), low=0, high=10_000
            ),
            operation_queue_wait=get_int("OPERATION_QUEUE_WAIT", 10, low=1, high=600),
            operation_queue_limit=get_int("OPERATION_QUEUE_LIMIT", 1_000, low=1, high=1_000_000),
            read_cache_size=get_int("READ_CACHE_SIZE", 5_000, low=0, high=10_000_000),
            page_cache_size=get_int("PAGE_CACHE_SIZE", 5_000, low=0, high=10_000_000),
            max_depth=get_int("MAX_DEPTH", 12, low=2, high=100),
            max_aliases=get_int("MAX_ALIASES", 30, low=0, high=1_000),
            max_tokens=get_int("MAX_TOKENS", 5_000, low=100, high=1_000_000),
            max_body_bytes=get_int("MAX_BODY_BYTES", 100_000, low=1_000, high=100_000_000),
            max_urls_per_request=get_int("MAX_URLS_PER_REQUEST", 1_000, low=0, high=1_000_000),
            query_timeout=get_int("QUERY_TIMEOUT", 10, low=1, high=600),
            rate_limit_per_minute=get_int("RATE_LIMIT_PER_MINUTE", 1_200, low=0, high=10**7),
            rate_limit_burst=get_int("RATE_LIMIT_BURST", 200, low=1, high=10**7),
            cors_origins=_origins(get("CORS_ORIGINS", "")),
            max_subscriptions_per_connection=get_int(
                "MAX_SUBSCRIPTIONS_PER_CONNECTION", 20, low=1, high=1_000
            ),
            storage=_storage(get("STORAGE", "local")),
            gcs_bucket=get("GCS_BUCKET", "") or None,
            gcs_endpoint=(get("GCS_ENDPOINT", "") or GCS_ENDPOINT).rstrip("/"),
            # Google's own variable, so one key file serves Footage and Google's tools alike.
            gcs_credentials_file=_optional_path(environ.get("GOOGLE_APPLICATION_CREDENTIALS", "")),
            gcs_hmac_access_id=get("GCS_HMAC_ACCESS_ID", "") or None,
            gcs_hmac_secret=get("GCS_HMAC_SECRET", "") or None,
            maintenance_interval=get_int("MAINTENANCE_INTERVAL", 60, low=0, high=86_400),
            idempotency_key_hours=get_int("IDEMPOTENCY_KEY_HOURS", 24, low=1, high=24 * 365),
        )
        if settings.url_ttl > settings.url_max_ttl:
            raise SettingsError(f"{PREFIX}URL_TTL must not exceed {PREFIX}URL_MAX_TTL")
        return settings


def operations_at_once(database_url: str) -> int:
    """The default number of GraphQL requests a process works on at once (BENCHMARKS.md, "One
    request at a time"). On SQLite, one: its reads are this process's own CPU (``sqlite3``, in
    a thread, under the same GIL, which it gives up and takes back for every column read, so
    beside another request's Python a page's reads stretch many times over), and a second
    request has no wait to fill. Two at once made the warm page cost more CPU and spread the
    waits of sixteen clients: the slowest 1.6-1.9x the mean, against 1.1-1.3x one at a time.
    On PostgreSQL, two: a query is a wait on another process, which a second request fills (one
    at a time served 13-25% fewer pages a second). Either way, a request waiting for the
    signing processes hands its turn on (app.turns)."""
    return 1 if database_url.startswith("sqlite") else 2


def _flag(name: str, value: str, *, default: bool) -> bool:
    if not value:
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{PREFIX}{name} must be true or false, got {value!r}")


def _env(value: str) -> str:
    if value not in ("development", "production"):
        raise SettingsError(f"{PREFIX}ENV must be development or production, got {value!r}")
    return value


def _origins(value: str) -> tuple[str, ...]:
    """Browser origins (``scheme://host[:port]``, or ``*``), comma-separated."""
    origins = tuple(o.strip().rstrip("/") for o in value.split(",") if o.strip())
    for origin in origins:
        if origin != "*" and _ORIGIN.fullmatch(origin) is None:
            raise SettingsError(
                f"{PREFIX}CORS_ORIGINS: {origin!r} is not an origin like https://app.example.com"
            )
    return origins


def _storage(value: str) -> str:
    if value not in STORAGES:
        raise SettingsError(f"{PREFIX}STORAGE must be one of {', '.join(STORAGES)}, got {value!r}")
    return value


def _optional_path(value: str) -> Path | None:
    return Path(value).resolve() if value else None


def _signing_key(configured: str, var_dir: Path) -> bytes:
    """The local backend's HMAC secret: configured, or generated once and kept under ``var/``.

    Persisting it keeps URLs valid across restarts and identical across the workers of one host.
    """
    if configured:
        if len(configured) < 32:
            raise SettingsError(f"{PREFIX}SIGNING_KEY must be at least 32 characters")
        return configured.encode()
    path = var_dir / "signing_key"
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        write_private_once(path, secrets.token_urlsafe(48))
    return path.read_bytes().strip()


def write_private_once(path: Path, content: str) -> None:
    """Create ``path`` (mode 0600) holding ``content`` unless it exists. Written aside and
    hard-linked into place, so workers starting together never read a half-written file and
    the first writer's content wins for all."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(content + "\n")
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)

"""The ``gcs`` backend: V4 signed GET URLs straight to a Google Cloud Storage bucket.

The only module that imports google-cloud-storage and google.auth. Three ways to sign, picked at
startup from the settings (an HMAC pair first, then a key file, then Google's default
credentials), each behind the same ``UrlBackend``:

- ``KeyFileUrls``: GOOG4-RSA-SHA256 with a service-account key, signed locally by
  google-cloud-storage (CPU only, about a millisecond per URL).
- ``KeylessUrls``: GOOG4-RSA-SHA256 signed by IAM signBlob with the runtime's own service account
  (GCE, GKE, Cloud Run): no key to manage, but one network round trip per URL.
- ``HmacUrls``: GOOG4-HMAC-SHA256 with an HMAC key (app.media.gcs_v4; the library has no HMAC
  signer), far cheaper than RSA.

Every URL is path style (``<endpoint>/<bucket>/<object>``) and signs only the Host header.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, cast
from urllib.parse import urlsplit

import google.api_core.exceptions
import google.auth
import google.auth.credentials
import google.auth.exceptions
import google.auth.transport.requests
from google.cloud.storage._signing import generate_signed_url_v4
from google.oauth2 import service_account

from app.media import gcs_v4
from app.media.signer import SignedUrl, SignRequest, expiry
from app.settings import PREFIX, Settings, SettingsError

# (encoded object path, X-Goog-Expires, Content-Disposition or None) -> signed URL
SignOne = Callable[[str, int, "str | None"], str]
# google-cloud-storage's generate_signed_url_v4, or a stand-in for it in tests.
SignV4 = Callable[..., str]

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
# Where IAM signBlob lives (iamcredentials.<domain>). generate_signed_url_v4 defaults it to None
# and would then call https://iamcredentials.None/..., so it is always passed.
UNIVERSE_DOMAIN = "googleapis.com"
# Refresh a keyless token this long before it expires, so it outlives the batch being signed.
TOKEN_MARGIN = timedelta(minutes=5)
_BUCKET = re.compile(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]")


class UrlBackend(Protocol):
    def batch(self, timestamp: str) -> SignOne:
        """A signer for one batch of URLs dated ``timestamp`` (``YYYYMMDDTHHMMSSZ``): per-batch
        work (a token check, a key derivation) happens here, not per URL."""
        ...


class GcsSigner:
    name = "gcs"

    def __init__(self, *, bucket: str, backend: UrlBackend) -> None:
        self.bucket = bucket
        self.backend = backend

    def sign(
        self, requests: Sequence[SignRequest], *, signed_at: int, window: int
    ) -> list[SignedUrl]:
        if not requests:  # nothing to sign: no token refresh, no key derivation
            return []
        # Dated at the window start, so every URL of one window is byte identical.
        timestamp = datetime.fromtimestamp(signed_at, UTC).strftime(gcs_v4.TIMESTAMP_FORMAT)
        sign_one = self.backend.batch(timestamp)
        urls = []
        for request in requests:
            # GCS refuses X-Goog-Expires over seven days, and window + TTL can exceed that
            # (FOOTAGE_URL_MAX_TTL may be the full seven days). Such a URL is cut to seven days
            # from the window start, up to one window short of what was asked, and expires_at
            # says so: better than a URL GCS refuses.
            lifetime = max(1, min(window + request.expires_in, gcs_v4.MAX_EXPIRES))
            path = f"/{self.bucket}/{gcs_v4.encode_path(request.storage_key)}"
            url = sign_one(path, lifetime, request.content_disposition)
            # lifetime already includes the window
            urls.append(SignedUrl(url=url, expires_at=expiry(signed_at, 0, lifetime)))
        return urls


def rsa_v4_url(
    credentials: google.auth.credentials.Signing | None,
    *,
    endpoint: str,
    path: str,
    timestamp: str,
    expires: int,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, str] | None = None,
    disposition: str | None = None,
    service_account_email: str | None = None,
    access_token: str | None = None,
    universe_domain: str = UNIVERSE_DOMAIN,
    sign_v4: SignV4 = generate_signed_url_v4,
) -> str:
    """A GOOG4-RSA-SHA256 URL, signed by google-cloud-storage: locally with ``credentials``'
    key, or by IAM signBlob when ``service_account_email`` and ``access_token`` are given.

    The one call into the library's signer. We call its module function rather than
    ``Blob.generate_signed_url`` because that thin wrapper offers no control of the timestamp:
    ``_request_timestamp`` is what makes a window's URLs byte identical (cacheable by the minter
    and by browsers and CDNs). The conformance tests guard this private interface.

    The library signs the endpoint's ``host:port`` when it picks the Host header itself, while
    Google's vectors (and GCS) sign the host alone, so the Host header is always passed here
    (see gcs_v4.host_of); an explicit one in ``headers`` wins.
    """
    signed_headers = dict(headers or {})
    if not any(name.lower() == "host" for name in signed_headers):
        signed_headers["Host"] = gcs_v4.host_of(urlsplit(endpoint).netloc)
    url: str = sign_v4(
        credentials,
        path,
        expires,
        api_access_endpoint=endpoint,
        method=method,
        headers=signed_headers,  # a fresh dict: the library adds to it
        query_parameters=dict(query) if query else None,
        response_disposition=disposition,
        service_account_email=service_account_email,
        access_token=access_token,
        universe_domain=universe_domain,
        _request_timestamp=timestamp,
    )
    return url


class KeyFileUrls:
    """RSA-signed locally with a service account's private key."""

    def __init__(self, credentials: service_account.Credentials, *, endpoint: str) -> None:
        self.credentials = credentials
        self.endpoint = endpoint

    def batch(self, timestamp: str) -> SignOne:
        def sign_one(path: str, expires: int, disposition: str | None) -> str:
            return rsa_v4_url(
                self.credentials,
                endpoint=self.endpoint,
                path=path,
                timestamp=timestamp,
                expires=expires,
                disposition=disposition,
            )

        return sign_one


class TokenCredentials(Protocol):
    """What keyless signing needs of google.auth credentials (GCE, GKE, Cloud Run,
    impersonated): an OAuth token, its expiry (naive UTC, as google.auth keeps it), and the
    service account's e-mail, which GCE only knows after a refresh."""

    @property
    def token(self) -> str | None: ...
    @property
    def expiry(self) -> datetime | None: ...
    @property
    def service_account_email(self) -> str: ...
    def refresh(self, request: Any) -> None: ...


class KeylessUrls:
    """RSA-signed by IAM signBlob as the runtime's service account. The library makes one
    signBlob call per URL; the access token it sends is refreshed here, at most once per expiry
    and never per URL, under a lock shared by the signing threads."""

    def __init__(
        self,
        credentials: TokenCredentials,
        *,
        endpoint: str,
        sign_v4: SignV4 = generate_signed_url_v4,
    ) -> None:
        self.credentials = credentials
        self.endpoint = endpoint
        self._sign_v4 = sign_v4
        self._lock = threading.Lock()

    def _token(self) -> tuple[str, str]:
        """(service account e-mail, a token valid for at least TOKEN_MARGIN)."""
        with self._lock:
            credentials = self.credentials
            if credentials.token is None or self._expiring(credentials.expiry):
                credentials.refresh(google.auth.transport.requests.Request())
            if credentials.token is None:
                raise google.auth.exceptions.RefreshError("the credentials gave no access token")
            return credentials.service_account_email, credentials.token

    def _expiring(self, expires: datetime | None) -> bool:
        if expires is None:  # google.auth's way of saying "does not expire"
            return False
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        return expires - TOKEN_MARGIN <= datetime.now(UTC)

    def batch(self, timestamp: str) -> SignOne:
        email, token = self._token()

        def sign_one(path: str, expires: int, disposition: str | None) -> str:
            return rsa_v4_url(
                None,  # unused: the library signs through IAM when given an e-mail and token
                endpoint=self.endpoint,
                path=path,
                timestamp=timestamp,
                expires=expires,
                disposition=disposition,
                service_account_email=email,
                access_token=token,
                sign_v4=self._sign_v4,
            )

        return sign_one


class HmacUrls:
    """GOOG4-HMAC-SHA256 with an HMAC key of a service account."""

    def __init__(self, *, access_id: str, secret: str, endpoint: str) -> None:
        self.access_id = access_id
        self._secret = secret
        self.endpoint = endpoint

    def batch(self, timestamp: str) -> SignOne:
        # The derived key depends on the date only: four HMACs per batch instead of per URL.
        sign = gcs_v4.hmac_signer(gcs_v4.hmac_signing_key(self._secret, timestamp[:8]))

        def sign_one(path: str, expires: int, disposition: str | None) -> str:
            query = {"response-content-disposition": disposition} if disposition else None
            return gcs_v4.signed_url(
                sign=sign,
                endpoint=self.endpoint,
                path=path,
                algorithm=gcs_v4.HMAC,
                credential=self.access_id,
                timestamp=timestamp,
                expires=expires,
                query=query,
            )

        return sign_one


# google.auth.default, or a stand-in; whatever it returns is checked at run time.
DefaultCredentials = Callable[[], object]


def _application_default() -> google.auth.credentials.Credentials:
    credentials, _project = google.auth.default(scopes=[CLOUD_PLATFORM])
    return credentials


def gcs_signer(
    settings: Settings, *, default_credentials: DefaultCredentials = _application_default
) -> GcsSigner:
    """The signer the settings describe; any configuration problem is a one-line SettingsError
    now rather than a failed URL later. ``default_credentials`` is google.auth.default, which
    tests replace."""
    bucket = _bucket(settings.gcs_bucket)
    endpoint = _endpoint(settings.gcs_endpoint)
    access_id, secret = settings.gcs_hmac_access_id, settings.gcs_hmac_secret
    backend: UrlBackend
    if access_id or secret:
        # Chosen over a key file: GOOGLE_APPLICATION_CREDENTIALS is often set for other tools,
        # while an HMAC pair is configured for Footage alone.
        if not access_id:
            raise SettingsError(
                f"{PREFIX}GCS_HMAC_ACCESS_ID must be set with {PREFIX}GCS_HMAC_SECRET"
            )
        if not secret:
            raise SettingsError(
                f"{PREFIX}GCS_HMAC_SECRET must be set with {PREFIX}GCS_HMAC_ACCESS_ID"
            )
        backend = HmacUrls(access_id=access_id, secret=secret, endpoint=endpoint)
    elif settings.gcs_credentials_file is not None:
        backend = KeyFileUrls(_key_file(settings.gcs_credentials_file), endpoint=endpoint)
    else:
        backend = _default_backend(default_credentials, endpoint)
    return GcsSigner(bucket=bucket, backend=backend)


def _bucket(bucket: str | None) -> str:
    if not bucket:
        raise SettingsError(f"{PREFIX}GCS_BUCKET must be set when {PREFIX}STORAGE=gcs")
    if not _BUCKET.fullmatch(bucket):
        raise SettingsError(
            f"{PREFIX}GCS_BUCKET must be a bare bucket name (a-z, 0-9, '-', '_', '.'), "
            f"got {bucket!r}"
        )
    return bucket


def _endpoint(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    try:
        parts.port  # noqa: B018 - read to reject a port that is not a number in range
        usable = (
            parts.scheme in ("http", "https")
            and bool(parts.hostname)
            and parts.username is None
            and parts.path in ("", "/")
            and not parts.query
            and not parts.fragment
        )
    except ValueError:
        usable = False
    if not usable:
        raise SettingsError(
            f"{PREFIX}GCS_ENDPOINT must be http(s)://host[:port] with no path, got {endpoint!r}"
        )
    return f"{parts.scheme}://{parts.netloc}"


def _key_file(path: Path) -> service_account.Credentials:
    """The key file's credentials, loaded once. Read and parsed here rather than by
    from_service_account_file, so that any JSON that is not a key object gets a clear message
    instead of whatever attribute error google.auth would stumble into."""
    where = f"GOOGLE_APPLICATION_CREDENTIALS ({path})"
    try:
        info = json.loads(path.read_bytes())
    except OSError as error:
        raise SettingsError(f"{where} cannot be read: {error.strerror}") from None
    except ValueError as error:  # not JSON, or not UTF-8
        raise SettingsError(f"{where} is not JSON: {_one_line(error)}") from None
    kind = info.get("type") if isinstance(info, dict) else type(info).__name__
    if kind != "service_account":
        raise SettingsError(f"{where} is not a service-account key (type {kind!r})")
    try:
        credentials: service_account.Credentials = (
            service_account.Credentials.from_service_account_info(info)
        )
    # google.auth reports missing fields as MalformedError, and cryptography a key it cannot
    # load as ValueError or, for a value of the wrong JSON type, TypeError.
    except (ValueError, TypeError, google.auth.exceptions.GoogleAuthError) as error:
        raise SettingsError(f"{where} is not a usable key: {_one_line(error)}") from None
    return credentials


def _default_backend(default_credentials: DefaultCredentials, endpoint: str) -> UrlBackend:
    advice = (
        f"set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, or "
        f"{PREFIX}GCS_HMAC_ACCESS_ID and {PREFIX}GCS_HMAC_SECRET"
    )
    try:
        credentials = default_credentials()
    except google.auth.exceptions.DefaultCredentialsError as error:
        raise SettingsError(
            f"{PREFIX}STORAGE=gcs found no Google credentials ({_one_line(error)}): {advice}"
        ) from None
    if isinstance(credentials, service_account.Credentials):
        return KeyFileUrls(credentials, endpoint=endpoint)
    if hasattr(credentials, "service_account_email"):
        return KeylessUrls(cast("TokenCredentials", credentials), endpoint=endpoint)
    raise SettingsError(
        f"{PREFIX}STORAGE=gcs: the default Google credentials ({type(credentials).__name__}) "
        f"are not a service account and cannot sign URLs: {advice}"
    )


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


# Seconds to connect and to read the answer of one deletion.
DELETE_TIMEOUT = 10.0


class GcsDeleter:
    """Removes objects from the bucket through the JSON API (``Blob.delete``), in the cleaner's
    worker threads. The client is made on first use, with the key file's credentials or else
    the platform's default ones (an HMAC pair alone cannot call the JSON API: such deployments
    need default credentials for deletions, and the outbox keeps retrying until they exist)."""

    def __init__(self, *, bucket: str, client: Callable[[], Any]) -> None:
        self.name = f"gcs:{bucket}"
        self._bucket_name = bucket
        self._client = client
        self._bucket: Any = None
        self._lock = threading.Lock()

    def delete(self, storage_key: str) -> None:
        with self._lock:
            if self._bucket is None:
                self._bucket = self._client().bucket(self._bucket_name)
            bucket = self._bucket
        try:
            # No retries of the library's own (up to two minutes a call): the outbox retries,
            # with backoff, and a storage outage must not hold the cleaner's threads.
            bucket.blob(storage_key).delete(timeout=DELETE_TIMEOUT, retry=None)
        except google.api_core.exceptions.NotFound:
            return  # already gone: what we wanted


def gcs_deleter(settings: Settings) -> GcsDeleter:
    bucket = _bucket(settings.gcs_bucket)
    endpoint = _endpoint(settings.gcs_endpoint)
    key_file = settings.gcs_credentials_file

    def client() -> Any:
        from google.cloud.storage import Client

        credentials = _key_file(key_file) if key_file is not None else _application_default()
        return Client(
            project=None, credentials=credentials, client_options={"api_endpoint": endpoint}
        )

    return GcsDeleter(bucket=bucket, client=client)

"""GCS V4 signed URLs: Google's conformance vectors (tests/data/gcs-v4, see SOURCE.txt) through
the library's RSA signer and through app.media.gcs_v4, then the gcs backend in its three
credential modes and its configuration errors."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import google.auth.transport.requests
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from google.auth.exceptions import DefaultCredentialsError
from google.cloud.storage._signing import generate_signed_url_v4
from google.oauth2 import service_account
from google.oauth2.credentials import Credentials as UserCredentials

from app.media import gcs_v4
from app.media.backends import build_signer
from app.media.gcs import GcsSigner, HmacUrls, KeyFileUrls, KeylessUrls, gcs_signer, rsa_v4_url
from app.media.local import LocalSigner
from app.media.signer import SignRequest
from app.settings import Settings, SettingsError
from tests.conftest import SIGNING_SECRET

DATA = Path(__file__).parent / "data" / "gcs-v4"
KEY_FILE = DATA / "test_service_account.not-a-test.json"
VECTORS = tuple(json.loads((DATA / "v4_signatures.json").read_text())["signingV4Tests"])
EMAIL = "test-iam-credentials@dummy-project-id.iam.gserviceaccount.com"
# Google's data for this vector keeps the bucket in the canonical request's path although its
# URL is virtual-hosted (/test-object); its URL and string-to-sign are right (SOURCE.txt).
WRONG_CANONICAL_REQUEST = "Universe domain with virtual hosted style"
BUCKET = "footage-test"
ACCESS_ID = "GOOG1EXAMPLEACCESSID"
HMAC_SECRET = "bGoa+V7g/yqDXvKRqq+JTFn4uQZbPiQJo4pf9RzJ"
DISPOSITION = "attachment; filename=\"a b.mp4\"; filename*=UTF-8''%C3%A9.mp4"
ENCODED_DISPOSITION = (
    "attachment%3B%20filename%3D%22a%20b.mp4%22%3B%20filename%2A%3DUTF-8%27%27%25C3%25A9.mp4"
)
WINDOW_START = 1_700_000_100  # a multiple of the 300 s window: 2023-11-14T22:15:00Z


def settings(**environ: str) -> Settings:
    return Settings.from_env(
        {"FOOTAGE_SIGNING_KEY": SIGNING_SECRET, "FOOTAGE_VAR_DIR": "/nonexistent", **environ}
    )


GCS = {"FOOTAGE_STORAGE": "gcs", "FOOTAGE_GCS_BUCKET": BUCKET}
KEYED = {**GCS, "GOOGLE_APPLICATION_CREDENTIALS": str(KEY_FILE)}
HMAC_KEYED = {
    **GCS,
    "FOOTAGE_GCS_HMAC_ACCESS_ID": ACCESS_ID,
    "FOOTAGE_GCS_HMAC_SECRET": HMAC_SECRET,
}


@functools.cache  # loading checks the key, which costs more than a signature
def private_key() -> rsa.RSAPrivateKey:
    pem = json.loads(KEY_FILE.read_text())["private_key"].encode()
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def rsa_sign(message: bytes) -> bytes:
    return private_key().sign(message, padding.PKCS1v15(), hashes.SHA256())


def verifies(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> bool:
    rebuilt = gcs_v4.rebuild(url, method=method, headers=headers)
    try:
        private_key().public_key().verify(
            rebuilt.signature, rebuilt.string_to_sign, padding.PKCS1v15(), hashes.SHA256()
        )
    except InvalidSignature:
        return False
    return True


def query_of(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


# Google's vectors, as the inputs a signer takes -------------------------------------------------


@dataclass(frozen=True)
class Case:
    endpoint: str
    path: str
    method: str
    timestamp: str
    expires: int
    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)


def case(vector: dict[str, Any]) -> Case:
    """The endpoint by the precedence tests.proto describes (hostname, then the client's
    endpoint, then the emulator's, then the universe domain), then the URL style."""
    scheme = vector.get("scheme") or "https"
    host = f"storage.{vector.get('universeDomain') or 'googleapis.com'}"
    for source in ("emulatorHostname", "clientEndpoint", "hostname"):
        if vector.get(source):
            given_scheme, _, host = vector[source].rpartition("://")
            scheme = given_scheme or vector.get("scheme") or "https"
    obj = vector.get("object")
    path = "" if obj is None else "/" + gcs_v4.encode_path(obj)
    style = vector.get("urlStyle", "PATH_STYLE")
    if style == "BUCKET_BOUND_HOSTNAME":
        host = vector["bucketBoundHostname"]
    elif style == "VIRTUAL_HOSTED_STYLE":
        host = f"{vector['bucket']}.{host}"
    else:
        path = f"/{vector['bucket']}{path}"
    stamp = datetime.fromisoformat(vector["timestamp"].replace("Z", "+00:00"))
    return Case(
        endpoint=f"{scheme}://{host}",
        path=path or "/",
        method=vector["method"],
        timestamp=stamp.strftime(gcs_v4.TIMESTAMP_FORMAT),
        expires=vector["expiration"],
        headers=dict(vector.get("headers", {})),
        query=dict(vector.get("queryParameters", {})),
    )


def vectors(*, plain_get: bool = False) -> list[Any]:
    """pytest params named by description; ``plain_get``: only what GcsSigner itself mints
    (path-style GETs of an object, no extra headers or query parameters)."""
    chosen = [
        v
        for v in VECTORS
        if not plain_get
        or (
            v["method"] == "GET"
            and "object" in v
            and not v.get("headers")
            and not v.get("queryParameters")
            and v.get("urlStyle", "PATH_STYLE") == "PATH_STYLE"
        )
    ]
    return [pytest.param(v, id=v["description"]) for v in chosen]


@pytest.fixture(scope="module")
def dummy_credentials() -> service_account.Credentials:
    credentials: service_account.Credentials = (
        service_account.Credentials.from_service_account_file(str(KEY_FILE))
    )
    return credentials


@pytest.mark.parametrize("vector", vectors())
def test_library_rsa_path_reproduces_google_vector_url(
    vector: dict[str, Any], dummy_credentials: service_account.Credentials
) -> None:
    c = case(vector)
    url = rsa_v4_url(
        dummy_credentials,
        endpoint=c.endpoint,
        path=c.path,
        timestamp=c.timestamp,
        expires=c.expires,
        method=c.method,
        headers=c.headers,
        query=c.query,
    )
    assert url == vector["expectedUrl"]


@pytest.mark.parametrize("vector", vectors(plain_get=True))
def test_gcs_signer_reproduces_google_vector_url_for_plain_gets(vector: dict[str, Any]) -> None:
    c = case(vector)
    environ = {**KEYED, "FOOTAGE_GCS_BUCKET": vector["bucket"], "FOOTAGE_GCS_ENDPOINT": c.endpoint}
    signer = build_signer(settings(**environ))
    signed_at = int(datetime.fromisoformat(vector["timestamp"].replace("Z", "+00:00")).timestamp())
    # X-Goog-Expires is window + expires_in
    request = SignRequest(vector["object"], expires_in=c.expires - 4)
    [url] = signer.sign([request], signed_at=signed_at, window=4)
    assert url.url == vector["expectedUrl"]
    assert url.expires_at == datetime.fromtimestamp(signed_at + c.expires, UTC)


@pytest.mark.parametrize("vector", vectors())
def test_gcs_v4_reproduces_google_canonical_request_and_string_to_sign(
    vector: dict[str, Any],
) -> None:
    c = case(vector)
    prepared = gcs_v4.prepare(
        endpoint=c.endpoint,
        path=c.path,
        algorithm=gcs_v4.RSA,
        credential=EMAIL,
        timestamp=c.timestamp,
        expires=c.expires,
        method=c.method,
        headers=c.headers,
        query=c.query,
    )
    if vector["description"] != WRONG_CANONICAL_REQUEST:
        assert prepared.canonical_request == vector["expectedCanonicalRequest"]
    assert prepared.string_to_sign == vector["expectedStringToSign"]
    assert prepared.url(rsa_sign(prepared.string_to_sign.encode())) == vector["expectedUrl"]


@pytest.mark.parametrize("vector", vectors())
def test_gcs_v4_hmac_request_differs_from_rsa_only_in_algorithm_name(
    vector: dict[str, Any],
) -> None:
    """Same canonicalization; the algorithm is named in X-Goog-Algorithm and in the first line
    of the string-to-sign (whose hash therefore differs too)."""
    c = case(vector)
    prepared = gcs_v4.prepare(
        endpoint=c.endpoint,
        path=c.path,
        algorithm=gcs_v4.HMAC,
        credential=EMAIL,
        timestamp=c.timestamp,
        expires=c.expires,
        method=c.method,
        headers=c.headers,
        query=c.query,
    )
    rsa_request = gcs_v4.prepare(
        endpoint=c.endpoint,
        path=c.path,
        algorithm=gcs_v4.RSA,
        credential=EMAIL,
        timestamp=c.timestamp,
        expires=c.expires,
        method=c.method,
        headers=c.headers,
        query=c.query,
    ).canonical_request
    expected_request = rsa_request.replace(
        "X-Goog-Algorithm=GOOG4-RSA-SHA256", "X-Goog-Algorithm=GOOG4-HMAC-SHA256"
    )
    assert prepared.canonical_request == expected_request
    _, timestamp, scope, _ = vector["expectedStringToSign"].split("\n")
    digest = hashlib.sha256(expected_request.encode()).hexdigest()
    assert prepared.string_to_sign == f"GOOG4-HMAC-SHA256\n{timestamp}\n{scope}\n{digest}"


@pytest.mark.parametrize("vector", vectors())
def test_gcs_v4_rebuilds_string_to_sign_from_signed_url(vector: dict[str, Any]) -> None:
    rebuilt = gcs_v4.rebuild(
        vector["expectedUrl"], method=vector["method"], headers=vector.get("headers")
    )
    assert rebuilt.string_to_sign.decode() == vector["expectedStringToSign"]
    assert rebuilt.algorithm == gcs_v4.RSA
    assert verifies(vector["expectedUrl"], vector.get("headers"), vector["method"])


# The key-file backend ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def key_signer() -> GcsSigner:
    signer = build_signer(settings(**KEYED))
    assert isinstance(signer, GcsSigner)
    assert isinstance(signer.backend, KeyFileUrls)
    return signer


def test_gcs_signer_urls_verify_against_the_service_account_public_key(
    key_signer: GcsSigner,
) -> None:
    requests = [
        SignRequest("recordings/r1.mp4", 900),
        SignRequest("recordings/é 1 & +.mp4", 60, content_disposition=DISPOSITION),
    ]
    urls = key_signer.sign(requests, signed_at=WINDOW_START, window=300)
    for url in urls:
        assert url.url.startswith(f"https://storage.googleapis.com/{BUCKET}/recordings/")
        assert verifies(url.url)
    assert "/recordings/%C3%A9%201%20%26%20%2B.mp4?" in urls[1].url


def test_gcs_signer_same_request_and_window_gives_byte_identical_urls(
    key_signer: GcsSigner,
) -> None:
    request = SignRequest("a/b.mp4", 900, content_disposition=DISPOSITION)
    first = key_signer.sign([request], signed_at=WINDOW_START, window=300)
    again = key_signer.sign([request, request], signed_at=WINDOW_START, window=300)
    assert again == first * 2


def test_gcs_signer_new_window_changes_x_goog_date(key_signer: GcsSigner) -> None:
    request = SignRequest("a/b.mp4", 900)
    [first] = key_signer.sign([request], signed_at=WINDOW_START, window=300)
    [later] = key_signer.sign([request], signed_at=WINDOW_START + 300, window=300)
    assert query_of(first.url)["X-Goog-Date"] == "20231114T221500Z"
    assert query_of(later.url)["X-Goog-Date"] == "20231114T222000Z"


def test_gcs_signer_expires_is_window_plus_ttl(key_signer: GcsSigner) -> None:
    [url] = key_signer.sign([SignRequest("a.mp4", 900)], signed_at=WINDOW_START, window=300)
    assert query_of(url.url)["X-Goog-Expires"] == "1200"
    assert url.expires_at == datetime.fromtimestamp(WINDOW_START + 1200, UTC)


def test_gcs_signer_clamps_expires_to_seven_days(key_signer: GcsSigner) -> None:
    [url] = key_signer.sign([SignRequest("a.mp4", 604_800)], signed_at=WINDOW_START, window=300)
    assert query_of(url.url)["X-Goog-Expires"] == "604800"
    assert url.expires_at == datetime.fromtimestamp(WINDOW_START + 604_800, UTC)


def test_gcs_signer_signs_percent_encoded_content_disposition(key_signer: GcsSigner) -> None:
    request = SignRequest("a b.mp4", 900, content_disposition=DISPOSITION)
    [url] = key_signer.sign([request], signed_at=WINDOW_START, window=300)
    assert f"&response-content-disposition={ENCODED_DISPOSITION}&" in url.url
    assert query_of(url.url)["response-content-disposition"] == DISPOSITION
    assert verifies(url.url)
    tampered = url.url.replace(ENCODED_DISPOSITION, quote("inline", safe=""))
    assert not verifies(tampered)


# The HMAC backend --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hmac_signer() -> GcsSigner:
    signer = build_signer(settings(**HMAC_KEYED))
    assert isinstance(signer, GcsSigner)
    assert isinstance(signer.backend, HmacUrls)
    return signer


def test_hmac_signer_signature_matches_documented_key_derivation(hmac_signer: GcsSigner) -> None:
    [url] = hmac_signer.sign([SignRequest("a/b c.mp4", 900)], signed_at=WINDOW_START, window=300)
    query = query_of(url.url)
    assert query["X-Goog-Algorithm"] == "GOOG4-HMAC-SHA256"
    assert query["X-Goog-Credential"] == f"{ACCESS_ID}/20231114/auto/storage/goog4_request"
    # Written out from Google's description, independently of app.media.gcs_v4.
    credential = quote(f"{ACCESS_ID}/20231114/auto/storage/goog4_request", safe="")
    canonical_query = (
        f"X-Goog-Algorithm=GOOG4-HMAC-SHA256&X-Goog-Credential={credential}"
        "&X-Goog-Date=20231114T221500Z&X-Goog-Expires=1200&X-Goog-SignedHeaders=host"
    )
    canonical_request = (
        f"GET\n/{BUCKET}/a/b%20c.mp4\n{canonical_query}\n"
        "host:storage.googleapis.com\n\nhost\nUNSIGNED-PAYLOAD"
    )
    string_to_sign = (
        "GOOG4-HMAC-SHA256\n20231114T221500Z\n20231114/auto/storage/goog4_request\n"
        + hashlib.sha256(canonical_request.encode()).hexdigest()
    )
    key = ("GOOG4" + HMAC_SECRET).encode()
    for step in ("20231114", "auto", "storage", "goog4_request"):
        key = hmac.new(key, step.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    assert query["X-Goog-Signature"] == expected
    assert url.url == (
        f"https://storage.googleapis.com/{BUCKET}/a/b%20c.mp4?{canonical_query}"
        f"&X-Goog-Signature={expected}"
    )


def test_hmac_signer_urls_are_stable_in_a_window_and_sign_disposition(
    hmac_signer: GcsSigner,
) -> None:
    request = SignRequest("a.mp4", 900, content_disposition=DISPOSITION)
    first = hmac_signer.sign([request], signed_at=WINDOW_START, window=300)
    assert hmac_signer.sign([request], signed_at=WINDOW_START, window=300) == first
    [later] = hmac_signer.sign([request], signed_at=WINDOW_START + 300, window=300)
    assert later.url != first[0].url
    assert f"&response-content-disposition={ENCODED_DISPOSITION}&" in first[0].url
    rebuilt = gcs_v4.rebuild(first[0].url)
    key = gcs_v4.hmac_signing_key(HMAC_SECRET, "20231114")
    assert hmac.new(key, rebuilt.string_to_sign, hashlib.sha256).digest() == rebuilt.signature


# The keyless backend (IAM signBlob, faked: it would call Google) -------------------------------


class FakeTokenCredentials:
    """Stands in for GCE/GKE/Cloud Run credentials: no private key, an OAuth token that
    ``refresh`` renews, and an e-mail that is only known after a refresh (as on GCE)."""

    def __init__(self) -> None:
        self.token: str | None = None
        self.expiry: datetime | None = None
        self.service_account_email = "default"
        self.refreshes = 0

    def refresh(self, request: object) -> None:
        self.refreshes += 1
        self.token = f"token-{self.refreshes}"
        # naive UTC, as google.auth keeps it
        self.expiry = datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=1)
        self.service_account_email = EMAIL


@dataclass
class FakeIam:
    """Stands in for google-cloud-storage's generate_signed_url_v4 when given an e-mail and a
    token (it would call IAM signBlob): records them, then signs with the dummy key, which is
    what IAM would hold for that account."""

    credentials: service_account.Credentials
    calls: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, _credentials: object, *args: Any, **kwargs: Any) -> str:
        self.calls.append((kwargs.pop("service_account_email"), kwargs.pop("access_token")))
        assert kwargs.pop("universe_domain") == "googleapis.com"
        url: str = generate_signed_url_v4(self.credentials, *args, **kwargs)
        return url


@pytest.fixture
def fake_iam(dummy_credentials: service_account.Credentials) -> FakeIam:
    return FakeIam(dummy_credentials)


@pytest.fixture
def keyless(fake_iam: FakeIam) -> tuple[GcsSigner, FakeTokenCredentials]:
    credentials = FakeTokenCredentials()
    backend = KeylessUrls(credentials, endpoint="https://storage.googleapis.com", sign_v4=fake_iam)
    return GcsSigner(bucket=BUCKET, backend=backend), credentials


def test_keyless_signer_refreshes_token_once_for_100_urls(
    keyless: tuple[GcsSigner, FakeTokenCredentials], fake_iam: FakeIam
) -> None:
    signer, credentials = keyless
    batch = [SignRequest(f"k/{i}.mp4", 900) for i in range(50)]
    signer.sign(batch, signed_at=WINDOW_START, window=300)
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(
            pool.map(
                lambda i: signer.sign(
                    [SignRequest(f"t/{i}.mp4", 900)], signed_at=WINDOW_START, window=300
                ),
                range(50),
            )
        )
    assert credentials.refreshes == 1
    assert fake_iam.calls == [(EMAIL, "token-1")] * 100


def test_keyless_signer_refreshes_expired_token_once_more(
    keyless: tuple[GcsSigner, FakeTokenCredentials], fake_iam: FakeIam
) -> None:
    signer, credentials = keyless
    requests = [SignRequest(f"k/{i}.mp4", 900) for i in range(10)]
    signer.sign(requests, signed_at=WINDOW_START, window=300)
    credentials.expiry = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=1)
    for request in requests:
        [url] = signer.sign([request], signed_at=WINDOW_START + 300, window=300)
        assert verifies(url.url)
    assert credentials.refreshes == 2
    assert [token for _, token in fake_iam.calls] == ["token-1"] * 10 + ["token-2"] * 10


class FakeIamTransport:
    """Replaces google.auth's HTTP transport, which the library's IAM signBlob call uses: answers
    as IAM would, signing with the dummy key, and records what it was sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def __call__(self, *, url: str, method: str, body: str, headers: dict[str, str]) -> Any:
        self.sent.append((url, headers["Authorization"]))
        payload = base64.b64decode(json.loads(body)["payload"])
        signed = base64.b64encode(rsa_sign(payload)).decode()
        return SimpleNamespace(status=200, data=json.dumps({"signedBlob": signed}).encode())


def test_keyless_signer_calls_iam_sign_blob_through_the_library(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The real library call, with only the network replaced."""
    transport = FakeIamTransport()
    monkeypatch.setattr(google.auth.transport.requests, "Request", lambda: transport)
    credentials = FakeTokenCredentials()
    backend = KeylessUrls(credentials, endpoint="https://storage.googleapis.com")
    signer = GcsSigner(bucket=BUCKET, backend=backend)
    requests = [SignRequest(f"k/{i}.mp4", 900, content_disposition=DISPOSITION) for i in range(3)]
    urls = signer.sign(requests, signed_at=WINDOW_START, window=300)
    assert all(verifies(url.url) for url in urls)
    iam = f"https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/{EMAIL}:signBlob"
    assert transport.sent == [(f"{iam}?alt=json", "Bearer token-1")] * 3
    assert credentials.refreshes == 1


def test_keyless_signer_is_chosen_for_default_credentials_without_a_key() -> None:
    signer = gcs_signer(settings(**GCS), default_credentials=FakeTokenCredentials)
    assert isinstance(signer.backend, KeylessUrls)


def test_default_service_account_key_credentials_sign_locally(
    dummy_credentials: service_account.Credentials,
) -> None:
    signer = gcs_signer(settings(**GCS), default_credentials=lambda: dummy_credentials)
    assert isinstance(signer.backend, KeyFileUrls)


# Configuration -----------------------------------------------------------------------------------


def test_build_signer_defaults_to_local_backend() -> None:
    signer = build_signer(settings())
    assert isinstance(signer, LocalSigner)


def write(tmp_path: Path, content: str) -> str:
    path = tmp_path / "key.json"
    path.write_text(content)
    return str(path)


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        pytest.param({"FOOTAGE_STORAGE": "gcs"}, "FOOTAGE_GCS_BUCKET", id="no bucket"),
        pytest.param({**GCS, "FOOTAGE_GCS_BUCKET": "gs://b"}, "FOOTAGE_GCS_BUCKET", id="url"),
        pytest.param(
            {**GCS, "FOOTAGE_GCS_ENDPOINT": "https://h/p"}, "FOOTAGE_GCS_ENDPOINT", id="path"
        ),
        pytest.param(
            {**GCS, "FOOTAGE_GCS_ENDPOINT": "https://h:99999"}, "FOOTAGE_GCS_ENDPOINT", id="port"
        ),
        pytest.param(
            {**GCS, "FOOTAGE_GCS_ENDPOINT": "storage.googleapis.com"},
            "FOOTAGE_GCS_ENDPOINT",
            id="no scheme",
        ),
        pytest.param(
            {**GCS, "GOOGLE_APPLICATION_CREDENTIALS": "/nonexistent/key.json"},
            "GOOGLE_APPLICATION_CREDENTIALS",
            id="unreadable key",
        ),
        pytest.param(
            {**GCS, "FOOTAGE_GCS_HMAC_ACCESS_ID": ACCESS_ID},
            "FOOTAGE_GCS_HMAC_SECRET",
            id="hmac id only",
        ),
        pytest.param(
            {**GCS, "FOOTAGE_GCS_HMAC_SECRET": HMAC_SECRET},
            "FOOTAGE_GCS_HMAC_ACCESS_ID",
            id="hmac secret only",
        ),
    ],
)
def test_build_signer_bad_gcs_configuration_raises_one_line_settings_error(
    environ: dict[str, str], variable: str
) -> None:
    with pytest.raises(SettingsError, match=variable) as error:
        build_signer(settings(**environ))
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    "content",
    [
        pytest.param("{not json", id="not json"),
        pytest.param('{"type": "authorized_user"}', id="not a service account"),
        pytest.param("[]", id="not an object"),
        pytest.param(
            json.dumps({**json.loads(KEY_FILE.read_text()), "private_key": "-----BEGIN"}),
            id="bad private key",
        ),
    ],
)
def test_build_signer_invalid_key_file_raises_one_line_settings_error(
    tmp_path: Path, content: str
) -> None:
    environ = {**GCS, "GOOGLE_APPLICATION_CREDENTIALS": write(tmp_path, content)}
    with pytest.raises(SettingsError, match=r"^GOOGLE_APPLICATION_CREDENTIALS") as error:
        build_signer(settings(**environ))
    assert "\n" not in str(error.value)


def test_settings_unknown_storage_raises_settings_error() -> None:
    with pytest.raises(SettingsError, match="FOOTAGE_STORAGE"):
        settings(FOOTAGE_STORAGE="s3")


def test_gcs_signer_without_usable_default_credentials_raises_settings_error() -> None:
    def missing() -> UserCredentials:
        raise DefaultCredentialsError("Your default credentials were not found.")

    with pytest.raises(SettingsError, match="GOOGLE_APPLICATION_CREDENTIALS"):
        gcs_signer(settings(**GCS), default_credentials=missing)
    with pytest.raises(SettingsError, match="cannot sign URLs"):
        gcs_signer(settings(**GCS), default_credentials=lambda: UserCredentials(token="t"))


def test_settings_hmac_secret_stays_out_of_repr() -> None:
    assert HMAC_SECRET not in repr(settings(**HMAC_KEYED))

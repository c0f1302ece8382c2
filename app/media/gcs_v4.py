"""Google Cloud Storage V4 query-string signing, the pieces of Google's published algorithm
(https://cloud.google.com/storage/docs/authentication/signatures), in the standard library only.

google-cloud-storage signs GOOG4-RSA-SHA256 URLs itself but has no GOOG4-HMAC-SHA256 signer, so
the HMAC backend builds its URLs here; tests also use these pieces to check the library's URLs
against Google's conformance vectors and to rebuild a URL's string-to-sign for verification.

Both algorithms share the canonical request; their strings-to-sign differ only in the algorithm
name, and their signatures in how the string-to-sign is signed (RSA key or derived HMAC key).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

RSA = "GOOG4-RSA-SHA256"
HMAC = "GOOG4-HMAC-SHA256"
MAX_EXPIRES = 604_800  # seven days: GCS rejects longer X-Goog-Expires
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"

# RFC 3986 unreserved characters; everything else is percent-encoded (UTF-8 first).
_UNRESERVED = "-_.~"
_WHITESPACE = re.compile(r"\s+")

Sign = Callable[[bytes], bytes]


def encode(value: str) -> str:
    """RFC 3986 percent-encoding of a query name or value (a space is %20, never +)."""
    return quote(value, safe=_UNRESERVED)


def encode_path(object_name: str) -> str:
    """An object name as a URL path: encoded like a query value, except that its slashes stay,
    as Google's vectors require (they are part of the name, not separators to escape)."""
    return quote(object_name, safe=_UNRESERVED + "/")


def host_of(netloc: str) -> str:
    """The Host value to sign for an endpoint's netloc: without the port, as Google's vectors
    sign it (``localhost:8080`` and ``storage.googleapis.com:443`` both sign the bare host)."""
    if netloc.startswith("["):  # an IPv6 literal keeps its brackets
        return netloc[: netloc.index("]") + 1]
    return netloc.partition(":")[0]


def canonical_headers(headers: Mapping[str, str]) -> tuple[str, str]:
    """(canonical header block, signed header names). Names are lowercased; values trimmed with
    inner whitespace runs collapsed; names that differ only by case are joined with commas."""
    merged: dict[str, list[str]] = {}
    for name, value in headers.items():
        merged.setdefault(name.strip().lower(), []).append(_WHITESPACE.sub(" ", value).strip())
    names = sorted(merged)
    block = "".join(f"{name}:{','.join(merged[name])}\n" for name in names)
    return block, ";".join(names)


def canonical_query(params: Mapping[str, str]) -> str:
    """Names and values encoded, then sorted by name (then value), by code point as Google's
    description asks."""
    pairs = sorted((encode(name), encode(value)) for name, value in params.items())
    return "&".join(f"{name}={value}" for name, value in pairs)


def canonical_request(*, method: str, path: str, query: str, headers: Mapping[str, str]) -> str:
    """``path`` is already encoded (see encode_path); ``query`` is a canonical query string and
    must already name the signed headers. The payload is unsigned unless the request carries
    ``x-goog-content-sha256``."""
    block, signed = canonical_headers(headers)
    lowered = {name.lower(): value for name, value in headers.items()}
    payload = lowered.get("x-goog-content-sha256", UNSIGNED_PAYLOAD)
    return "\n".join((method, path, query, block, signed, payload))


def credential_scope(datestamp: str) -> str:
    return f"{datestamp}/auto/storage/goog4_request"


def string_to_sign(*, algorithm: str, timestamp: str, canonical_request: str) -> str:
    """``timestamp`` is the X-Goog-Date (``YYYYMMDDTHHMMSSZ``); its first 8 characters date the
    credential scope."""
    digest = hashlib.sha256(canonical_request.encode()).hexdigest()
    return "\n".join((algorithm, timestamp, credential_scope(timestamp[:8]), digest))


def hmac_signing_key(secret: str, datestamp: str) -> bytes:
    """The GOOG4-HMAC-SHA256 key for one day: "GOOG4"+secret, then date, region, service and
    request type, each an HMAC-SHA256 step. Constant for a day, so callers may derive it once."""
    key = ("GOOG4" + secret).encode()
    for part in (datestamp, "auto", "storage", "goog4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def hmac_signer(signing_key: bytes) -> Sign:
    return lambda message: hmac.new(signing_key, message, hashlib.sha256).digest()


@dataclass(frozen=True, slots=True)
class Prepared:
    """Everything of a V4 URL before the signature; ``url(signature)`` completes it."""

    base: str
    path: str
    query: str
    canonical_request: str
    string_to_sign: str

    def url(self, signature: bytes) -> str:
        return f"{self.base}{self.path}?{self.query}&X-Goog-Signature={signature.hex()}"


def prepare(
    *,
    endpoint: str,
    path: str,
    algorithm: str,
    credential: str,
    timestamp: str,
    expires: int,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, str] | None = None,
) -> Prepared:
    """The canonical request and string-to-sign of a URL to ``endpoint`` (scheme://host[:port])
    + ``path`` (encoded). ``credential`` is the service account's e-mail or the HMAC access ID.
    A Host header is signed unless ``headers`` has one (see host_of)."""
    all_headers = dict(headers or {})
    if not any(name.lower() == "host" for name in all_headers):
        all_headers["host"] = host_of(urlsplit(endpoint).netloc)
    _, signed = canonical_headers(all_headers)
    params = {
        **(query or {}),
        "X-Goog-Algorithm": algorithm,
        "X-Goog-Credential": f"{credential}/{credential_scope(timestamp[:8])}",
        "X-Goog-Date": timestamp,
        "X-Goog-Expires": str(expires),
        "X-Goog-SignedHeaders": signed,
    }
    canonical_query_string = canonical_query(params)
    request = canonical_request(
        method=method, path=path, query=canonical_query_string, headers=all_headers
    )
    to_sign = string_to_sign(algorithm=algorithm, timestamp=timestamp, canonical_request=request)
    return Prepared(endpoint.rstrip("/"), path, canonical_query_string, request, to_sign)


def signed_url(
    *,
    sign: Sign,
    endpoint: str,
    path: str,
    algorithm: str,
    credential: str,
    timestamp: str,
    expires: int,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, str] | None = None,
) -> str:
    """A complete signed URL (see prepare). ``sign`` turns the string-to-sign into raw signature
    bytes: an RSA key's PKCS#1 v1.5 SHA-256 signature, or hmac_signer's."""
    prepared = prepare(
        endpoint=endpoint,
        path=path,
        algorithm=algorithm,
        credential=credential,
        timestamp=timestamp,
        expires=expires,
        method=method,
        headers=headers,
        query=query,
    )
    return prepared.url(sign(prepared.string_to_sign.encode()))


@dataclass(frozen=True, slots=True)
class Rebuilt:
    string_to_sign: bytes
    signature: bytes
    algorithm: str


def rebuild(url: str, *, method: str = "GET", headers: Mapping[str, str] | None = None) -> Rebuilt:
    """What a verifier needs from a signed URL: its string-to-sign, rebuilt from the URL as GCS
    would, and the signature it carries. ``headers`` gives the values of signed headers other
    than Host (which comes from the URL, see host_of)."""
    parts = urlsplit(url)
    params = dict(
        (unquote(name), unquote(value))
        for name, _, value in (pair.partition("=") for pair in parts.query.split("&"))
    )
    signature = bytes.fromhex(params.pop("X-Goog-Signature"))
    given = {name.lower(): value for name, value in (headers or {}).items()}
    given.setdefault("host", host_of(parts.netloc))
    signed = {name: given[name] for name in params["X-Goog-SignedHeaders"].split(";")}
    request = canonical_request(
        method=method, path=parts.path, query=canonical_query(params), headers=signed
    )
    algorithm = params["X-Goog-Algorithm"]
    to_sign = string_to_sign(
        algorithm=algorithm, timestamp=params["X-Goog-Date"], canonical_request=request
    )
    return Rebuilt(to_sign.encode(), signature, algorithm)

"""What is measured: GraphQL documents and who sends them."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.demo.queries import document
from app.settings import Settings
from bench.dataset import Dataset
from resolvers.pagination import encode_cursor

DEEP = 10_000
# Google's public dummy service-account key (tests/data/gcs-v4/SOURCE.txt): real RSA-2048
# signatures, for a bucket nobody owns. URLs are signed, never fetched.
TEST_KEY = (
    Path(__file__).resolve().parent.parent
    / "tests/data/gcs-v4/test_service_account.not-a-test.json"
)
# The server settings of each storage backend measured: the app's own local URLs, and GCS V4
# URLs signed with a service-account key (RSA) or an HMAC key (dummy values).
STORAGES: dict[str, dict[str, str]] = {
    "local": {},
    "gcs-rsa": {
        "FOOTAGE_STORAGE": "gcs",
        "FOOTAGE_GCS_BUCKET": "footage-bench",
        "GOOGLE_APPLICATION_CREDENTIALS": str(TEST_KEY),
    },
    "gcs-hmac": {
        "FOOTAGE_STORAGE": "gcs",
        "FOOTAGE_GCS_BUCKET": "footage-bench",
        "FOOTAGE_GCS_HMAC_ACCESS_ID": "GOOG1EBENCHDUMMYACCESSID",
        "FOOTAGE_GCS_HMAC_SECRET": "YmVuY2gtZHVtbXktaG1hYy1zZWNyZXQtbm90LXJlYWw=",
    },
}
# Seed 000's GetAllResults selection, paged and parameterised, plus the recording's mediaUrl.
_PAGE = """
query BenchPage($uuid: String!, $first: Int!, $after: String) {
  userTest(uuid: $uuid) {
    results(first: $first, after: $after) {
      edges { node { pk recordings { download {
        %s attachedMedia { language media { type status %s } }
      } } } }
    }
  }
}"""
PAGE_URLS = _PAGE % ("mediaUrl", "url")
PAGE_NO_URLS = _PAGE % ("", "")

# The warm page built up one selection at a time (``python -m bench.breakdown``): each step's
# instructions less the step before's are what that selection costs, its loads, objects,
# execution and JSON together. The last step is PAGE_URLS.
_STEP = """
query BenchPage($uuid: String!, $first: Int!, $after: String) {
  userTest(uuid: $uuid) { %s }
}"""
_EDGES = "results(first: $first, after: $after) { edges { %s } }"
_NODE = _EDGES % "node { pk %s }"
_DOWNLOAD = _NODE % "recordings { download { %s } }"
_MEDIA = _DOWNLOAD % "attachedMedia { language media { %s } }"
BREAKDOWN: tuple[tuple[str, str], ...] = (
    ("the user test", "query BenchPage($uuid: String!) { userTest(uuid: $uuid) { __typename } }"),
    ("a page of 100 edges", _STEP % (_EDGES % "__typename")),
    ("each result's `pk`", _STEP % (_NODE % "")),
    ("each result's recordings", _STEP % (_NODE % "recordings { __typename }")),
    ("each recording's download", _STEP % (_DOWNLOAD % "__typename")),
    ("the media, grouped by language", _STEP % (_DOWNLOAD % "attachedMedia { language }")),
    ("each media item", _STEP % (_MEDIA % "__typename")),
    ("each item's `type` and `status`", _STEP % (_MEDIA % "type status")),
    ("each item's `url`", _STEP % (_MEDIA % "type status url")),
    ("each recording's `mediaUrl`", PAGE_URLS),
)


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    body: dict[str, Any]
    api_key: str
    urls: bool = False  # selects signed URLs
    cold: bool = False  # measured with the URL cache off (FOOTAGE_URL_CACHE_SIZE=0)
    # False: measured with the read cache off (FOOTAGE_READ_CACHE_SIZE=0, app.store.tree_cache):
    # every request reads its results' recordings and media.
    read_cache: bool = True
    # False: measured with the page cache off (FOOTAGE_PAGE_CACHE_SIZE=0, resolvers.page_answers):
    # every request builds its page, from the read cache.
    page_cache: bool = True
    http: bool = True  # False: in-process probe only (statement count)
    storage: str = "local"  # a key of STORAGES
    concurrency: tuple[int, ...] = (1, 16)  # the HTTP runs

    @property
    def server(self) -> tuple[str, bool, bool, bool]:
        """Scenarios with the same server settings share a server."""
        return self.storage, self.cold, self.read_cache, self.page_cache

    @property
    def environment(self) -> dict[str, str]:
        """The server's settings beyond its storage's (``STORAGES``)."""
        return {
            **STORAGES[self.storage],
            **({"FOOTAGE_URL_CACHE_SIZE": "0"} if self.cold else {}),
            **({} if self.read_cache else {"FOOTAGE_READ_CACHE_SIZE": "0"}),
            **({} if self.page_cache else {"FOOTAGE_PAGE_CACHE_SIZE": "0"}),
        }

    def configure(self, settings: Settings) -> Settings:
        """``settings`` (of the scenario's storage) with its caches as the scenario has them."""
        if self.cold:
            settings = dataclasses.replace(settings, url_cache_size=0)
        if not self.read_cache:
            settings = dataclasses.replace(settings, read_cache_size=0)
        if not self.page_cache:
            settings = dataclasses.replace(settings, page_cache_size=0)
        return settings


def deep_position(dataset: Dataset) -> int:
    """10,000 results deep, or the last full page of a smaller dataset."""
    return max(0, min(DEEP, dataset.results - 100))


def _page(dataset: Dataset, query: str, first: int = 100, position: int = 0) -> dict[str, Any]:
    after = encode_cursor(dataset.result_id(position - 1)) if position else None
    variables = {"uuid": dataset.user_test_uuid, "first": first, "after": after}
    return {"query": query, "variables": variables}


def breakdown_scenarios(dataset: Dataset) -> list[Scenario]:
    """BREAKDOWN's steps, warm (in-process only: ``bench.breakdown`` counts them)."""
    return [
        Scenario(
            f"breakdown_{index}",
            label,
            _page(dataset, query),
            dataset.api_key,
            urls="url" in query.lower(),  # `url`, `mediaUrl`
            page_cache=False,  # what building each selection costs
        )
        for index, (label, query) in enumerate(BREAKDOWN)
    ]


def scenarios(dataset: Dataset) -> list[Scenario]:
    page = functools.partial(_page, dataset)
    key = dataset.api_key
    deep = deep_position(dataset)
    return [
        Scenario("typename", "`{ __typename }`", {"query": "{ __typename }"}, key),
        Scenario(
            "specific_result",
            "seed 000 `specificResult` (demo data)",
            {"query": document("specificResult")},
            dataset.demo_api_key,
            urls=True,
        ),
        Scenario("page_urls_warm", "100-result page + URLs, warm", page(PAGE_URLS), key, True),
        Scenario(
            "page_urls_cold",
            "100-result page + URLs, cold (no URL cache)",
            page(PAGE_URLS),
            key,
            urls=True,
            cold=True,
        ),
        Scenario(
            "page_urls_uncached",
            "100-result page + URLs, warm, read cache off",
            page(PAGE_URLS),
            key,
            urls=True,
            read_cache=False,
        ),
        Scenario(
            "page_urls_rebuilt",
            "100-result page + URLs, warm, page cache off",
            page(PAGE_URLS),
            key,
            urls=True,
            page_cache=False,
        ),
        Scenario("page_no_urls", "100-result page, no URL fields", page(PAGE_NO_URLS), key),
        Scenario(
            "page_deep_no_urls",
            f"100-result page {deep:,} deep, no URL fields",
            page(PAGE_NO_URLS, position=deep),
            key,
        ),
        *(
            Scenario(
                f"page_urls_{temperature}_{name}",
                f"100-result page + URLs, {temperature}, GCS {label}",
                page(PAGE_URLS),
                key,
                urls=True,
                cold=temperature == "cold",
                storage=f"gcs-{name}",
                concurrency=(1,),
            )
            for name, label in (("rsa", "RSA key file"), ("hmac", "HMAC key"))
            for temperature in ("warm", "cold")
        ),
        Scenario(
            "page1_urls",
            "1-result page + URLs, read cache off (statement count only)",
            page(PAGE_URLS, first=1),
            key,
            urls=True,
            http=False,
            read_cache=False,
        ),
    ]

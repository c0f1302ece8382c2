"""End to end through real processes: ``python -m app`` commands on a fresh SQLite var directory,
and a real uvicorn server answering real HTTP.

One var directory (migrated and seeded) and one server are shared by the module; the unmigrated
case gets its own directory. Every process is waited for, and the server is terminated (killed if
it lingers) however the tests end.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import pytest

from app.demo.queries import NAMES, document
from app.demo.seed import TEST_UUID
from app.media.local import ROUTE_PREFIX
from tests.support.served import demo_key_of, footage, free_port, serving, succeeded

USER_TEST_QUERY = f'{{ userTest(uuid: "{TEST_UUID}") {{ id name }} }}'


@dataclass(frozen=True)
class DemoVar:
    path: Path
    migrate: subprocess.CompletedProcess[str]
    seed: subprocess.CompletedProcess[str]

    @property
    def demo_key(self) -> str:
        return demo_key_of(self.seed.stdout)


@pytest.fixture(scope="module")
def demo_var(tmp_path_factory: pytest.TempPathFactory) -> DemoVar:
    """A var directory brought up the documented way: ``migrate``, then ``seed-demo``."""
    path = tmp_path_factory.mktemp("footage-var")
    migrate = succeeded(footage(path, "migrate"))
    seed = succeeded(footage(path, "seed-demo"))
    return DemoVar(path, migrate, seed)


@dataclass(frozen=True)
class Server:
    base_url: str
    demo_key: str
    media_root: Path

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=10)


@pytest.fixture(scope="module")
def server(demo_var: DemoVar) -> Iterator[Server]:
    """``python -m app serve`` on the demo var directory. Valid keys are not cached
    (``FOOTAGE_API_KEY_CACHE_SECONDS=0``) so that a revocation shows on the next request."""
    log = demo_var.path / "server.log"
    with serving(demo_var.path, log, FOOTAGE_API_KEY_CACHE_SECONDS="0") as base_url:
        yield Server(base_url, demo_var.demo_key, demo_var.path / "media")


def post(client: httpx.Client, query: str) -> httpx.Response:
    return client.post("/graphql", json={"query": query})


def data_of(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body["errors"]
    data: dict[str, Any] = body["data"]
    return data


def assert_unauthenticated(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert "data" not in body
    assert [error["extensions"]["code"] for error in body["errors"]] == ["UNAUTHENTICATED"]


def test_cli_migrate_then_seed_demo_prints_the_demo_key(demo_var: DemoVar) -> None:
    assert demo_var.migrate.stdout.startswith("footage: database at the latest revision")
    assert "footage: demo data loaded" in demo_var.seed.stdout
    assert demo_var.demo_key.startswith("ftg_")
    assert (demo_var.path / "demo_api_key").read_text().strip() == demo_var.demo_key


def test_cli_seed_demo_again_says_already_loaded_and_keeps_the_key(demo_var: DemoVar) -> None:
    again = succeeded(footage(demo_var.path, "seed-demo"))

    assert "footage: demo data already loaded" in again.stdout
    assert "; 0 files written" in again.stdout
    assert demo_key_of(again.stdout) == demo_var.demo_key
    assert (demo_var.path / "demo_api_key").read_text().strip() == demo_var.demo_key


def test_cli_create_api_key_prints_only_the_key(demo_var: DemoVar) -> None:
    created = succeeded(
        footage(demo_var.path, "create-api-key", "--workspace", "acme", "--label", "cli test")
    )

    [key] = created.stdout.splitlines()
    assert created.stdout == key + "\n"
    assert key.startswith("ftg_")
    assert key.strip() == key
    assert key != demo_var.demo_key


@pytest.mark.parametrize("slug", ["a/b", "Acme", "", "acme_co", "x" * 65])
def test_cli_refuses_a_slug_that_could_not_prefix_storage_keys(
    demo_var: DemoVar, slug: str
) -> None:
    refused = footage(demo_var.path, "create-api-key", "--workspace", slug)
    assert refused.returncode == 2
    assert refused.stdout == ""
    assert "lower-case letters, digits and hyphens" in refused.stderr


def test_cli_api_key_sees_only_its_workspace_until_revoked(
    demo_var: DemoVar, server: Server
) -> None:
    key = succeeded(footage(demo_var.path, "create-api-key", "--workspace", "acme")).stdout.strip()

    with server.client(key) as acme, server.client(server.demo_key) as demo:
        assert data_of(post(acme, USER_TEST_QUERY)) == {"userTest": None}
        assert data_of(post(acme, document("specificResult"))) == {"userTestResult": None}

        revoked = succeeded(footage(demo_var.path, "revoke-api-key", key))
        assert revoked.stdout == ""
        assert "revoked" in revoked.stderr

        assert_unauthenticated(post(acme, USER_TEST_QUERY))
        # Only that key: the demo workspace's own key still answers.
        assert data_of(post(demo, USER_TEST_QUERY))["userTest"]["id"]


def test_cli_revoke_api_key_of_an_unknown_key_fails_in_one_line(demo_var: DemoVar) -> None:
    result = footage(demo_var.path, "revoke-api-key", "ftg_never-issued")

    assert result.returncode != 0
    assert result.stderr.strip() == "footage: no such active key"
    assert result.stdout == ""


def test_cli_serve_on_an_unmigrated_database_exits_with_one_clear_line(tmp_path: Path) -> None:
    result = footage(tmp_path, "serve", HOST="127.0.0.1", PORT=str(free_port()))

    assert result.returncode != 0
    [line] = result.stderr.strip().splitlines()
    assert "migrate" in line
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "demo_api_key").exists()


@pytest.mark.parametrize("name", NAMES)
def test_server_answers_seed_query_sent_verbatim(server: Server, name: str) -> None:
    with server.client(server.demo_key) as http:
        data = data_of(post(http, document(name)))

    if name == "specificResult":
        result = data["userTestResult"]
        assert result["responseUUID"] == "ut_response_9568e478-f8fe-450d-81e6-741a279c6b5b"
    elif name == "listResults":
        assert len(data["userTest"]["results"]["edges"]) == 4
    else:
        edges = data["userTest"]["results"]["edges"]
        assert len(edges) == 10
        assert [edge["node"]["pk"] for edge in edges[:3]] == [12345, 12346, 12347]


def test_server_serves_the_recording_url_it_hands_out(server: Server) -> None:
    with server.client(server.demo_key) as http:
        data = data_of(post(http, document("specificResult")))
        url = data["userTestResult"]["recordings"]["download"]["mediaUrl"]
        # The default public URL is the server's own address.
        assert url.startswith(f"{server.base_url}{ROUTE_PREFIX}")
        response = http.get(url)

    key = unquote(urlsplit(url).path.removeprefix(ROUTE_PREFIX))
    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"
    assert response.content == (server.media_root / key).read_bytes()


def test_server_graphiql_page_carries_the_demo_key_and_seed_queries(server: Server) -> None:
    with server.client() as http:
        response = http.get("/graphql", headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert server.demo_key in response.text
    for name in NAMES:
        assert f"query {name}" in response.text


@pytest.mark.parametrize("authorization", [None, "Bearer ftg_not-a-real-key"])
def test_server_request_without_a_valid_key_is_unauthenticated(
    server: Server, authorization: str | None
) -> None:
    with server.client() as http:
        headers = {"Authorization": authorization} if authorization else {}
        response = http.post("/graphql", json={"query": USER_TEST_QUERY}, headers=headers)

    assert_unauthenticated(response)

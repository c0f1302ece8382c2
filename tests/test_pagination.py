"""Results are a Relay connection with opaque keyset cursors and bounded pages."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from app.ids import from_global_id, to_global_id, urlsafe_unpadded
from resolvers.pagination import decode_cursor, encode_cursor
from tests.support.graphql import error_codes, gql

PAGE = """query($first: Int, $after: String, $last: Int, $before: String) {
  userTest(uuid: "ut_645c4faa-5c2d-49b1-85fa-823ffbbbfa17") {
    results(first: $first, after: $after, last: $last, before: $before) {
      edges { cursor node { pk } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
}"""
ALL_PKS = list(range(12345, 12345 + 120))


async def page(client: httpx.AsyncClient, **variables: Any) -> dict[str, Any]:
    body = await gql(client, PAGE, variables)
    results: dict[str, Any] = body["data"]["userTest"]["results"]
    return results


def pks(results: dict[str, Any]) -> list[int]:
    return [edge["node"]["pk"] for edge in results["edges"]]


async def test_results_forward_pages_cover_every_result_once_in_order(
    client: httpx.AsyncClient,
) -> None:
    seen: list[int] = []
    after = None
    while True:
        results = await page(client, first=50, after=after)
        seen += pks(results)
        info = results["pageInfo"]
        assert info["endCursor"] == results["edges"][-1]["cursor"]
        assert info["hasPreviousPage"] is (after is not None)
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
    assert seen == ALL_PKS


async def test_results_backward_pages_walk_from_the_end(client: httpx.AsyncClient) -> None:
    last_page = await page(client, last=30)
    assert pks(last_page) == ALL_PKS[-30:]
    assert last_page["pageInfo"]["hasPreviousPage"] is True
    before = await page(client, last=30, before=last_page["pageInfo"]["startCursor"])
    assert pks(before) == ALL_PKS[-60:-30]
    assert before["pageInfo"]["hasNextPage"] is True


async def test_results_default_page_holds_twenty(client: httpx.AsyncClient) -> None:
    assert pks(await page(client)) == ALL_PKS[:20]


async def test_results_page_after_the_last_cursor_is_empty(client: httpx.AsyncClient) -> None:
    end = (await page(client, last=1))["pageInfo"]["endCursor"]
    results = await page(client, first=10, after=end)
    assert results["edges"] == []
    assert results["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": True,
        "startCursor": None,
        "endCursor": None,
    }


@pytest.mark.parametrize(
    "variables",
    [
        {"first": 0},
        {"first": 101},
        {"last": -1},
        {"first": 5, "last": 5},
        {"first": 5, "after": "not-a-cursor"},
        {"first": 5, "after": "djE6MTIzNDU6OTk"},  # base64 of "v1:12345:99"
        {"last": 5, "before": "%%%"},
    ],
)
async def test_results_bad_page_arguments_are_bad_user_input(
    client: httpx.AsyncClient, variables: dict[str, Any]
) -> None:
    body = await gql(client, PAGE, variables, expect_errors=True)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["data"]["userTest"] is None


@pytest.mark.parametrize("size", range(12))
def test_ids_and_cursors_are_base64url_without_padding(size: int) -> None:
    """``urlsafe_unpadded`` is base64's urlsafe encoding, unpadded, for every length modulo 3
    and bytes that need the urlsafe letters; cursors and global ids decode with it."""
    data = bytes((251 * index + 62 * size) % 256 for index in range(size)) + b"\xfb\xff"[: size % 3]
    assert urlsafe_unpadded(data) == base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    assert decode_cursor(encode_cursor(10**size)) == 10**size
    assert from_global_id(to_global_id("UserTestResult", f"ut_{size}")) == (
        "UserTestResult",
        f"ut_{size}",
    )

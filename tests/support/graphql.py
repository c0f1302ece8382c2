"""Send real GraphQL documents; fail loudly on errors nobody expected."""

from __future__ import annotations

import time
from typing import Any

import httpx


async def gql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    expect_errors: bool = False,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    if not expect_errors:
        assert "errors" not in body, body["errors"]
    return body


def error_codes(body: dict[str, Any]) -> list[str]:
    return [error.get("extensions", {}).get("code") for error in body.get("errors", [])]


def same_signing_window(client: httpx.AsyncClient) -> None:
    """Freeze the signing clock of ``client``'s app: responses compared across requests then
    carry the same URLs, even when a signing window would end between them."""
    minter = client._transport.app.state.services.minter  # type: ignore[attr-defined]
    now = time.time()
    minter._now = lambda: now

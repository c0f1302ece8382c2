"""Every list field costs the same number of statements for 1, 10 and 100 results."""

from __future__ import annotations

import httpx
import pytest

from app.demo.queries import document
from tests.conftest import StatementCounter
from tests.support.graphql import gql


def with_page_size(name: str, size: int) -> str:
    text = document(name)
    for original in ("results(first: 4)", "results(first: 10)"):
        text = text.replace(original, f"results(first: {size})")
    return text


FULL_SELECTION = """
query Full($first: Int!) {
  userTest(uuid: "ut_645c4faa-5c2d-49b1-85fa-823ffbbbfa17") {
    id uuid name createdAt
    results(first: $first) {
      edges { cursor node {
        id pk responseUUID name status createdAt
        participant { anonymousId email name }
        recordings { download {
          id isAudio mediaUrl filesize duration failedStatus failedType mimeType
          missingDataWarning usertestName startTime createdAt language
          attachedMedia { language media { id type status statusReason url error finalisedAt } }
        } }
      } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""


async def count_for(
    client: httpx.AsyncClient, statements: StatementCounter, query: str, **variables: int
) -> int:
    await gql(client, "{ __typename }")  # authenticates once; the key is cached from here on
    statements.reset()
    body = await gql(client, query, variables)
    assert body["data"]["userTest"] is not None
    return statements.count


@pytest.mark.parametrize("name", ["listResults", "GetAllResults"])
async def test_seed_list_queries_cost_four_statements_whatever_the_page_size(
    client: httpx.AsyncClient, statements: StatementCounter, name: str
) -> None:
    counts = [
        await count_for(client, statements, with_page_size(name, size)) for size in (1, 10, 100)
    ]
    assert counts == [4, 4, 4], statements.statements


async def test_full_selection_costs_the_same_for_1_10_and_100_results(
    client: httpx.AsyncClient, statements: StatementCounter
) -> None:
    counts = [await count_for(client, statements, FULL_SELECTION, first=n) for n in (1, 10, 100)]
    # user test, results page (participants joined), recordings, attached media
    assert counts == [4, 4, 4], statements.statements


async def test_total_count_costs_one_statement_only_when_selected(
    client: httpx.AsyncClient, statements: StatementCounter
) -> None:
    query = """query($withCount: Boolean!) {
      userTest(uuid: "ut_645c4faa-5c2d-49b1-85fa-823ffbbbfa17") {
        results(first: 5) { totalCount @include(if: $withCount) edges { node { pk } } } } }"""
    await gql(client, "{ __typename }")
    statements.reset()
    await gql(client, query, {"withCount": False})
    without = statements.count
    statements.reset()
    body = await gql(client, query, {"withCount": True})
    assert body["data"]["userTest"]["results"]["totalCount"] == 120
    assert statements.count == without + 1

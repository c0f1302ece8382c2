from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

import strawberry

from app.context import Context
from app.execution import Kept, stable
from app.ids import to_global_id
from app.pacing import PacedList
from app.store.records import UserTestRecord
from resolvers.build import built
from resolvers.node import Node
from resolvers.page_answers import keep_page, kept_page, page_answer_key
from resolvers.pagination import PageInfo, encode_cursor, page_request
from resolvers.recording import BuiltRecording, TestSessionRecording
from resolvers.recording_selection import AnyInfo, page_recordings_selection
from resolvers.signed_url import UrlLog
from resolvers.user_test_result import UserTestResult


def _edge_cursor(root: UserTestResultEdge) -> str:
    return encode_cursor(root.node.pk)


@strawberry.type(description="A result and its cursor.")
class UserTestResultEdge:
    # Encoded when asked: a page has 100 edges, and its selection may not name their cursors.
    cursor: str = strawberry.field(
        resolver=_edge_cursor, description="Opaque cursor; pass it as `after` or `before`."
    )
    node: UserTestResult = strawberry.field(description="The result.")


# What graphql-core calls for the edge's cursor (installed by resolvers.direct); stable
# (app.execution.stable): made from the edge's own result.
EDGE_DIRECT_RESOLVERS: dict[str, Callable[..., Any]] = {
    "cursor": stable(lambda source, _info: _edge_cursor(source)),
}


@strawberry.type(description="A page of a user test's results (Relay cursor connection).")
class UserTestResultConnection:
    edges: list[UserTestResultEdge] = strawberry.field(description="The results of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page sits.")
    _user_test_id: strawberry.Private[int]

    @strawberry.field(
        description="How many results the user test has in all. Costs a query: select it only "
        "when needed."
    )
    async def total_count(self, info: strawberry.Info[Context, None]) -> int:
        count: int = await info.context.loaders.result_count_by_user_test_id.load(
            self._user_test_id
        )
        return count


@strawberry.type(description="A user test: a study that participants take, producing results.")
class UserTest(Node):
    uuid: str = strawberry.field(description="Public UUID of the user test (`ut_...`).")
    name: str = strawberry.field(description="Name of the user test.")
    created_at: datetime = strawberry.field(description="When the user test was created.")
    _id: strawberry.Private[int]

    @classmethod
    def from_record(cls, record: UserTestRecord) -> UserTest:
        return cls(
            id=strawberry.ID(to_global_id("UserTest", record.uuid)),
            uuid=record.uuid,
            name=record.name,
            created_at=record.created_at,
            _id=record.id,
        )

    @strawberry.field(
        description="The user test's results, oldest first (ascending `pk`), as a Relay "
        "connection. Page with `first`/`after` or `last`/`before`; page size is 1 to 100 "
        "(default 20)."
    )
    async def results(
        self,
        info: strawberry.Info[Context, None],
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> UserTestResultConnection:
        # Only graphql-core's resolver (below) hands out kept pages: a kept page is its
        # completed form, which only the executor knows.
        page = await self.results_page(
            info, first=first, after=after, last=last, before=before, keeps=False
        )
        return cast("UserTestResultConnection", page)

    async def results_page(
        self,
        info: AnyInfo,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        *,
        keeps: bool = True,
    ) -> UserTestResultConnection | Kept:
        """The page; ``Kept`` when kept whole across requests (resolvers.page_answers), for the
        executor to hand out its completed form (``keeps``: whether to)."""
        context: Context = info.context
        settings = context.settings
        request, size = page_request(
            user_test_id=self._id,
            first=first,
            after=after,
            last=last,
            before=before,
            default_size=settings.default_page_size,
            max_size=settings.max_page_size,
        )
        records = await context.loaders.result_page.load(request)
        window = context.minter.window_start()  # before any of the page's URLs is minted
        selections = page_recordings_selection(info)
        key = page_answer_key(info, request, records) if keeps else None
        if key is not None:
            kept = await kept_page(info, key)
            if kept is not None:
                return kept
        read = len(records)
        has_more = read > size
        if has_more:
            records = records[1:] if request.backward else records[:size]
        ahead: dict[int, dict[str, BuiltRecording]] = {}
        log = UrlLog()
        if selections and records:
            ahead = await TestSessionRecording.build_page(
                context, [r.id for r in records], selections, log
            )
        result = UserTestResult.from_record
        edges = PacedList(
            [built(UserTestResultEdge, {"node": result(r, ahead.get(r.id))}) for r in records],
            context.pacer,
        )
        page_info = PageInfo(
            has_next_page=has_more if not request.backward else request.before is not None,
            has_previous_page=has_more if request.backward else request.after is not None,
            start_cursor=encode_cursor(records[0].id) if records else None,
            end_cursor=encode_cursor(records[-1].id) if records else None,
        )
        if ahead:
            # graphql-core completes the whole page from here without awaiting: start it on a
            # fresh loop iteration, and let the edges spread it over several (app.pacing).
            await context.pacer.pause()
        connection = UserTestResultConnection(
            edges=edges, page_info=page_info, _user_test_id=self._id
        )
        if key is None:
            return connection
        return keep_page(info, key, connection, log, selections, read, window)


async def _results(
    source: UserTest,
    info: Any,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> UserTestResultConnection | Kept:
    return await source.results_page(info, first=first, after=after, last=last, before=before)


# What graphql-core calls for the results (installed by resolvers.direct): the page itself, or
# a Kept one, whose form the executor hands out (resolvers.page_answers).
USER_TEST_DIRECT_RESOLVERS: dict[str, Callable[..., Any]] = {"results": _results}

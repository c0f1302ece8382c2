"""The one typed context of a request, and the process-wide services it is built from."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.requests import HTTPConnection

from app.answers import AnswerCache
from app.auth import Authenticator, Viewer, bearer_token
from app.errors import Forbidden, LimitExceeded, Unauthenticated
from app.events import Broker
from app.limits import RateLimiter
from app.media.cleanup import StorageCleaner
from app.media.signer import UrlMinter
from app.pacing import Pacer
from app.settings import Settings
from app.store.facade import Connect, Store
from app.store.tree_cache import TreeCache
from app.turns import Turn
from loaders.container import Loaders

if TYPE_CHECKING:
    from app.live import LiveConnection


@dataclass(frozen=True, slots=True)
class Services:
    """Built once per process, in the lifespan."""

    settings: Settings
    connect: Connect
    # A committed write transaction (``engine.begin`` in production).
    begin: Connect
    authenticator: Authenticator
    rate_limiter: RateLimiter
    minter: UrlMinter
    broker: Broker
    # Removes the storage objects of deleted rows (after commit, and retried in the background).
    storage: StorageCleaner
    # Spreads a page's many sibling steps over loop iterations (app.pacing); one per process.
    pacer: Pacer = field(default_factory=Pacer)
    # Results' recordings and media, kept between requests (app.store.tree_cache).
    trees: TreeCache = field(default_factory=lambda: TreeCache(0))
    # Answers built once for later requests (app.answers): recordings' attached media.
    answers: AnswerCache = field(default_factory=lambda: AnswerCache(0))
    # Results pages kept whole (resolvers.page_answers), weighed by their results.
    pages: AnswerCache = field(default_factory=lambda: AnswerCache(0))


@dataclass(slots=True)
class Context:
    request: HTTPConnection
    settings: Settings
    store: Store
    minter: UrlMinter
    broker: Broker
    storage: StorageCleaner
    viewer_or_none: Viewer | None
    request_id: str
    _loaders: Loaders | None = field(default=None)
    # The distinct URLs this request has asked for (app.context.Context.count_url).
    _urls: set[Hashable] = field(default_factory=set)
    # URLs minted outside a results page's batch (resolvers.signed_url: a single recording's,
    # one field's): a page completed meanwhile keeps no template of its URLs, since some of
    # them may be these (resolvers.page_answers).
    urls_minted_apart: int = 0
    # Per-request memo of how a selection reads (resolvers.recording_selection), by its field nodes.
    plans: dict[tuple[object, ...], object] = field(default_factory=dict)
    # The process's pacer (Services.pacer); contexts built elsewhere get their own.
    pacer: Pacer = field(default_factory=Pacer)
    # The websocket this operation runs on (app.live); None for an HTTP request.
    socket: LiveConnection | None = None
    # The process's answers and pages (Services); contexts built elsewhere keep none.
    answers: AnswerCache = field(default_factory=lambda: AnswerCache(0))
    pages: AnswerCache = field(default_factory=lambda: AnswerCache(0))
    # The request's turn at this process's Python (app.turns, given by app.limits.OperationGate),
    # handed on when signing processes are to work for it; None outside the gate (websockets,
    # tests, a limit of 0).
    turn: Turn | None = None

    @property
    def viewer(self) -> Viewer:
        if self.viewer_or_none is None:
            raise Unauthenticated(
                "A valid API key is required: send `Authorization: Bearer <key>`."
            )
        return self.viewer_or_none

    def allows(self, scope: str) -> bool:
        """Whether there is a key and it holds ``scope`` (``require`` says why not)."""
        viewer = self.viewer_or_none
        return viewer is not None and scope in viewer.scopes

    def require(self, scope: str) -> None:
        """FORBIDDEN unless the key holds ``scope`` (UNAUTHENTICATED without a key)."""
        if scope not in self.viewer.scopes:
            raise Forbidden(f"This API key lacks the `{scope}` scope.", scope=scope)

    def count_url(self, url: Hashable) -> None:
        """URL_LIMIT_EXCEEDED past the per-request ceiling on distinct URLs: ``url`` names one
        (an object and the options it is signed with), so the same URL asked again, through an
        alias, a fragment or another field answering it, is not counted again (it is signed
        once)."""
        if url in self._urls:
            return
        limit = self.settings.max_urls_per_request
        if len(self._urls) >= limit:
            raise LimitExceeded(
                f"This request asks for more than {limit} media URLs; page with a smaller "
                "`first` or select fewer URL fields.",
                code="URL_LIMIT_EXCEEDED",
                limit=limit,
            )
        self._urls.add(url)

    def has_room(self, urls: int) -> bool:
        """Whether ``urls`` more URLs fit under the per-request ceiling, even all distinct."""
        return len(self._urls) + urls <= self.settings.max_urls_per_request

    def count_urls(self, urls: Iterable[Hashable]) -> None:
        """``count_url`` for URLs that ``has_room`` said fit: none can pass the ceiling."""
        self._urls.update(urls)

    @property
    def loaders(self) -> Loaders:
        if self._loaders is None:
            self._loaders = Loaders.build(
                store=self.store,
                workspace_id=self.viewer.workspace_id,
                minter=self.minter,
                turn=self.turn,
            )
        return self._loaders

    def forget_loaded(self) -> None:
        """After a write: loaders built earlier in this request may hold what it changed."""
        self._loaders = None

    async def close(self) -> None:
        await self.store.close()
        # The request's state holds this context (app.graphql_view) and the context holds the
        # request: a cycle. Dropping what the operation loaded lets reference counting free it
        # now, rather than the cycle collector later, in one long pause (BENCHMARKS.md).
        self._loaders = None
        self.plans.clear()
        # An executor that ended without a complete response (a timeout, a fault, incremental
        # delivery) is still a reference cycle (app.execution) and holds this context: what
        # the context keeps would wait for a collection. The URL set is a page's largest.
        self._urls.clear()

    async def release(self) -> None:
        """Between two events of a subscription: the store's connection goes back to the pool,
        and the next event starts with fresh loaders (no stale cached rows) and URL budget."""
        await self.store.release()
        self._loaders = None
        self._urls = set()
        self.plans.clear()


async def build_context(services: Services, request: HTTPConnection) -> Context:
    store = Store(
        services.connect, services.begin, pause=services.pacer.pause, trees=services.trees
    )
    token = bearer_token(request.headers.get("authorization"))
    state = request.scope.get("state", {})
    viewer = await services.authenticator.authenticate(store, token)
    return Context(
        request=request,
        settings=services.settings,
        store=store,
        minter=services.minter,
        broker=services.broker,
        storage=services.storage,
        pacer=services.pacer,
        answers=services.answers,
        pages=services.pages,
        viewer_or_none=viewer,
        request_id=state.get("request_id", ""),
        turn=state.get("turn"),
    )

"""The one typed context of a request, and the process-wide services it is built from."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import HTTPConnection

from app.auth import Authenticator, Viewer, bearer_token
from app.errors import Forbidden, LimitExceeded, Unauthenticated
from app.events import Broker
from app.limits import RateLimiter
from app.media.signer import UrlMinter
from app.settings import Settings
from app.store.facade import Connect, Store
from loaders.container import Loaders


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


@dataclass(slots=True)
class Context:
    request: HTTPConnection
    settings: Settings
    store: Store
    minter: UrlMinter
    broker: Broker
    viewer_or_none: Viewer | None
    request_id: str
    _loaders: Loaders | None = field(default=None)
    _urls: int = 0

    @property
    def viewer(self) -> Viewer:
        if self.viewer_or_none is None:
            raise Unauthenticated(
                "A valid API key is required: send `Authorization: Bearer <key>`."
            )
        return self.viewer_or_none

    def require(self, scope: str) -> None:
        """FORBIDDEN unless the key holds ``scope`` (UNAUTHENTICATED without a key)."""
        if scope not in self.viewer.scopes:
            raise Forbidden(f"This API key lacks the `{scope}` scope.", scope=scope)

    def count_url(self) -> None:
        """URL_LIMIT_EXCEEDED past the per-request ceiling on minted URLs."""
        self._urls += 1
        limit = self.settings.max_urls_per_request
        if self._urls > limit:
            raise LimitExceeded(
                f"This request asks for more than {limit} media URLs; page with a smaller "
                "`first` or select fewer URL fields.",
                code="URL_LIMIT_EXCEEDED",
                limit=limit,
            )

    @property
    def loaders(self) -> Loaders:
        if self._loaders is None:
            self._loaders = Loaders.build(
                store=self.store, workspace_id=self.viewer.workspace_id, minter=self.minter
            )
        return self._loaders

    async def close(self) -> None:
        await self.store.close()


async def build_context(services: Services, request: HTTPConnection) -> Context:
    store = Store(services.connect, services.begin)
    token = bearer_token(request.headers.get("authorization"))
    viewer = await services.authenticator.authenticate(store, token)
    return Context(
        request=request,
        settings=services.settings,
        store=store,
        minter=services.minter,
        broker=services.broker,
        viewer_or_none=viewer,
        request_id=request.scope.get("state", {}).get("request_id", ""),
    )

from __future__ import annotations

import strawberry

from resolvers.mutations.lifecycle import LifecycleMutations
from resolvers.mutations.media import MediaMutations
from resolvers.mutations.recordings import RecordingMutations
from resolvers.mutations.results import ResultMutations


@strawberry.type(
    description="Writes to the workspace of the API key; every mutation needs the `write` "
    "scope and is one transaction. The objects a payload shows are reads: they need "
    "`results:read` too, and without it are null with FORBIDDEN while the write, the ids and "
    "the flags of the payload stand. Pass an `idempotencyKey` to make retries safe. Ids that do "
    "not exist in this workspace (another workspace's included) are NOT_FOUND; malformed input "
    "is BAD_USER_INPUT. Over GET, mutations are refused with 405."
)
class Mutation(ResultMutations, RecordingMutations, LifecycleMutations, MediaMutations):
    pass

from __future__ import annotations

import strawberry


@strawberry.interface(
    description="An object with a globally unique, opaque ID, refetchable with `Query.node`."
)
class Node:
    id: strawberry.ID = strawberry.field(description="Globally unique, opaque identifier.")

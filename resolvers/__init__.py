"""The GraphQL layer: one module per GraphQL type. Only this layer imports strawberry."""

"""Mutations, one module per concept; ``resolvers.mutation.Mutation`` gathers them."""

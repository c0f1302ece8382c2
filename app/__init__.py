"""Footage: GraphQL API for user tests, their results and the recordings of their sessions."""

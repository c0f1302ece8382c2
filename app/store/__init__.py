"""The store: engine, models, migrations and the request-scoped facade. Only this package
imports SQLAlchemy."""

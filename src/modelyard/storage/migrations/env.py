"""Alembic environment: migrations run on the connection modelyard hands over."""

from alembic import context

from modelyard.storage.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - alembic CLI use is not supported
    raise RuntimeError("modelyard migrations run through modelyard.storage.upgrade()")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
context.run_migrations()

"""Alembic's environment: the migrations run on the connection ``migrations.upgrade`` hands
over, inside the transaction it is in (the caller commits, or rolls back the whole)."""

from alembic import context

context.configure(connection=context.config.attributes["connection"])
with context.begin_transaction():
    context.run_migrations()

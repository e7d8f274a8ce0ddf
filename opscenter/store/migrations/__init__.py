"""The store's schema migrations (Alembic), which ``db.open_store`` runs: a newer opscenter
upgrades an older store in place instead of losing its state.

At every change to the schema (opscenter/store/models.py):

1. first, with the code as it is, keep a store of the schema before the change:
   ``python tests/fixtures/make_store.py tests/fixtures/store-<current head>.db``;
2. change the models and add a migration in ``versions/`` (``NNNN_what.py``, its
   ``down_revision`` the current head) that brings a store of the old schema to the new
   one. SQLite changes a table by rebuilding it: use ``op.batch_alter_table`` (the
   upgrade runs with foreign keys off, so a rebuild deletes nothing by cascade);
3. the first migration after the baseline also sets ``meta``'s ``schema_version`` to 2:
   an opscenter from before migrations then refuses the store instead of misreading it.

tests/test_migrations.py fails until the models and the newest migration agree (its
message shows the operations that are missing), and upgrades every fixture with every row
kept. Configured here, without an alembic.ini.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

FOLDER = Path(__file__).parent


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(FOLDER))
    return config


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def head() -> str:
    """The newest revision this opscenter knows."""
    newest = _scripts().get_current_head()
    assert newest is not None
    return newest


def knows(revision: str) -> bool:
    """Whether ``revision`` is one of this opscenter's (not one of a newer opscenter's)."""
    return any(script.revision == revision for script in _scripts().walk_revisions())


def current(connection: Connection) -> str | None:
    """The revision a store is at; None: no revision yet (new, or made before migrations)."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(connection: Connection) -> None:
    """Bring the store to the newest revision, in the transaction ``connection`` is in."""
    config = _config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
